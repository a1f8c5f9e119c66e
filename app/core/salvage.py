"""Salvage a damaged chat database: copy every row that can still be read into a new one.

SQLite's own ``iterdump()`` stops at the first damaged page, and the ``sqlite3`` shell's
``.recover`` is not everywhere (Debian's 3.40 build fails it with "SQL logic error" even on a
healthy file), so the rows are read one by one: the ids that can be found (scanning the
table forwards and backwards, its index, and each id between where the scans stopped),
then each row by its id, skipping the ones on damaged pages. Rows SQLite cannot reach at
all (below a damaged inner page) are read from their intact leaf pages directly
(``app.core.sqlite_pages``). Rows that read back but make no sense (a role that is not a
role, stats that are not JSON) are skipped. Messages whose conversation row was lost get a
conversation named after their first question.

The damaged file is never written: it is read through a read-only connection, then renamed
(with its ``-wal`` and ``-shm``) to ``chats.damaged-<time>.sqlite3`` beside the new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from app.core.conversation import make_title
from app.core.db_faults import READ_ERRORS, SidesAsFound, read_only
from app.core.errors import AppError
from app.core.sqlite_pages import leaf_rows
from app.core.store import ChatStore, MessageState

log = logging.getLogger(__name__)

_CONVERSATION_COLUMNS = "id, title, model, system, created_at, updated_at, deleted_at"
_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, reasoning, state, model, stats, "
    "created_at, updated_at"
)
_INDEXES = {"conversations": "conversations_by_update", "messages": "messages_by_conversation"}
# Ids past the highest one found are tried too (a damaged last page hides its ids); and
# no more ids than this are tried one by one, however large the gaps.
_TAIL_PROBE = 512
_PROBE_LIMIT = 500_000
_STATES = set(get_args(MessageState))
_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class SalvageReport:
    """What came back, and where the damaged file was put."""

    conversations: int
    messages: int
    untitled: int  # conversations whose own row was lost: named after their first question
    unreadable: int  # messages whose id was found but whose row could not be read
    damaged_copy: Path

    def sentence(self) -> str:
        parts = [
            f"{_count(self.conversations, 'conversation')} and "
            f"{_count(self.messages, 'message')} came back"
        ]
        if self.untitled == 1:
            parts.append("1 conversation lost its title and is named after its first question")
        elif self.untitled:
            parts.append(
                f"{self.untitled} conversations lost their titles and are named after their "
                "first questions"
            )
        if self.unreadable:
            parts.append(f"{_count(self.unreadable, 'message')} could not be read")
        return f"{'; '.join(parts)}. The damaged file is kept as {self.damaged_copy}."


def salvage_database(path: Path) -> SalvageReport:
    """Replace the damaged database at ``path`` with a new one holding what can be read.

    Raises:
        AppError: the new database could not be written (the damaged one is left as it was).
    """
    damaged_copy = _free_name(path)
    fresh = path.with_name(f"{path.stem}.salvaging{path.suffix}")
    _remove(fresh)
    found_as = SidesAsFound(path)
    try:
        report = _copy(path, fresh)
        found_as.restore()
        for suffix in _FILE_SUFFIXES:  # its WAL too: beside the new file it would be replayed
            old = path.with_name(path.name + suffix)
            if old.exists():
                os.replace(old, damaged_copy.with_name(damaged_copy.name + suffix))
        os.replace(fresh, path)
    except (OSError, AppError, *READ_ERRORS) as exc:
        _remove(fresh)
        detail = exc.message if isinstance(exc, AppError) else str(exc)
        raise AppError(
            f"Ponder could not salvage the chat database ({detail}).",
            f"The damaged file is unchanged ({path.name}, or {damaged_copy.name} if it was "
            "already set aside). Free some disk space and start Ponder again.",
        ) from exc
    log.info("salvaged from %s: %s", damaged_copy, report)
    return SalvageReport(*report, damaged_copy=damaged_copy)


def _copy(damaged: Path, fresh: Path) -> tuple[int, int, int, int]:
    """Read what can be read from ``damaged`` into a new database at ``fresh``; returns
    the counts of a ``SalvageReport``."""
    conversations: dict[int, tuple[Any, ...]] = {}
    messages: dict[int, tuple[Any, ...]] = {}
    lost: set[tuple[str, int]] = set()  # ids found whose row did not read
    whole = True  # every row of both tables read through SQLite
    try:
        with read_only(damaged) as source:
            for table, columns, keep, into in (
                ("conversations", _CONVERSATION_COLUMNS, _valid_conversation, conversations),
                ("messages", _MESSAGE_COLUMNS, _valid_message, messages),
            ):
                ids, complete = _ids(source, table)
                whole = whole and complete
                for rid, row in _rows(source, table, columns, ids):
                    if row is not None and keep(row):
                        into[rid] = row
                    else:
                        lost.add((table, rid))
    except READ_ERRORS as exc:  # not even its first page reads
        log.warning("salvage: %s cannot be opened: %s", damaged, exc)
        whole = False
    if lost or not whole:
        # Rows SQLite could not reach (below a damaged inner page) may still lie intact
        # on their leaf pages.
        _add_from_pages(damaged, conversations, messages)
    unreadable = sum(1 for table, rid in lost if table == "messages" and rid not in messages)
    orphans = _orphans(messages, conversations)
    for cid, rows in orphans.items():
        conversations[cid] = _stand_in(cid, rows)
    store = ChatStore(fresh)  # the current schema, as a new Ponder makes it
    try:
        if store.unsaved is not None:  # a copy in memory would be lost
            raise store.unsaved
        with store.transaction() as db:
            db.executemany(
                f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                conversations.values(),
            )
            db.executemany(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                messages.values(),
            )
        store.db.execute("PRAGMA journal_mode=DELETE")  # one file to move into place
    finally:
        store.close()
    return len(conversations), len(messages), len(orphans), unreadable


def _free_name(path: Path) -> Path:
    """``chats.damaged-<time>.sqlite3`` beside ``path``, a name no file has yet."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        tag = stamp if n == 1 else f"{stamp}-{n}"
        name = path.with_name(f"{path.stem}.damaged-{tag}{path.suffix}")
        if not any(name.with_name(name.name + s).exists() for s in _FILE_SUFFIXES):
            return name
    raise AppError(f"Too many damaged copies of {path.name} in {path.parent}.", "Remove some.")


