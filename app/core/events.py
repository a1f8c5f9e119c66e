"""Events that cross threads and processes: small, frozen, picklable.

The CLI's ``--json`` output is these events, one JSON object per line (see DESIGN.md).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

StopReason = Literal["eos", "length", "stopped", "think_budget", "error"]
ThinkingEnd = Literal["model", "answer_now", "think_budget"]


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """More of the model's chain of thought (of sample ``sample`` in a group reply)."""

    text: str
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """More of the model's answer (of sample ``sample`` in a group reply)."""

    text: str
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """Measured figures for one reply.

    Times are seconds from the moment the engine received the request. ``decode_tok_s``
    counts every generated token after the first (reasoning and answer alike);
    ``prefill_tok_s`` counts only the prompt tokens actually evaluated, i.e. after reuse of
    the KV cache from the previous turn.
    """

    prompt_tokens: int = 0
    prompt_eval_tokens: int = 0
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    ttft_s: float | None = None
    reasoning_s: float | None = None
    first_answer_token_s: float | None = None
    decode_tok_s: float | None = None
    prefill_tok_s: float | None = None
    total_s: float = 0.0
    stop_reason: StopReason = "eos"
    # With stop_reason "length": which limit ended it, the reply's token budget
    # ("max_tokens") or the context window ("context", which a larger budget cannot fix).
    limit: Literal["max_tokens", "context"] | None = None
    thinking_ended_by: ThinkingEnd | None = None
    load_s: float | None = None
    backend: str = ""
    model: str = ""
    n_ctx: int = 0
    n_gpu_layers: int = 0
    seed: int | None = None
    # llama.cpp's CPU library the engine ran ("zen4", "haswell"...; "" for one built-in).
    cpu_kernels: str = ""
    # A group reply (``samples > 1``): the figures above are the whole group's (tokens
    # summed, decode_tok_s the aggregate rate, the prompt evaluated once); ``note`` says
    # when memory made the engine sample fewer or shorter answers than asked.
    samples: int = 1
    note: str = ""

    @property
    def generated_tokens(self) -> int:
        """Every token the model wrote: its thinking and its answer."""
        return self.reasoning_tokens + self.answer_tokens

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: object) -> GenerationStats | None:
        """The figures from their saved form (a reply's stats in the chat database, a
        sample's in a group): unknown keys are ignored, and a value of the wrong type
        (a hand-edited or damaged file) takes its default. None when ``raw`` is not a
        mapping or holds none of these fields."""
        if not isinstance(raw, Mapping):
            return None
        known = {f.name: raw[f.name] for f in fields(cls) if f.name in raw}
        if not known:
            return None
        return cls(**{k: v for k, v in known.items() if _is_a(v, _STATS_TYPES[k])})


_STATS_TYPES: dict[str, Any] = get_type_hints(GenerationStats)


def _is_a(value: object, hint: Any) -> bool:
    """Whether a JSON value fits a field's type (``int``, ``float | None``, a Literal)."""
    origin = get_origin(hint)
    if origin is Literal:
        return value in get_args(hint)
    if origin is Union or origin is types.UnionType:
        return any(_is_a(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(hint, type) and isinstance(value, hint)


@dataclass(frozen=True, slots=True)
class LiveStats:
    """Progress while generating, at most a few times a second (for status bars)."""

    generated_tokens: int
    elapsed_s: float
    decode_tok_s: float | None
    reasoning: bool
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class EngineSilence:
    """The engine has made no progress for ``silent_s`` seconds while a reply runs (hung,
    stopped, or stuck in a driver); ``silent_s == 0``: it is making progress again."""

    silent_s: float


@dataclass(frozen=True, slots=True)
class SampleDone:
    """One sample of a group reply has ended; the group ends with ``Done``."""

    sample: int
    stats: GenerationStats


@dataclass(frozen=True, slots=True)
class Done:
    """The reply is complete (for any reason in ``stats.stop_reason``)."""

    stats: GenerationStats


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The reply failed; ``kind`` is an ``AppError.kind``."""

    kind: str
    message: str
    hint: str = ""
    stats: GenerationStats | None = field(default=None)


Event = ReasoningDelta | AnswerDelta | LiveStats | EngineSilence | SampleDone | Done | ErrorEvent


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON Lines form of an event, as documented in DESIGN.md."""
    if isinstance(event, ReasoningDelta | AnswerDelta):
        kind = "reasoning" if isinstance(event, ReasoningDelta) else "answer"
        out: dict[str, Any] = {"event": kind, "text": event.text}
        if event.sample is not None:
            out["sample"] = event.sample
        return out
    if isinstance(event, SampleDone):
        return {"event": "sample_done", "sample": event.sample, "stats": asdict(event.stats)}
    if isinstance(event, Done):
        return {"event": "done", "stats": asdict(event.stats)}
    if isinstance(event, LiveStats):
        return {"event": "progress", **asdict(event)}
    if isinstance(event, EngineSilence):
        return {"event": "engine_silent", "silent_s": event.silent_s}
    out = {"event": "error", "kind": event.kind, "message": event.message}
    if event.hint:
        out["hint"] = event.hint
    if event.stats is not None:
        out["stats"] = asdict(event.stats)
    return out
