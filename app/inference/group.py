"""Group sampling: N answers to one prompt, decoded together in one batch per step.

DeepSeek-R1 was trained by sampling a group of answers per problem and favouring the better
ones (GRPO); at inference the same group, voted on, is the strongest accuracy lever a local
user has. Doing it as N separate replies costs N prompt evaluations and N passes over the
weights per token; here the prompt is evaluated once, its KV cells shared by every sequence
(a unified cache: each prompt token carries all N sequence ids), and each step decodes one
token of every live sequence in a single ``llama_decode``: the weights are read once for all
of them, which is where a CPU spends its time.

Each sequence has its own sampler (seed + i), its own reasoning/answer split, stop strings,
think budget and answer-now; a finished one drops out of the batch. Sampling a 150k-262k
vocabulary costs about a millisecond per sequence, so the N samplers run on a thread pool
(``llama_sampler_sample`` releases the GIL) between decodes, when llama.cpp's threads idle.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import llama_cpp
import psutil

from app.core.errors import ContextOverflowError, EngineError
from app.core.events import (
    Done,
    GenerationStats,
    StopReason,
    ThinkingEnd,
)
from app.hardware.planner import GroupPlan, plan_group
from app.inference.backends.base import Control, Emit
from app.inference.detokenizer import IncrementalDetokenizer
from app.inference.protocol import GenerateRequest
from app.inference.reply import ReplyAssembler, group_stats, tagged_emit

if TYPE_CHECKING:
    from app.inference.backends.llama import LlamaBackend

log = logging.getLogger(__name__)

N_BATCH = 512


class _Batch:
    """A ``llama_batch`` filled token by token (sequence ids and output flags per token)."""

    def __init__(self, capacity: int, n_seq: int) -> None:
        self.capacity = capacity
        self.raw = llama_cpp.llama_batch_init(capacity, 0, n_seq)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def add(self, token: int, pos: int, seqs: range | list[int], output: bool) -> int:
        i, b = self.n, self.raw
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = len(seqs)
        ids = b.seq_id[i]
        for k, seq in enumerate(seqs):
            ids[k] = seq
        b.logits[i] = output
        self.n = i + 1
        return i

    def decode(self, ctx: Any) -> int:
        self.raw.n_tokens = self.n
        return int(llama_cpp.llama_decode(ctx, self.raw))

    def free(self) -> None:
        llama_cpp.llama_batch_free(self.raw)


@dataclasses.dataclass
class _Seq:
    """One sample: its sampler, text assembly and where its next logits are."""

    index: int
    asm: ReplyAssembler
    sampler: Any
    detok: IncrementalDetokenizer
    pos: int
    logits_at: int
    seed: int
    stats: GenerationStats | None = None  # set when it has ended

    def end(self, reason: StopReason, extra: dict[str, Any]) -> None:
        if tail := self.detok.flush():
            self.asm.add_token(tail, counted=False)
        self.stats = self.asm.finish(reason, seed=self.seed, **extra)


def generate_group(
    backend: LlamaBackend, request: GenerateRequest, control: Control, emit: Emit
) -> None:
    """Sample ``request.samples`` answers to one prompt; per-sample events, then ``Done``."""
    sp = request.sampling
    rendered = backend.render(request)
    tokens = backend.tokenize(rendered.text, add_bos=rendered.add_bos)
    if len(tokens) >= backend.n_ctx:
        raise ContextOverflowError(
            f"The conversation is {len(tokens):,} tokens but the context holds {backend.n_ctx:,}.",
            "Start a new chat, shorten the message, or raise the context size.",
        )
    free = psutil.virtual_memory().available
    if backend.offloaded_layers and backend.hw.gpus:
        free = backend.hw.gpus[0].vram_free
    plan = plan_group(backend.shape, free, len(tokens), request.samples, sp.max_tokens)
    seed = sp.seed if sp.seed is not None else random.randrange(2**31)
    group = _Group(backend, plan, control)
    try:
        for i in range(plan.samples):
            asm = ReplyAssembler(
                tagged_emit(emit, i),
                prompt_opened=rendered.opens_reasoning,
                stops=(*rendered.stops, *sp.stop),
                think_budget=sp.think_budget,
            )
            asm.start_prefill(len(tokens), len(tokens))
            sampler = backend.make_sampler(sp, seed + i)
            group.seqs.append(
                _Seq(i, asm, sampler, IncrementalDetokenizer(), len(tokens), -1, seed + i)
            )
        if group.prefill(tokens):
            group.decode(plan.max_tokens, sp.ignore_eos)
        for s in group.seqs:  # cut short by Stop: what each wrote is kept
            if s.stats is None:
                s.end("stopped", group.extra)
        emit(Done(group.stats(len(tokens), seed, plan.note)))
    finally:
        group.close()


class _Group:
    """The group's own llama.cpp context (N sequences, one unified cache) and its loop."""

    def __init__(self, backend: LlamaBackend, plan: GroupPlan, control: Control) -> None:
        self.backend, self.control = backend, control
        self.t0 = time.perf_counter()
        self.extra = backend.stats_extra()
        n = plan.samples
        params = backend.llm.context_params
        params = type(params).from_buffer_copy(params)
        params.n_ctx = plan.n_ctx
        params.n_batch = N_BATCH
        params.n_ubatch = min(N_BATCH, params.n_ubatch or N_BATCH)
        params.n_seq_max = n
        params.kv_unified = True  # the prompt's cells are shared, not copied N times
        self.ctx = llama_cpp.llama_init_from_model(backend.llm.model, params)
        if not self.ctx:
            raise EngineError(
                f"llama.cpp could not make room for {n} answers "
                f"({plan.n_ctx:,} tokens of context).",
                "Ask for fewer samples or fewer tokens.",
            )
        self.batch = _Batch(max(N_BATCH, n * 32), n)
        workers = min(n, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sampler")
        self.seqs: list[_Seq] = []
        # Where a step's time goes (the engine log says, per group).
        self.sample_s = self.decode_s = 0.0
        self.steps = 0

    def close(self) -> None:
        if self.steps:
            elapsed = time.perf_counter() - self.t0
            log.info(
                "group of %d: %d steps, %.1f ms each; sampling %.1f%%, decode %.1f%%",
                len(self.seqs),
                self.steps,
                1000 * elapsed / self.steps,
                100 * self.sample_s / elapsed,
                100 * self.decode_s / elapsed,
            )
        for s in self.seqs:
            llama_cpp.llama_sampler_free(s.sampler)
        self.pool.shutdown(wait=True)
        self.batch.free()
        llama_cpp.llama_free(self.ctx)

    def prefill(self, tokens: list[int]) -> bool:
        """Evaluate the prompt once for every sequence; False when cancelled."""
        everyone = range(len(self.seqs))
        batch, control = self.batch, self.control
        self.backend.watch_compute(self.ctx, control)
        try:
            for start in range(0, len(tokens), N_BATCH):
                if control.cancelled():
                    return False
                batch.clear()
                chunk = tokens[start : start + N_BATCH]
                for j, token in enumerate(chunk):
                    batch.add(token, start + j, everyone, start + j == len(tokens) - 1)
                rc = batch.decode(self.ctx)
                if rc != 0:
                    if control.cancelled():
                        return False
                    raise EngineError(
                        f"llama.cpp failed to evaluate the prompt (code {rc}).",
                        "Try again with fewer samples.",
                    )
                self.backend.count_progress(len(chunk))
        finally:
            self.backend.unwatch_compute(self.ctx)
        for s in self.seqs:
            s.logits_at = batch.n - 1
            s.asm.end_prefill()
        return True

    def decode(self, max_tokens: int, ignore_eos: bool) -> None:
        """Step every live sequence by one token per ``llama_decode`` until all have ended."""
        backend, ctx, batch, control = self.backend, self.ctx, self.batch, self.control
        vocab = backend.vocab
        is_eog, sample = llama_cpp.llama_vocab_is_eog, llama_cpp.llama_sampler_sample
        mem = llama_cpp.llama_get_memory(ctx)
        live = list(self.seqs)
        clock = time.perf_counter

        def end(s: _Seq, reason: StopReason) -> None:
            s.end(reason, self.extra)
            live.remove(s)
            llama_cpp.llama_memory_seq_rm(mem, s.index, -1, -1)  # its cells are free again

        while live and not control.cancelled():
            batch.clear()
            to_sample = []
            for s in list(live):
                asm = s.asm
                if asm.in_reasoning and (control.answer_now() or asm.budget_exhausted()):
                    # Close this one's reasoning (answer now, think budget): the tags go in
                    # as its tokens of this step.
                    if tail := s.detok.flush():
                        asm.add_token(tail, counted=False)
                    why: ThinkingEnd = "answer_now" if control.answer_now() else "think_budget"
                    closing = backend.tokenize(asm.force_answer(why), add_bos=False)
                    for k, token in enumerate(closing):
                        s.logits_at = batch.add(token, s.pos, [s.index], k == len(closing) - 1)
                        s.pos += 1
                elif asm.generated_tokens >= max_tokens:
                    end(s, "length")
                else:
                    to_sample.append(s)
            if to_sample:
                t_sample = clock()
                llama_cpp.llama_get_logits(ctx)  # settles llama.cpp's output order once
                drawn = list(
                    self.pool.map(lambda s: sample(s.sampler, ctx, s.logits_at), to_sample)
                )
                self.sample_s += clock() - t_sample
                for s, token in zip(to_sample, drawn, strict=True):
                    if is_eog(vocab, token) and not ignore_eos:
                        end(s, "eos")
                    elif s.asm.add_token(s.detok.feed(backend.piece(token))):
                        end(s, "eos")  # a stop string
                    else:
                        s.logits_at = batch.add(token, s.pos, [s.index], True)
                        s.pos += 1
            if batch.n == 0:
                continue
            t_decode = clock()
            rc = batch.decode(ctx)
            self.decode_s += clock() - t_decode
            self.steps += 1
            if rc != 0:
                raise EngineError(
                    f"llama.cpp failed while generating the group (code {rc}).",
                    "Try again with fewer samples or fewer tokens.",
                )
            backend.count_progress(batch.n)
            if not control.proven:
                control.mark_proven()

    def stats(self, n_prompt: int, seed: int, note: str) -> GenerationStats:
        """The group's figures: tokens summed, the aggregate decode rate, the prompt once."""
        per = [s.stats for s in self.seqs if s.stats is not None]
        elapsed = time.perf_counter() - self.t0
        return group_stats(per, n_prompt, elapsed, seed=seed, note=note, **self.extra)