def _add_from_pages(
    damaged: Path,
    conversations: dict[int, tuple[Any, ...]],
    messages: dict[int, tuple[Any, ...]],
) -> None:
    """Rows from the file's leaf pages that SQLite did not give: a conversation row has 7
    columns and a message row 11 (the id is the row id, stored as NULL), and they must
    make sense as such."""
    try:
        found = list(leaf_rows(damaged))
    except OSError as exc:
        log.warning("salvage: %s cannot be read: %s", damaged, exc)
        return
    added = 0
    for rowid, values in found:
        if not values or values[0] is not None:
            continue
        row = (rowid, *values[1:])
        if len(row) == 7 and rowid not in conversations and _valid_conversation(row):
            conversations[rowid] = row
            added += 1
        elif len(row) == 11 and rowid not in messages and _valid_message(row):
            messages[rowid] = row
            added += 1
    log.info("salvage: %d rows read from leaf pages SQLite could not reach", added)


def _rows(
    db: sqlite3.Connection, table: str, columns: str, ids: set[int]
) -> Iterator[tuple[int, Any]]:
    """Each id in ``ids`` with its row, or None where the row cannot be read."""
    for rid in sorted(ids):
        try:
            row = db.execute(f"SELECT {columns} FROM {table} WHERE id = ?", (rid,)).fetchone()
        except READ_ERRORS as exc:
            log.info("salvage: %s %d unreadable: %s", table, rid, exc)
            yield rid, None
            continue
        if row is not None:
            yield rid, row


def _ids(db: sqlite3.Connection, table: str) -> tuple[set[int], bool]:
    """The ids that can be found in ``table``, and whether a plain scan read them all."""
    found: set[int] = set()
    if _scan(db, f"SELECT id FROM {table} ORDER BY id", found):
        return found, True
    forward_end = max(found, default=0)
    _scan(db, f"SELECT id FROM {table} INDEXED BY {_INDEXES[table]}", found)
    backward: set[int] = set()
    _scan(db, f"SELECT id FROM {table} ORDER BY id DESC", backward)
    found |= backward
    # Between where the forward scan stopped and where the backward one did, every id is
    # tried on its own: a lookup by id reaches good pages beyond a damaged one.
    end = min(backward) if backward else max(found, default=0) + _TAIL_PROBE
    for rid in range(forward_end + 1, min(end, forward_end + 1 + _PROBE_LIMIT, 1 << 63)):
        if rid not in found:
            with contextlib.suppress(*READ_ERRORS):
                if db.execute(f"SELECT id FROM {table} WHERE id = ?", (rid,)).fetchone():
                    found.add(rid)
    return found, False


def _scan(db: sqlite3.Connection, sql: str, into: set[int]) -> bool:
    """Add the ids ``sql`` yields until it fails; True when it reached the end."""
    try:
        for (rid,) in db.execute(sql):
            if _is_int(rid):  # a damaged schema can make "id" something else
                into.add(rid)
    except READ_ERRORS as exc:
        log.info("salvage: %s stopped: %s", sql, exc)
        return False
    return True


def _valid_conversation(row: tuple[Any, ...]) -> bool:
    rid, title, model, system, created, updated, deleted = row
    return (
        _is_int(rid)
        and all(isinstance(v, str) for v in (title, model, system))
        and all(_is_time(v) for v in (created, updated))
        and (deleted is None or _is_time(deleted))
    )


def _valid_message(row: tuple[Any, ...]) -> bool:
    rid, cid, position, role, content, reasoning, state, model, stats, created, updated = row
    return (
        all(_is_int(v) for v in (rid, cid, position))
        and role in ("system", "user", "assistant")
        and all(isinstance(v, str) for v in (content, reasoning, model))
        and state in _STATES
        and (stats is None or _is_json(stats))
        and _is_time(created)
        and _is_time(updated)
    )


def _orphans(
    messages: dict[int, tuple[Any, ...]], conversations: dict[int, tuple[Any, ...]]
) -> dict[int, list[tuple[Any, ...]]]:
    """Messages whose conversation row was lost, by conversation id."""
    lost: dict[int, list[tuple[Any, ...]]] = {}
    for row in messages.values():
        if row[1] not in conversations:
            lost.setdefault(row[1], []).append(row)
    return lost


def _stand_in(cid: int, rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """A conversation row for messages that lost theirs: titled by its first question."""
    rows.sort(key=lambda r: r[2])
    question = next((r[4] for r in rows if r[3] == "user"), "")
    title = make_title(question) or "Salvaged chat"
    model = next((r[7] for r in rows if r[7]), "")
    return (cid, title, model, "", min(r[9] for r in rows), max(r[10] for r in rows), None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _is_json(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _remove(path: Path) -> None:
    for suffix in _FILE_SUFFIXES:
        with contextlib.suppress(OSError):  # a read-only folder: says so when written to
            path.with_name(path.name + suffix).unlink(missing_ok=True)
