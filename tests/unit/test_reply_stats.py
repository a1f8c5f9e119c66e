"""A saved reply's stats are read once into types: the figures a reply was saved with come
back as ``GenerationStats``, a damaged value takes its default, a failure its sentence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.core.events import GenerationStats
from app.core.store import ChatStore


def saved_reply(tmp_path: Path, stats: dict[str, object]) -> ChatStore:
    store = ChatStore(tmp_path / "chats.sqlite3")
    cid = store.create_conversation("Chat", model="R1 7B")
    store.add_message(cid, "user", "What is 6*7?")
    mid = store.add_message(cid, "assistant", "", state="streaming")
    store.finish_message(mid, "42.", "Six sevens.", "complete", stats)
    return store


def test_the_figures_a_reply_was_saved_with_come_back_typed(tmp_path: Path) -> None:
    figures = GenerationStats(
        reasoning_tokens=310, answer_tokens=1, ttft_s=0.4, decode_tok_s=68.0, backend="CPU"
    )
    store = saved_reply(tmp_path, dataclasses.asdict(figures))
    *_, reply = store.messages(store.conversations()[0].id)
    assert reply.role == "assistant"
    assert reply.reply_stats.figures == figures
    assert reply.reply_stats.figures.generated_tokens == 311
    assert reply.reply_stats.error == ""
    store.close()


def test_a_damaged_value_takes_its_default_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    """A hand-edited or damaged database: the reply still shows, with what can be read."""
    saved = {"reasoning_tokens": "many", "answer_tokens": 5, "stop_reason": "bored"}
    store = saved_reply(tmp_path, {**saved, "ttft_s": None, "from_the_future": 1})
    *_, reply = store.messages(store.conversations()[0].id)
    assert reply.reply_stats.figures == GenerationStats(answer_tokens=5)
    assert reply.stats is not None and reply.stats["from_the_future"] == 1  # kept as saved
    store.close()


def test_a_failed_reply_has_its_sentence_and_no_figures(tmp_path: Path) -> None:
    store = saved_reply(
        tmp_path, {"error_kind": "engine_crashed", "error": "It stopped.", "hint": "Retry."}
    )
    *_, reply = store.messages(store.conversations()[0].id)
    assert reply.reply_stats.figures is None
    assert (reply.reply_stats.error_kind, reply.reply_stats.error) == (
        "engine_crashed",
        "It stopped.",
    )
    assert reply.reply_stats.hint == "Retry."
    store.close()
