"""What is said under a reply that did not end normally: the cause, and what to change."""

from __future__ import annotations

from app.core.stats_text import state_note


def test_a_reply_cut_by_its_token_budget_points_to_max_tokens() -> None:
    note = state_note("complete", {"stop_reason": "length", "limit": "max_tokens"})
    assert "Max tokens" in note


def test_a_reply_cut_by_a_full_context_points_to_the_context_not_max_tokens() -> None:
    note = state_note("complete", {"stop_reason": "length", "limit": "context"})
    assert "context is full" in note and "Context size" in note
    assert "Max tokens" not in note


def test_a_reply_saved_at_quit_says_so() -> None:
    assert "Ponder closed" in state_note("interrupted", {"stop_reason": "stopped"})


def test_a_normal_reply_has_no_note() -> None:
    assert state_note("complete", {"stop_reason": "eos"}) == ""
