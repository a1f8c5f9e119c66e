"""Conversations in SQLite: saved as they happen, recovered after a crash.

WAL mode with ``synchronous=NORMAL``: each committed write survives the app or the engine
being killed. A user message is saved when it is sent; a streaming reply is saved when it
starts and checkpointed while it streams, so after a crash it reappears, marked
interrupted, with what had been saved. The schema has a version (``PRAGMA user_version``)
and forward migrations.

Every read and write turns SQLite's faults into the user's words (``app.core.db_faults``):
a damaged file, another program holding it, a file that cannot be written. A file that can
be read but not written still opens, as a copy in memory, so that nothing the user writes in
this session disappears from the screen; ``ChatStore.unsaved`` then says why it is not saved.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from app.core import db_faults
from app.core.conversation import Role
from app.core.errors import AppError, SaveError
from app.core.reply_stats import ReplyStats
from app.core.store_schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

MessageState = Literal["complete", "streaming", "interrupted", "stopped", "error"]


@dataclass(frozen=True)
class ConversationRow:
    id: int
    title: str
    model: str
    system: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ReplyVersion:
    """Another version of a reply (an earlier or a later answer to the same question)."""

    ordinal: int  # its place among all the versions, from 0
    content: str
    reasoning: str
    state: MessageState
    model: str
    stats: dict[str, Any] | None
    created_at: float


@dataclass(frozen=True)
class MessageRow:
    id: int
    conversation_id: int
    position: int
    role: Role
    content: str
    reasoning: str
    state: MessageState
    model: str
    stats: dict[str, Any] | None  # as saved (JSON); read it through ``reply_stats``
    created_at: float
    others: tuple[ReplyVersion, ...] = ()  # the reply's other versions, by ordinal

    @functools.cached_property
    def reply_stats(self) -> ReplyStats:
        """``stats`` typed, read once per row."""
        return ReplyStats.from_json(self.stats)

    @property
    def version_count(self) -> int:
        return len(self.others) + 1

    @property
    def version(self) -> int:
        """The shown version's place among ``version_count`` (from 0)."""
        taken = {v.ordinal for v in self.others}
        return next(i for i in range(self.version_count) if i not in taken)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    *, writing: bool
) -> Callable[[Callable[Concatenate[ChatStore, _P], _R]], Callable[Concatenate[ChatStore, _P], _R]]:
    """SQLite's faults in the user's words: a damaged file (the same sentence as at start),
    another program holding it, or, for a write, a ``SaveError`` with the reason (the disk
    is full, the folder became read-only); never a bare ``sqlite3`` error."""

    def decorate(
        method: Callable[Concatenate[ChatStore, _P], _R],
    ) -> Callable[Concatenate[ChatStore, _P], _R]:
        @functools.wraps(method)
        def wrapper(store: ChatStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            if writing and store.damaged:  # writing into damaged pages spreads the damage
                raise db_faults.damaged(store.path, db_faults.SALVAGE_LATER_HINT)
            try:
                return method(store, *args, **kwargs)
            except db_faults.READ_ERRORS as exc:
                log.warning("chat database %s: %s", method.__name__, exc)
                store.damaged = store.damaged or db_faults.is_damage(exc)
                raise db_faults.fault(store.path, exc, writing=writing) from exc

        return wrapper

    return decorate


_writes = _guarded(writing=True)
_reads = _guarded(writing=False)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
            self.db.execute("ROLLBACK")


class ChatStore:
    """One SQLite file of conversations. Use from one thread (the GUI thread).

    Attributes:
        unsaved: why nothing is saved, when the file can be read but not written (a
            read-only file, folder or file system); the chats are then a copy in memory
            for this session. None when the file is written as usual.
        damaged: a read found damaged pages; from then on every write is refused (with
            the damaged-file sentence), so that the file is salvaged as it was found.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unsaved: SaveError | None = None
        self.damaged = False
        with contextlib.suppress(OSError):  # a read-only parent: the open says so below
            path.parent.mkdir(parents=True, exist_ok=True)
        found_as = db_faults.SidesAsFound(path)
        try:
            if path.is_file() and path.stat().st_size:
                db_faults.check_damage(path, found_as)  # read-only: a damaged file stays as it is
            self.db = self._open(found_as)
        except db_faults.READ_ERRORS as exc:
            log.warning("chat database %s cannot be opened: %s", path, exc)
            raise db_faults.open_error(path, exc) from exc

    def _open(self, found_as: db_faults.SidesAsFound) -> sqlite3.Connection:
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
                db_faults.check_writable(self.db)
            except BaseException:
                self.db.close()
                raise
            return self.db
        except sqlite3.Error as exc:
            if not db_faults.is_read_only(exc):
                raise
            log.warning("chat database %s is read-only (%s): kept in memory", self.path, exc)
        self.unsaved = db_faults.not_saved(self.path, db_faults.read_only_reason(self.path))
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        if self.path.is_file():
            with db_faults.read_only(self.path) as source:
                source.backup(self.db)
        found_as.restore()  # no -wal or -shm left beside a file Ponder does not write
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        return self.db

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise AppError(
                f"The chat database was written by a newer Ponder (schema {version}).",
                "Update Ponder to open it.",
            )
        for n in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[n](self.db)
                self.db.execute(f"PRAGMA user_version = {n + 1}")

    def transaction(self) -> _Tx:
        """``with store.transaction():`` commits the block, or rolls it back on error."""
        return _Tx(self.db)

    def close(self) -> None:
        self.db.close()

    # -- conversations -----------------------------------------------------------------

    @_writes
    def create_conversation(self, title: str = "", model: str = "", system: str = "") -> int:
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO conversations (title, model, system, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (title, model, system, now, now),
        )
        return int(cur.lastrowid or 0)

    @_reads
    def conversations(self, query: str = "") -> list[ConversationRow]:
        """Newest first; ``query`` matches titles and message text (case-insensitive)."""
        sql = (
            "SELECT id, title, model, system, created_at, updated_at FROM conversations c "
            "WHERE deleted_at IS NULL"
        )
        args: tuple[Any, ...] = ()
        if query:
            like = f"%{_escape_like(query)}%"
            sql += (
                " AND (title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE "
                "m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\'))"
            )
            args = (like, like)
        rows = self.db.execute(sql + " ORDER BY updated_at DESC, id DESC", args).fetchall()
        return [ConversationRow(*r) for r in rows]

    @_reads
    def conversation(self, cid: int) -> ConversationRow | None:
        row = self.db.execute(
            "SELECT id, title, model, system, created_at, updated_at "
            "FROM conversations WHERE id = ?",
            (cid,),
        ).fetchone()
        return ConversationRow(*row) if row else None

    @_writes
    def rename(self, cid: int, title: str) -> None:
        self.db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))

    @_writes
    def delete(self, cid: int) -> None:
        """Hide a conversation (``undelete`` brings it back until ``purge_deleted``)."""
        self.db.execute("UPDATE conversations SET deleted_at = ? WHERE id = ?", (time.time(), cid))

    @_writes
    def undelete(self, cid: int) -> None:
        self.db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (cid,))

    @_writes
    def purge_deleted(self) -> None:
        self.db.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")

    # -- messages ----------------------------------------------------------------------

    @_writes
    def add_message(
        self,
        cid: int,
        role: Role,
        content: str,
        *,
        reasoning: str = "",
        state: MessageState = "complete",
        model: str = "",
        replace_after: int | None = None,
        keep_versions: bool = False,
    ) -> int:
        """Append a message; with ``replace_after``, the messages after that position are
        removed first, in the same transaction (edit-and-resend, regenerate). With
        ``keep_versions`` (regenerate) the reply right after ``replace_after`` and its
        other versions become the new message's earlier versions."""
        now = time.time()
        with self.transaction():
            earlier: list[tuple[Any, ...]] = []
            if replace_after is not None:
                if keep_versions:
                    earlier = self._versions_after(cid, replace_after)
                self.db.execute(
                    "DELETE FROM messages WHERE conversation_id = ? AND position > ?",
                    (cid, replace_after),
                )
            pos = self.db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?",
                (cid,),
            ).fetchone()[0]
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, position, role, content, reasoning, "
                "state, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (cid, pos, role, content, reasoning, state, model, now, now),
            )
            mid = int(cur.lastrowid or 0)
            self.db.executemany(
                f"INSERT INTO reply_versions (message_id, {_VERSION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(mid, i, *v[1:]) for i, v in enumerate(earlier)],
            )
            self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, cid))
        return mid

    def _versions_after(self, cid: int, position: int) -> list[tuple[Any, ...]]:
        """The assistant reply right after ``position``, every version of it, in order (as
        rows of ``_VERSION_COLUMNS``); none when no reply follows."""
        row = self.db.execute(
            f"SELECT id, {_SHOWN_COLUMNS} FROM messages WHERE conversation_id = ? "
            "AND position = ? AND role = 'assistant'",
            (cid, position + 1),
        ).fetchone()
        if row is None:
            return []
        others = self.db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM reply_versions WHERE message_id = ? ORDER BY ordinal",
            (row[0],),
        ).fetchall()
        shown = _message_row((row[0], cid, position + 1, "assistant", *row[1:]), others).version
        return sorted([*others, (shown, *row[1:])])

    @_writes
    def show_version(self, mid: int, ordinal: int) -> None:
        """Show version ``ordinal`` of reply ``mid`` (it becomes the one the conversation
        carries on with); the one shown until now joins the other versions."""
        with self.transaction():
            chosen = self.db.execute(
                f"SELECT {_VERSION_COLUMNS} FROM reply_versions "
                "WHERE message_id = ? AND ordinal = ?",
                (mid, ordinal),
            ).fetchone()
            row = self.message(mid)
            if chosen is None or row is None:
                return  # already shown, or gone
            self.db.execute(
                "DELETE FROM reply_versions WHERE message_id = ? AND ordinal = ?", (mid, ordinal)
            )
            self.db.execute(
                f"INSERT INTO reply_versions (message_id, {_VERSION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (mid, row.version, row.content, row.reasoning, row.state, row.model,
                 json.dumps(row.stats) if row.stats else None, row.created_at),
            )  # fmt: skip
            self.db.execute(
                "UPDATE messages SET content = ?, reasoning = ?, state = ?, model = ?, "
                "stats = ?, created_at = ?, updated_at = ? WHERE id = ?",
                (*chosen[1:], time.time(), mid),
            )

    @_writes
    def checkpoint(self, mid: int, content: str, reasoning: str) -> None:
        """Save a streaming reply's text so far."""
        self.db.execute(
            "UPDATE messages SET content = ?, reasoning = ?, updated_at = ? WHERE id = ?",
            (content, reasoning, time.time(), mid),
        )

    @_writes
    def finish_message(
        self,
        mid: int,
        content: str,
        reasoning: str,
        state: MessageState,
        stats: dict[str, Any] | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE messages SET content = ?, reasoning = ?, state = ?, stats = ?, "
            "updated_at = ? WHERE id = ?",
            (content, reasoning, state, json.dumps(stats) if stats else None, time.time(), mid),
        )

    @_reads
    def messages(self, cid: int) -> list[MessageRow]:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
            (cid,),
        ).fetchall()
        versions: dict[int, list[tuple[Any, ...]]] = {}
        for v in self.db.execute(
            f"SELECT message_id, {_VERSION_COLUMNS} FROM reply_versions WHERE message_id IN "
            "(SELECT id FROM messages WHERE conversation_id = ?) ORDER BY message_id, ordinal",
            (cid,),
        ):
            versions.setdefault(v[0], []).append(v[1:])
        return [_message_row(r, versions.get(r[0], ())) for r in rows]

    @_reads
    def message(self, mid: int) -> MessageRow | None:
        row = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (mid,)
        ).fetchone()
        if row is None:
            return None
        others = self.db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM reply_versions WHERE message_id = ? ORDER BY ordinal",
            (mid,),
        ).fetchall()
        return _message_row(row, others)

    @_writes
    def recover_interrupted(self) -> int:
        """At start-up: replies still marked streaming were cut off by a crash."""
        cur = self.db.execute("UPDATE messages SET state = 'interrupted' WHERE state = 'streaming'")
        return cur.rowcount


_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, reasoning, state, model, stats, created_at"
)
_SHOWN_COLUMNS = "content, reasoning, state, model, stats, created_at"  # what a version has
_VERSION_COLUMNS = f"ordinal, {_SHOWN_COLUMNS}"


def _message_row(r: tuple[Any, ...], others: Any = ()) -> MessageRow:
    return MessageRow(
        id=r[0],
        conversation_id=r[1],
        position=r[2],
        role=r[3],
        content=r[4],
        reasoning=r[5],
        state=r[6],
        model=r[7],
        stats=json.loads(r[8]) if r[8] else None,
        created_at=r[9],
        others=tuple(
            ReplyVersion(v[0], v[1], v[2], v[3], v[4], json.loads(v[5]) if v[5] else None, v[6])
            for v in others
        ),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
