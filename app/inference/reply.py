"""Turn a stream of generated text pieces into events and honest stats.

Shared by every backend: the llama.cpp loop and the replay backend feed it one piece per
token. Per-token work is constant: a stop-string matcher and the reasoning splitter each
hold back only a few characters.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from app.core.events import (
    AnswerDelta,
    Done,
    Event,
    GenerationStats,
    LiveStats,
    ReasoningDelta,
    SampleDone,
    StopReason,
    ThinkingEnd,
)
from app.core.reasoning import ReasoningSplitter, Segment, SplitState
from app.inference.protocol import FORCE_ANSWER_TEXT

LIVE_STATS_INTERVAL_S = 0.5


class StopMatcher:
    """Finds stop strings in streamed text, holding back possible partial matches."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns the text that is safe to show and whether a stop string was hit."""
        if not self._stops:
            return text, False
        buf = self._held + text
        hits = [i for i in (buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            self._held = ""
            return buf[: min(hits)], True
        keep = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(buf)), keep, -1):
                if buf.endswith(stop[:n]):
                    keep = n
                    break
        self._held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


class ReplyAssembler:
    """Collects one reply: routes text to reasoning/answer events and times everything.

    Args:
        emit: Receives each event as it happens.
        prompt_opened: The rendered prompt ended with ``<think>``.
        stops: Stop strings (the reply ends before them).
        think_budget: Force the answer after this many reasoning tokens.
    """

    def __init__(
        self,
        emit: Callable[[Event], None],
        *,
        prompt_opened: bool,
        stops: Sequence[str] = (),
        think_budget: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._splitter = ReasoningSplitter(prompt_opened)
        self._stops = StopMatcher(stops)
        self._think_budget = think_budget
        self.t0 = clock()
        self._t_prefill_start = self.t0
        self._t_prefill_end: float | None = None
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._t_think_end: float | None = None
        self._t_first_answer: float | None = None
        self._next_live = self.t0 + LIVE_STATS_INTERVAL_S
        self.prompt_tokens = 0
        self.prompt_eval_tokens = 0
        self.reasoning_tokens = 0
        self.answer_tokens = 0
        self.thinking_ended_by: ThinkingEnd | None = None

    @property
    def in_reasoning(self) -> bool:
        return self._splitter.state is SplitState.REASONING

    @property
    def generated_tokens(self) -> int:
        return self.reasoning_tokens + self.answer_tokens

    def start_prefill(self, prompt_tokens: int, prompt_eval_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.prompt_eval_tokens = prompt_eval_tokens
        self._t_prefill_start = self._clock()

    def end_prefill(self) -> None:
        self._t_prefill_end = self._clock()

    def add_token(self, text: str, counted: bool = True) -> bool:
        """Account for one generated token; True when a stop string ended the reply.

        ``counted=False`` routes text that is not a token of its own (the last bytes of
        an incomplete character at the end of output).
        """
        now = self._clock()
        if self._t_first is None:
            self._t_first = now
        self._t_last = now
        was_reasoning = self.in_reasoning
        visible, stopped = self._stops.feed(text)
        if visible:
            self._route(self._splitter.feed(visible), now)
        if not counted:
            return stopped
        if was_reasoning or self.in_reasoning:
            self.reasoning_tokens += 1
        else:
            self.answer_tokens += 1
        if now >= self._next_live:
            self._next_live = now + LIVE_STATS_INTERVAL_S
            self._emit(
                LiveStats(
                    self.generated_tokens, now - self.t0, self._decode_rate(), self.in_reasoning
                )
            )
        return stopped

    def budget_exhausted(self) -> bool:
        return (
            self._think_budget is not None
            and self.in_reasoning
            and self.reasoning_tokens >= self._think_budget
        )

    def force_answer(self, reason: ThinkingEnd) -> str:
        """Close the reasoning now; returns the text the engine must append to its context."""
        held = self._stops.flush()
        self._route(self._splitter.feed(held + FORCE_ANSWER_TEXT), self._clock())
        self.thinking_ended_by = reason
        return FORCE_ANSWER_TEXT

    def finish(self, stop_reason: StopReason, **extra: Any) -> GenerationStats:
        """Flush held text, emit ``Done`` and return the stats."""
        now = self._clock()
        self._route(self._splitter.feed(self._stops.flush()) + self._splitter.finish(), now)
        if self._splitter.saw_reasoning and self._t_think_end is None:
            self._t_think_end = now
        if stop_reason == "eos" and self.thinking_ended_by == "think_budget":
            stop_reason = "think_budget"
        stats = self.stats(stop_reason, now, **extra)
        self._emit(Done(stats))
        return stats

    def stats(
        self, stop_reason: StopReason, now: float | None = None, **extra: Any
    ) -> GenerationStats:
        now = self._clock() if now is None else now
        prefill_s = (self._t_prefill_end or now) - self._t_prefill_start
        reasoning_s = None
        if self._splitter.saw_reasoning and self._t_first is not None:
            reasoning_s = round((self._t_think_end or now) - self._t_first, 4)
        stats = GenerationStats(
            prompt_tokens=self.prompt_tokens,
            prompt_eval_tokens=self.prompt_eval_tokens,
            reasoning_tokens=self.reasoning_tokens,
            answer_tokens=self.answer_tokens,
            ttft_s=_since(self._t_first, self.t0),
            reasoning_s=reasoning_s,
            first_answer_token_s=_since(self._t_first_answer, self.t0),
            decode_tok_s=self._decode_rate(),
            prefill_tok_s=(
                round(self.prompt_eval_tokens / prefill_s, 2)
                if self.prompt_eval_tokens and prefill_s > 0
                else None
            ),
            total_s=round(now - self.t0, 4),
            stop_reason=stop_reason,
            thinking_ended_by=self.thinking_ended_by,
        )
        return dataclasses.replace(stats, **extra)

    def _decode_rate(self) -> float | None:
        n = self.generated_tokens
        if n < 2 or self._t_first is None or self._t_last is None:
            return None
        span = self._t_last - self._t_first
        return round((n - 1) / span, 2) if span > 0 else None

    def _route(self, segments: list[Segment], now: float) -> None:
        for seg in segments:
            if seg.reasoning:
                self._emit(ReasoningDelta(seg.text))
            else:
                if self._t_first_answer is None:
                    self._t_first_answer = now
                self._emit(AnswerDelta(seg.text))
        if (
            self._t_think_end is None
            and self._splitter.saw_reasoning
            and (self._splitter.state is SplitState.ANSWER)
        ):
            self._t_think_end = now
            if self.thinking_ended_by is None:
                self.thinking_ended_by = "model"


def _since(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 4)


def tagged_emit(emit: Callable[[Event], None], sample: int) -> Callable[[Event], None]:
    """The emit of one sample of a group: its events say which sample they belong to, and
    its ``Done`` becomes a ``SampleDone`` (the group ends with one ``Done`` of its own)."""

    def emit_sample(event: Event) -> None:
        if isinstance(event, ReasoningDelta | AnswerDelta | LiveStats):
            event = dataclasses.replace(event, sample=sample)
        elif isinstance(event, Done):
            event = SampleDone(sample, event.stats)
        emit(event)

    return emit_sample


def group_stats(
    per: Sequence[GenerationStats], n_prompt: int, elapsed_s: float, **extra: Any
) -> GenerationStats:
    """A group's figures from its samples': tokens summed, the aggregate decode rate (every
    token after each sample's first, over the time from the first token to the end), the
    prompt evaluated once."""
    generated = sum(p.generated_tokens for p in per)
    firsts = [p.ttft_s for p in per if p.ttft_s is not None]
    ttft = min(firsts) if firsts else None
    decode_s = elapsed_s - ttft if ttft is not None else 0.0
    reasons = {p.stop_reason for p in per}
    stop: StopReason = (
        "stopped" if "stopped" in reasons else "length" if reasons == {"length"} else "eos"
    )
    return GenerationStats(
        prompt_tokens=n_prompt,
        prompt_eval_tokens=min((p.prompt_eval_tokens for p in per), default=0),
        reasoning_tokens=sum(p.reasoning_tokens for p in per),
        answer_tokens=sum(p.answer_tokens for p in per),
        ttft_s=ttft,
        decode_tok_s=round((generated - len(per)) / decode_s, 2) if decode_s > 0 else None,
        prefill_tok_s=per[0].prefill_tok_s if per else None,
        total_s=round(elapsed_s, 4),
        stop_reason=stop,
        samples=len(per),
        **extra,
    )
