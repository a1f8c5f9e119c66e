"""What is said under and above a reply: the cause when it did not end normally, and its
figures (a count of one reads "1 token")."""

from __future__ import annotations

from typing import Any

from app.core.events import GenerationStats
from app.core.reply_stats import ReplyStats
from app.core.stats_text import footer, state_note, thinking_done, thinking_live


def note(state: str, saved: dict[str, Any]) -> str:
    return state_note(state, ReplyStats.from_json(saved))


def test_a_reply_cut_by_its_token_budget_points_to_max_tokens() -> None:
    assert "Max tokens" in note("complete", {"stop_reason": "length", "limit": "max_tokens"})


def test_a_reply_cut_by_a_full_context_points_to_the_context_not_max_tokens() -> None:
    said = note("complete", {"stop_reason": "length", "limit": "context"})
    assert "context is full" in said and "Context size" in said
    assert "Max tokens" not in said


def test_a_reply_saved_at_quit_says_so() -> None:
    assert "Ponder closed" in note("interrupted", {"stop_reason": "stopped"})


def test_a_normal_reply_has_no_note() -> None:
    assert note("complete", {"stop_reason": "eos"}) == ""


def test_a_failed_reply_says_its_sentence_and_hint() -> None:
    saved = {"error_kind": "engine_crashed", "error": "The engine stopped.", "hint": "Retry."}
    assert note("error", saved) == "The engine stopped. Retry."
    assert note("error", {}) == "The reply failed."


def test_one_token_is_one_token_not_one_tokens() -> None:
    one = GenerationStats(answer_tokens=1, ttft_s=0.25)
    assert footer(one, "R1 7B") == "first token 0.25 s · 1 token · R1 7B"
    assert thinking_done(2.0, 1, None) == "Thought for 2.0 s · 1 token"
    assert thinking_live(0.5, 1) == "Thinking… 0.5 s · 1 token"
    many = GenerationStats(reasoning_tokens=2000, answer_tokens=310, decode_tok_s=68.04)
    assert footer(many, "") == "68.0 tok/s · 2,310 tokens"
