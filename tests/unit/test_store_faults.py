"""The chat database's faults, each with real files: pages really overwritten, a lock really
held by another process, a file the kernel really refuses to write."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import psutil
import pytest

from app.core.errors import AppError, DatabaseDamagedError, DatabaseLockedError, SaveError
from app.core.salvage import salvage_database
from app.core.store import SCHEMA_VERSION, ChatStore
from tests.db_faults import (
    damage,
    later_pages,
    lock_held,
    make_chats,
    read_only_file,
    read_only_folder,
    release,
    root_page,
    sha256,
)


def test_a_database_damaged_after_its_first_page_is_refused_at_open_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.sqlite3"
    make_chats(path)
    damage(path, later_pages(path))
    before = sha256(path)
    with pytest.raises(DatabaseDamagedError) as err:
        ChatStore(path)
    assert err.value.message == f"The chat database {path} is damaged."
    assert "salvage" in err.value.hint
    assert "Move the file aside" not in str(err.value)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chats.sqlite3"]  # no -wal, -shm


def test_a_file_that_is_no_database_gets_the_same_sentence(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    path.write_bytes(b"this is not sqlite" * 300)
    with pytest.raises(DatabaseDamagedError) as err:
        ChatStore(path)
    assert err.value.message == f"The chat database {path} is damaged."


def test_every_read_turns_damage_into_the_same_sentence(tmp_path: Path) -> None:
    """The pages go bad while the app runs: each read (not only the open) says the file is
    damaged, and a write is a SaveError with the same words (the chat keeps what it shows)."""
    path = tmp_path / "chats.sqlite3"
    original = make_chats(path)
    store = ChatStore(path)
    try:
        damage(path, later_pages(path, count=12))
        store.db.execute("PRAGMA shrink_memory")  # no page left in SQLite's cache
        damaged = f"The chat database {path} is damaged."
        failures: list[DatabaseDamagedError] = []
        for cid in original.chats:
            try:
                store.messages(cid)
                store.conversation(cid)
            except DatabaseDamagedError as exc:
                failures.append(exc)
        for read in (lambda: store.conversations("Answer"), lambda: store.message(10_000)):
            try:
                read()
            except DatabaseDamagedError as exc:
                failures.append(exc)
        assert failures, "the damaged pages were never read"
        assert {f.message for f in failures} == {damaged}
        assert all("salvage" in f.hint for f in failures)
        with pytest.raises(SaveError) as err:  # and nothing more is written into it
            store.add_message(next(iter(original.chats)), "user", "one more")
        assert err.value.message == damaged
    finally:
        store.close()


def test_salvage_copies_what_can_be_read_and_keeps_the_damaged_file_beside_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.sqlite3"
    original = make_chats(path)
    damage(path, later_pages(path))
    damaged_bytes = sha256(path)

    report = salvage_database(path)

    assert report.damaged_copy.parent == tmp_path
    assert report.damaged_copy.name.startswith("chats.damaged-")
    assert sha256(report.damaged_copy) == damaged_bytes  # untouched, only renamed
    store = ChatStore(path)  # a normal Ponder database, that the app opens
    try:
        version = store.db.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        convs = store.conversations()
        back = [(c.id, m) for c in convs for m in store.messages(c.id)]
    finally:
        store.close()
    assert (report.conversations, report.messages) == (len(convs), len(back))
    assert 0 < report.messages < original.message_count  # some were on the damaged pages
    assert report.unreadable == original.message_count - report.messages
    for cid, message in back:  # every message that came back is exactly what was saved
        _title, rows = original.chats[cid]
        assert (message.role, message.content) == rows[message.position]
    assert report.sentence() == (
        f"{report.conversations} conversations and {report.messages} messages came back; "
        f"{report.unreadable} messages could not be read. "
        f"The damaged file is kept as {report.damaged_copy}."
    )


def test_salvage_reaches_messages_below_a_damaged_inner_page(tmp_path: Path) -> None:
    """SQLite cannot reach any message when the messages table's top page is damaged; the
    leaf pages below it are intact, and salvage reads them directly."""
    path = tmp_path / "chats.sqlite3"
    original = make_chats(path)
    damage(path, [root_page(path, "messages"), root_page(path, "conversations")])

    report = salvage_database(path)

    assert (report.conversations, report.messages, report.unreadable) == (
        len(original.chats),
        original.message_count,
        0,
    )
    assert report.untitled == len(original.chats)  # the conversations' own rows were lost
    store = ChatStore(path)
    try:
        for conv in store.conversations():
            _title, rows = original.chats[conv.id]
            assert conv.title == rows[0][1]  # named after its first question
            assert [(m.role, m.content) for m in store.messages(conv.id)] == rows
    finally:
        store.close()


def test_salvage_of_a_file_that_is_no_database_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    path.write_bytes(b"this is not sqlite" * 300)
    report = salvage_database(path)
    assert (report.conversations, report.messages) == (0, 0)
    assert report.damaged_copy.read_bytes() == b"this is not sqlite" * 300
    ChatStore(path).close()


def test_a_database_locked_by_another_process_names_it_and_is_not_called_damaged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.sqlite3"
    make_chats(path, conversations=2)
    with lock_held(path) as holder:
        with pytest.raises(DatabaseLockedError) as err:
            ChatStore(path)
        assert err.value.message == (
            f"The chat database {path} is in use by another program "
            f"({psutil.Process(holder.pid).name()}, process {holder.pid})."
        )
        assert "retry" in err.value.hint and "damaged" not in str(err.value)
        release(holder)
        store = ChatStore(path)  # the file was fine all along
    assert len(store.conversations()) == 2
    store.close()


def test_a_read_only_file_opens_in_memory_and_says_nothing_is_saved(tmp_path: Path) -> None:
    source = tmp_path / "source.sqlite3"
    original = make_chats(source, conversations=3)
    before = sha256(source)
    with read_only_file(source, tmp_path / "home" / "chats.sqlite3") as path:
        with pytest.raises(OSError):
            path.write_bytes(b"x")  # really read-only, for root too
        store = ChatStore(path)
        assert store.unsaved is not None
        assert store.unsaved.message == (
            f"Ponder cannot save to the chat database {path}: {path} is read-only."
        )
        assert "nothing new is kept" in store.unsaved.hint
        cid = store.create_conversation("New")  # works, in memory
        store.add_message(cid, "user", "Hello")
        assert [m.content for m in store.messages(cid)] == ["Hello"]
        assert len(store.conversations()) == len(original.chats) + 1
        store.close()
    assert sha256(source) == before
    assert not list(tmp_path.glob("home/chats.sqlite3-*"))


def test_a_read_only_folder_opens_in_memory_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "chats.sqlite3"
    original = make_chats(source, conversations=3)
    with read_only_folder(tmp_path / "ro", [source]) as folder:
        path = folder / "chats.sqlite3"
        store = ChatStore(path)
        assert store.unsaved is not None
        assert store.unsaved.message == (
            f"Ponder cannot save to the chat database {path}: "
            f"{folder} is on a read-only file system."
        )
        assert len(store.conversations()) == len(original.chats)
        store.add_message(store.create_conversation(), "user", "kept in memory")
        store.close()
        # And a database not made yet, in a read-only folder: an empty chat list, unsaved.
        fresh = ChatStore(folder / "new.sqlite3")
        assert fresh.unsaved is not None and fresh.conversations() == []
        fresh.close()


def test_a_lock_taken_while_the_app_runs_is_a_save_error_naming_the_holder(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.sqlite3"
    make_chats(path, conversations=1)
    store = ChatStore(path)
    try:
        with lock_held(path, whole_file=False) as holder, pytest.raises(DatabaseLockedError) as err:
            store.db.execute("PRAGMA busy_timeout = 200")
            store.create_conversation("blocked")
        assert f"process {holder.pid}" in err.value.message
        assert isinstance(err.value, SaveError)  # the chat keeps it on screen and retries
    finally:
        store.close()


def test_the_write_check_at_open_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    make_chats(path, conversations=1)
    db = sqlite3.connect(path)
    changes = db.execute("PRAGMA data_version").fetchone()[0]
    ChatStore(path).close()
    assert db.execute("PRAGMA data_version").fetchone()[0] == changes
    db.close()


def test_salvage_survives_damage_anywhere_even_in_the_schema(tmp_path: Path) -> None:
    """Bytes flipped all over the file, the first page included: salvage ends with a
    database the app opens, never a traceback (a damaged schema makes SQLite's own error
    messages undecodable, and "id" something other than the row id)."""
    pristine = tmp_path / "pristine.sqlite3"
    make_chats(pristine, conversations=4, messages=6)
    data = pristine.read_bytes()
    noise = random.Random(2)
    for attempt in range(40):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        path = folder / "chats.sqlite3"
        damaged = bytearray(data)
        for _ in range(noise.randint(1, 3000)):
            damaged[noise.randrange(0 if attempt % 4 == 0 else 100, len(damaged))] ^= 0xFF
        path.write_bytes(bytes(damaged))
        report = salvage_database(path)
        store = ChatStore(path)
        try:
            convs = store.conversations()
            assert sum(len(store.messages(c.id)) for c in convs) == report.messages
        finally:
            store.close()


def test_salvage_that_cannot_write_says_so_and_changes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "chats.sqlite3"
    make_chats(source, conversations=3)
    damage(source, later_pages(source))
    with read_only_folder(tmp_path / "ro", [source]) as folder:
        path = folder / "chats.sqlite3"
        with pytest.raises(AppError) as err:
            salvage_database(path)
        assert err.value.message.startswith("Ponder could not salvage the chat database (")
        assert sha256(path) == sha256(source)
        assert [p.name for p in folder.iterdir()] == ["chats.sqlite3"]
