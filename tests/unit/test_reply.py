"""ReplyAssembler and StopMatcher: what the user sees and the stats they are shown."""

from __future__ import annotations

import pytest

from app.core.events import AnswerDelta, Done, Event, ReasoningDelta
from app.inference.protocol import FORCE_ANSWER_TEXT
from app.inference.reply import ReplyAssembler, StopMatcher


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def texts(events: list[Event]) -> tuple[str, str]:
    r = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    a = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    return r, a


def test_stats_for_a_reasoning_reply() -> None:
    clock = Clock()
    events: list[Event] = []
    asm = ReplyAssembler(events.append, prompt_opened=True, clock=clock)
    clock.t += 0.5
    asm.start_prefill(prompt_tokens=20, prompt_eval_tokens=20)
    clock.t += 0.2
    asm.end_prefill()
    for piece in ["I", " think", "\n</think>", "\n\n", "Four", "."]:
        clock.t += 0.1
        asm.add_token(piece)
    clock.t += 0.05
    stats = asm.finish("eos")
    assert texts(events) == ("I think", "Four.")
    assert isinstance(events[-1], Done)
    assert (stats.reasoning_tokens, stats.answer_tokens) == (3, 3)
    assert stats.ttft_s == pytest.approx(0.8)
    assert stats.first_answer_token_s == pytest.approx(1.2)
    assert stats.reasoning_s == pytest.approx(0.2)  # first token -> </think>
    assert stats.decode_tok_s == pytest.approx(5 / 0.5)
    assert stats.prefill_tok_s == pytest.approx(100)
    assert stats.total_s == pytest.approx(1.35)
    assert stats.thinking_ended_by == "model"


def test_think_budget_forces_the_answer() -> None:
    events: list[Event] = []
    asm = ReplyAssembler(events.append, prompt_opened=True, think_budget=3)
    forced = None
    for piece in ["a", "b", "c", "d", "e"]:
        if asm.in_reasoning and asm.budget_exhausted():
            forced = asm.force_answer("think_budget")
        asm.add_token(piece)
    stats = asm.finish("eos")
    assert forced == FORCE_ANSWER_TEXT
    assert texts(events) == ("abc", "de")
    assert stats.reasoning_tokens == 3
    assert stats.stop_reason == "think_budget"
    assert stats.thinking_ended_by == "think_budget"


def test_stop_string_ends_the_reply_and_is_not_shown() -> None:
    events: list[Event] = []
    asm = ReplyAssembler(events.append, prompt_opened=False, stops=["\nUser:"])
    stopped = [asm.add_token(p) for p in ["Hi", " there", "\nUs", "er:", " more"][:4]]
    asm.finish("eos")
    assert stopped == [False, False, False, True]
    assert texts(events) == ("", "Hi there")


def test_cancelled_reply_keeps_what_was_shown() -> None:
    events: list[Event] = []
    asm = ReplyAssembler(events.append, prompt_opened=False)
    asm.add_token("Partial")
    stats = asm.finish("stopped")
    assert texts(events) == ("", "Partial")
    assert stats.stop_reason == "stopped"


@pytest.mark.parametrize("cut", range(1, 12))
def test_stop_matcher_finds_a_stop_split_anywhere(cut: int) -> None:
    text = "answer\nUser: next"
    m = StopMatcher(["\nUser:"])
    shown1, hit1 = m.feed(text[:cut])
    shown2, hit2 = m.feed(text[cut:]) if not hit1 else ("", True)
    assert shown1 + shown2 == "answer"[: len(shown1 + shown2)]
    assert hit1 or hit2


def test_stop_matcher_releases_a_false_alarm() -> None:
    m = StopMatcher(["\nUser:"])
    assert m.feed("a\nUs") == ("a", False)
    assert m.feed("ually") == ("\nUsually", False)


def test_reasoning_closed_by_the_first_token_still_counts_as_thinking() -> None:
    clock = Clock()
    events: list[Event] = []
    asm = ReplyAssembler(events.append, prompt_opened=True, clock=clock)
    clock.t += 0.1
    asm.add_token("</think>")
    clock.t += 5.0
    asm.add_token("Answer")
    stats = asm.finish("eos")
    assert stats.thinking_ended_by == "model"
    assert stats.reasoning_s == pytest.approx(0.0)
