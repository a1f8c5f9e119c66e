"""`ponder chat --samples N [--answer REF]`: think N ways, then vote.

The engine samples N answers to the one prompt together (``app.inference.group``); here
they are grouped by final answer and scored (``app.core.grouping``). JSON Lines: each
sample's ``reasoning``/``answer`` events carry ``"sample": i``, then one ``group`` event
(groups, majority, rewards, GRPO advantages), then one ``done`` with the group's stats and
each sample's. On a terminal: a progress line while it runs, then each sample's final
answer and the vote.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.cli.output import print_json
from app.core.events import (
    AnswerDelta,
    Done,
    EngineSilence,
    ErrorEvent,
    GenerationStats,
    LiveStats,
    ReasoningDelta,
    SampleDone,
    event_to_json,
)
from app.core.grouping import GroupResult, extract_final_answer, score_texts
from app.core.units import format_tokens
from app.inference.client import EngineClient
from app.inference.protocol import ModelSpec, SamplingParams


@dataclass
class GroupTurn:
    """What a group reply produced: every sample's text, the vote, the stats."""

    reasoning: dict[int, list[str]] = field(default_factory=dict)
    answers: dict[int, list[str]] = field(default_factory=dict)
    per_sample: dict[int, GenerationStats] = field(default_factory=dict)
    result: GroupResult | None = None
    stats: GenerationStats | None = None
    error: ErrorEvent | None = None

    def answer(self, i: int) -> str:
        return "".join(self.answers.get(i, []))

    def chosen(self) -> tuple[str, str] | None:
        """(answer, reasoning) of the sample that goes into the history: the first of the
        majority group (or the first sample that answered at all)."""
        if self.result is None:
            return None
        members = self.result.groups[0].samples if self.result.groups else []
        order = members or [i for i in sorted(self.answers) if self.answer(i).strip()]
        if not order:
            return None
        i = order[0]
        return self.answer(i), "".join(self.reasoning.get(i, []))


def run_group_turn(
    client: EngineClient,
    model: ModelSpec,
    messages: list[dict[str, str]],
    sampling: SamplingParams,
    samples: int,
    *,
    reference: str | None,
    as_json: bool,
    progress: Callable[[str], None] | None = None,
) -> GroupTurn:
    """One group reply, printed as it goes (JSON) or at the end (text)."""
    turn = GroupTurn()
    generated: dict[int, int] = {}
    for event in client.generate(model, messages, sampling, samples=samples):
        if isinstance(event, ReasoningDelta | AnswerDelta):
            i = event.sample or 0
            bucket = turn.reasoning if isinstance(event, ReasoningDelta) else turn.answers
            bucket.setdefault(i, []).append(event.text)
            if as_json:
                print_json(event_to_json(event))
        elif isinstance(event, LiveStats) and progress is not None:
            generated[event.sample or 0] = event.generated_tokens
            progress(f"Thinking {samples} ways… {format_tokens(sum(generated.values()))}")
        elif isinstance(event, EngineSilence) and event.silent_s and not as_json:
            sys.stderr.write(
                f"\nponder: the engine has made no progress for {event.silent_s:.0f} s; "
                "Ctrl+C stops it.\n"
            )
        elif isinstance(event, SampleDone):
            turn.per_sample[event.sample] = event.stats
        elif isinstance(event, ErrorEvent):
            turn.error = event
            if as_json:
                print_json(event_to_json(event))
        elif isinstance(event, Done):
            turn.stats = event.stats
    if turn.error is not None or turn.stats is None:
        return turn
    n = turn.stats.samples
    turn.result = score_texts([turn.answer(i) for i in range(n)], reference=reference)
    if as_json:
        print_json(turn.result.to_json())
        print_json({"event": "done", "stats": _done_stats(turn)})
    return turn


def _done_stats(turn: GroupTurn) -> dict[str, Any]:
    assert turn.stats is not None
    stats = dataclasses.asdict(turn.stats)
    stats["per_sample"] = [
        {
            "sample": i,
            "reasoning_tokens": s.reasoning_tokens,
            "answer_tokens": s.answer_tokens,
            "decode_tok_s": s.decode_tok_s,
            "total_s": s.total_s,
            "stop_reason": s.stop_reason,
        }
        for i, s in sorted(turn.per_sample.items())
    ]
    return stats


def print_group(turn: GroupTurn, out: Any = sys.stdout) -> None:
    """The text form: each sample's final answer, then the vote and the group's speed."""
    assert turn.result is not None and turn.stats is not None
    result = turn.result
    for i in range(turn.stats.samples):
        final = extract_final_answer(turn.answer(i))
        shown = final.text if final is not None else "(no answer)"
        per = turn.per_sample.get(i)
        speed = f"{per.decode_tok_s:.1f} tok/s" if per and per.decode_tok_s else ""
        tokens = format_tokens(per.generated_tokens) if per else ""
        facts = ", ".join(x for x in (tokens, speed) if x)
        mark = f"  reward {result.rewards[i]}, advantage {result.advantages[i]:+.2f}"
        out.write(f"Sample {i + 1}: {shown}  ({facts}){mark}\n")
    out.write(f"\n{result.summary()}")
    if result.majority is not None:
        out.write(f": {result.majority}")
    out.write("\n")
    s = turn.stats
    rate = f", {s.decode_tok_s:.1f} tok/s together" if s.decode_tok_s else ""
    out.write(f"{s.samples} answers in {s.total_s:.1f} s{rate}\n")
    if s.note:
        out.write(f"{s.note}\n")
    out.flush()
