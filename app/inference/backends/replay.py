"""Replay recorded raw model text through the same pipeline as a real model.

File format (JSON Lines): an optional first line ``{"prompt": "..."}`` with the rendered
prompt (it tells the splitter whether the prompt opened ``<think>``) and, optionally, a pace
(``"tokens_per_s": 40``: chunks arrive as from a model that fast, wherever the file is
played, e.g. in a comparison run), then one ``{"chunk": "raw model text"}`` per line; each
chunk counts as one token. A recorded group reply tags each chunk with its sample:
``{"chunk": "text", "sample": 2}``; played as a group, each sample plays its own chunks
(a file without tags plays the same chunks for every sample).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import BadInputError
from app.core.events import Done, GenerationStats
from app.core.reasoning import CLOSE_TAG, prompt_opens_reasoning
from app.inference.backends.base import Control, Emit
from app.inference.protocol import GenerateRequest, ReplaySpec
from app.inference.reply import ReplyAssembler, group_stats, tagged_emit


@dataclass(frozen=True)
class Replay:
    prompt: str  # the rendered prompt, or ""
    chunks: list[str]
    tokens_per_s: float | None = None  # the file's own pace, if it sets one
    by_sample: dict[int, list[str]] = field(default_factory=dict)  # a recorded group


def load_replay(path: str | Path) -> Replay:
    """Read a replay file."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadInputError(f"No replay file at {p}.", "Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            f"Could not read the replay file {p}: {exc}.", "It must be UTF-8 JSON Lines."
        ) from None
    prompt, chunks, pace = "", [], None
    by_sample: dict[int, list[str]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise BadInputError(
                f"Line {n} of {p.name} is not valid JSON.",
                'Each line must look like {"chunk": "text"}.',
            ) from None
        if isinstance(obj, dict) and isinstance(obj.get("chunk"), str):
            chunks.append(obj["chunk"])
            if isinstance(sample := obj.get("sample"), int) and sample >= 0:
                by_sample.setdefault(sample, []).append(obj["chunk"])
        elif isinstance(obj, dict) and not chunks and ("prompt" in obj or "tokens_per_s" in obj):
            prompt = obj.get("prompt", "")
            pace = obj.get("tokens_per_s")
            if not isinstance(prompt, str) or not (
                pace is None or (isinstance(pace, int | float) and pace > 0)
            ):
                raise BadInputError(
                    f"Line {n} of {p.name} has a bad prompt or pace.",
                    'It must look like {"prompt": "text", "tokens_per_s": 40}.',
                )
        else:
            raise BadInputError(
                f'Line {n} of {p.name} has no "chunk" text.',
                'Each line must look like {"chunk": "text"}.',
            )
    return Replay(prompt, chunks, float(pace) if pace else None, by_sample)


class ReplayBackend:
    def __init__(self, spec: ReplaySpec) -> None:
        self.spec = spec
        replay = load_replay(spec.path)
        self.prompt, self.chunks, self.by_sample = replay.prompt, replay.chunks, replay.by_sample
        self.tokens_per_s = spec.tokens_per_s or replay.tokens_per_s
        self.load_s = 0.0
        self._steps = 0

    def progress(self) -> int:
        return self._steps

    def close(self) -> None:
        pass

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        if request.samples > 1:
            self._generate_group(request, control, emit)
            return
        sp = request.sampling
        asm = ReplyAssembler(
            emit,
            prompt_opened=prompt_opens_reasoning(self.prompt),
            stops=sp.stop,
            think_budget=sp.think_budget,
        )
        asm.start_prefill(0, 0)
        asm.end_prefill()
        extra = {"backend": "replay", "model": Path(self.spec.path).name}
        interval = 1.0 / self.tokens_per_s if self.tokens_per_s else 0.0
        chunks, i = self.chunks, 0
        next_at = time.perf_counter()
        while i < len(chunks):
            if control.cancelled():
                asm.finish("stopped", **extra)
                return
            if asm.in_reasoning and (control.answer_now() or asm.budget_exhausted()):
                asm.force_answer("answer_now" if control.answer_now() else "think_budget")
                # A model would now write its answer: continue after the recorded </think>.
                rest = "".join(chunks[i:])
                end = rest.find(CLOSE_TAG)
                chunks, i = ([rest[end + len(CLOSE_TAG) :]] if end >= 0 else []), 0
                continue
            if asm.generated_tokens >= sp.max_tokens:
                asm.finish("length", limit="max_tokens", **extra)
                return
            if interval:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            if asm.add_token(chunks[i]):
                break
            i += 1
            self._steps += 1
        asm.finish("eos", **extra)

    def _generate_group(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        """Play one lane per sample, a chunk of each per step, as the batched engine does."""
        sp, n = request.sampling, request.samples
        extra = {"backend": "replay", "model": Path(self.spec.path).name}
        lanes = [list(self.by_sample.get(i, self.chunks)) for i in range(n)]
        asms = []
        for i in range(n):
            asm = ReplyAssembler(
                tagged_emit(emit, i),
                prompt_opened=prompt_opens_reasoning(self.prompt),
                stops=sp.stop,
                think_budget=sp.think_budget,
            )
            asm.start_prefill(0, 0)
            asm.end_prefill()
            asms.append(asm)
        done: list[GenerationStats | None] = [None] * n
        at = [0] * n
        t0 = next_at = time.perf_counter()
        interval = 1.0 / self.tokens_per_s if self.tokens_per_s else 0.0
        while any(d is None for d in done):
            for i, asm in enumerate(asms):
                if done[i] is not None:
                    continue
                if control.cancelled():
                    done[i] = asm.finish("stopped", **extra)
                elif asm.in_reasoning and (control.answer_now() or asm.budget_exhausted()):
                    asm.force_answer("answer_now" if control.answer_now() else "think_budget")
                    rest = "".join(lanes[i][at[i] :])
                    end = rest.find(CLOSE_TAG)
                    lanes[i], at[i] = ([rest[end + len(CLOSE_TAG) :]] if end >= 0 else []), 0
                elif asm.generated_tokens >= sp.max_tokens:
                    done[i] = asm.finish("length", limit="max_tokens", **extra)
                elif at[i] >= len(lanes[i]) or asm.add_token(lanes[i][at[i]]):
                    done[i] = asm.finish("eos", **extra)
                else:
                    at[i] += 1
            self._steps += 1
            if interval:
                next_at += interval
                if (delay := next_at - time.perf_counter()) > 0:
                    time.sleep(delay)
        per = [d for d in done if d is not None]
        emit(Done(group_stats(per, 0, time.perf_counter() - t0, **extra)))
