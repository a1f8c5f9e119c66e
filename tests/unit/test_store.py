"""The chat database: a real SQLite file, saved as it happens, recovered after a crash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.core.errors import AppError, SaveError
from app.core.export import export_conversation
from app.core.store import SCHEMA_VERSION, ChatStore


@pytest.fixture
def store(tmp_path: Path) -> ChatStore:
    return ChatStore(tmp_path / "ponder.db")


def test_a_checkpointed_reply_survives_a_crash_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "ponder.db"
    first = ChatStore(path)
    cid = first.create_conversation("Primes")
    first.add_message(cid, "user", "Is 391 prime?")
    mid = first.add_message(cid, "assistant", "", state="streaming")
    first.checkpoint(mid, "No: 391 = 17", "Try 17...")
    # No close(): the process "dies" here. A second connection sees what was committed.
    second = ChatStore(path)
    assert second.recover_interrupted() == 1
    msgs = second.messages(cid)
    assert [(m.role, m.content, m.state) for m in msgs] == [
        ("user", "Is 391 prime?", "complete"),
        ("assistant", "No: 391 = 17", "interrupted"),
    ]
    assert msgs[1].reasoning == "Try 17..."


def test_search_finds_titles_and_message_text(store: ChatStore) -> None:
    a = store.create_conversation("Cooking pasta")
    b = store.create_conversation("Physics")
    store.add_message(b, "user", "What is 100% of the speed_of_light?")
    assert [c.id for c in store.conversations("pasta")] == [a]
    assert [c.id for c in store.conversations("SPEED_OF")] == [b]
    assert [c.id for c in store.conversations("100%")] == [b]  # % is literal, not a wildcard
    assert {c.id for c in store.conversations()} == {a, b}


def test_delete_can_be_undone(store: ChatStore) -> None:
    cid = store.create_conversation("Keep me")
    store.add_message(cid, "user", "hello")
    store.delete(cid)
    assert store.conversations() == []
    store.undelete(cid)
    assert [c.title for c in store.conversations()] == ["Keep me"]
    assert store.messages(cid)[0].content == "hello"


def test_newest_conversation_first(store: ChatStore) -> None:
    old = store.create_conversation("old")
    new = store.create_conversation("new")
    assert [c.id for c in store.conversations()] == [new, old]
    store.add_message(old, "user", "bump")
    assert [c.id for c in store.conversations()] == [old, new]


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "ponder.db"
    ChatStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(AppError, match="newer Ponder"):
        ChatStore(path)


def test_export_markdown_and_json(store: ChatStore, tmp_path: Path) -> None:
    cid = store.create_conversation("Math", model="R1 7B")
    store.add_message(cid, "user", "2+2?")
    mid = store.add_message(cid, "assistant", "", state="streaming")
    store.finish_message(mid, "**4**", "Add <two> and two.", "complete", {"decode_tok_s": 40.0})
    conv = store.conversation(cid)
    assert conv is not None
    md, js = tmp_path / "out.md", tmp_path / "out.json"
    export_conversation(conv, store.messages(cid), md)
    export_conversation(conv, store.messages(cid), js)
    text = md.read_text()
    assert "<details>\n<summary>Thinking</summary>\n\nAdd &lt;two&gt; and two." in text
    assert text.index("</details>") < text.index("**4**")
    data = json.loads(js.read_text())
    assert data["messages"][1]["reasoning"] == "Add <two> and two."
    assert data["messages"][1]["stats"] == {"decode_tok_s": 40.0}
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind


def test_an_edit_replaces_the_messages_after_it(store: ChatStore) -> None:
    cid = store.create_conversation()
    for text in ("q1", "a1", "q2", "a2"):
        store.add_message(cid, "user" if text.startswith("q") else "assistant", text)
    store.add_message(cid, "user", "q2 edited", replace_after=1)
    assert [(m.position, m.content) for m in store.messages(cid)] == [
        (0, "q1"),
        (1, "a1"),
        (2, "q2 edited"),
    ]


def test_an_edit_the_disk_cannot_hold_removes_nothing(store: ChatStore) -> None:
    cid = store.create_conversation()
    for text in ("q1", "a1", "q2", "a2"):
        store.add_message(cid, "user" if text.startswith("q") else "assistant", text)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(SaveError):
        store.add_message(cid, "user", "a long edit " * 20_000, replace_after=1)
    assert [m.content for m in store.messages(cid)] == ["q1", "a1", "q2", "a2"]


def test_a_full_disk_is_a_save_error_with_the_reason_and_nothing_is_half_written(
    store: ChatStore,
) -> None:
    """SQLite's own SQLITE_FULL: the database may not grow past its current pages."""
    cid = store.create_conversation("Big")
    mid = store.add_message(cid, "assistant", "", state="streaming")
    store.checkpoint(mid, "so far", "")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(SaveError) as err:
        store.finish_message(mid, "x" * 200_000, "", "complete")
    assert "disk is full" in err.value.message and err.value.hint
    assert store.message(mid).content == "so far"  # type: ignore[union-attr]
    store.db.execute("PRAGMA max_page_count = 1073741823")
    store.finish_message(mid, "x" * 200_000, "", "complete")
    assert store.message(mid).state == "complete"  # type: ignore[union-attr]


def test_regenerate_keeps_every_version_and_any_can_be_shown(store: ChatStore) -> None:
    """Regenerate keeps the replies it replaces ("< 2/3 >"); showing one makes it the reply
    the conversation carries on with, the others stay; an edit of the question drops them."""
    cid = store.create_conversation("Sky")
    store.add_message(cid, "user", "Why is the sky blue?")
    first = store.add_message(cid, "assistant", "Rayleigh.", reasoning="r1")
    store.finish_message(first, "Rayleigh.", "r1", "complete", {"generated_tokens": 3})
    second = store.add_message(cid, "assistant", "", state="streaming", replace_after=0,
                               keep_versions=True)  # fmt: skip
    store.finish_message(second, "Scattering.", "r2", "stopped")
    third = store.add_message(cid, "assistant", "", replace_after=0, keep_versions=True)
    store.finish_message(third, "Short waves.", "r3", "complete")
    (_question, reply) = store.messages(cid)
    assert reply.id == third and (reply.version, reply.version_count) == (2, 3)
    assert [(v.ordinal, v.content, v.state) for v in reply.others] == [
        (0, "Rayleigh.", "complete"),
        (1, "Scattering.", "stopped"),
    ]
    assert reply.others[0].stats == {"generated_tokens": 3}

    store.show_version(third, 0)
    shown = store.message(third)
    assert shown is not None and (shown.content, shown.reasoning) == ("Rayleigh.", "r1")
    assert shown.stats == {"generated_tokens": 3} and shown.version == 0
    assert [v.content for v in shown.others] == ["Scattering.", "Short waves."]
    store.show_version(third, 0)  # already shown: nothing changes
    assert store.messages(cid)[1] == shown

    store.add_message(cid, "user", "Why is it red at dusk?", replace_after=-1)  # an edit
    assert [m.content for m in store.messages(cid)] == ["Why is it red at dusk?"]
    assert store.db.execute("SELECT COUNT(*) FROM reply_versions").fetchone()[0] == 0
