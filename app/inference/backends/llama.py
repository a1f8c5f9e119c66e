"""The llama.cpp backend: our own generation loop over llama.cpp's C API.

Why not ``Llama.create_completion``: it re-detokenizes the whole output on every token,
so it slows down as the reply grows (0.66x the raw rate at 8,000 tokens on the 270M test
model), and R1 often thinks for 8,000+ tokens. The loop below does constant work per
token: sample, look the token's bytes up in a cache, decode one token with a
preallocated batch, and feed the text to the shared ``ReplyAssembler``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import re
import signal
import time
from collections.abc import Sequence
from typing import Any

import llama_cpp
import psutil

from app.core.errors import ContextOverflowError, EngineError
from app.core.events import StopReason
from app.core.gguf import read_model
from app.core.reasoning import prompt_opens_reasoning
from app.hardware.planner import plan_load
from app.hardware.probe import probe
from app.hardware.shape import shape_from_file
from app.inference.backends.base import Control, Emit
from app.inference.detokenizer import IncrementalDetokenizer
from app.inference.native import LoadedCpu
from app.inference.protocol import GenerateRequest, LoadSpec, SamplingParams
from app.inference.reply import ReplyAssembler
from app.inference.templates import ChatTemplate, RenderedPrompt

log = logging.getLogger(__name__)

N_BATCH = 512
_NO_ABORT_CALLBACK = llama_cpp.ggml_abort_callback()  # a NULL function pointer


def compiled_backends() -> list[str]:
    """Backends compiled into this llama.cpp, e.g. ``["CUDA", "CPU"]``."""
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    names = re.findall(r"(?:^|\|\s)([A-Za-z][\w-]*) : ", info)
    return list(dict.fromkeys(names)) or ["CPU"]


def default_threads() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class LlamaBackend:
    """One loaded GGUF, its context, and the tokens its KV cache holds."""

    def __init__(self, spec: LoadSpec, cpu: LoadedCpu | None = None) -> None:
        header = read_model(spec.model_path)
        self.spec = spec
        self.cpu = cpu or LoadedCpu(None)
        self.model_name = os.path.basename(spec.model_path)
        self.template = ChatTemplate.from_header(header)
        accel = [b for b in compiled_backends() if b != "CPU"]
        can_offload = bool(accel) and llama_cpp.llama_supports_gpu_offload()
        # --gpu-layers auto and the default context come from the fit planner, here in the
        # engine so every caller (CLI, GUI) loads the same way and a model that cannot fit
        # is refused before llama.cpp tries.
        self.hw = hw = probe(backend=accel[0] if can_offload else "CPU", bandwidth=False)
        self.shape = shape_from_file(spec.model_path, header)
        layers, self.n_ctx = plan_load(
            self.shape, hw, spec.n_ctx, spec.n_gpu_layers if can_offload else 0
        )
        n_layers = int(header.arch_get("block_count") or 0)
        self.n_swa = int(header.arch_get("attention.sliding_window") or 0)
        self.n_gpu_layers = self.offloaded_layers = min(layers, n_layers + 1)
        self.backend_name = accel[0] if can_offload and self.offloaded_layers else "CPU"

        t0 = time.perf_counter()
        self.llm = self._load(spec, flash_attn=spec.flash_attn)
        self.load_s = round(time.perf_counter() - t0, 4)

        self._ctx = self.llm.ctx
        self.vocab = self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._cached: list[int] = []  # tokens whose K/V the context holds, in order
        self._pieces: dict[int, bytes] = {}
        self._piece_buf = ctypes.create_string_buffer(256)
        self._one = (llama_cpp.llama_token * 1)()
        self._one_batch = llama_cpp.llama_batch_get_one(self._one, 1)
        # Prompt evaluation reports each compute step (one call per graph node, on the
        # calling thread): the heartbeat sees progress inside a long batch, and Stop takes
        # effect at the next node instead of after the batch. Not during decode, where a
        # Python call per node would cost speed for nothing (a token is one short graph).
        self._steps = 0
        self._prefill_control: Control | None = None
        self._abort_cb = llama_cpp.ggml_abort_callback(self._on_compute_step)

    def progress(self) -> int:
        return len(self._cached) + self._steps

    def _on_compute_step(self, _data: Any) -> bool:
        self._steps += 1
        control = self._prefill_control
        return control is not None and control.cancelled()

    def _load(self, spec: LoadSpec, flash_attn: bool) -> llama_cpp.Llama:
        threads = spec.n_threads or default_threads()
        try:
            return llama_cpp.Llama(
                model_path=spec.model_path,
                n_gpu_layers=self.n_gpu_layers,
                n_ctx=self.n_ctx,
                n_batch=N_BATCH,
                n_threads=threads,
                n_threads_batch=os.cpu_count() or threads,
                flash_attn=flash_attn,
                # Like llama.cpp's server: sliding-window layers keep only their window.
                # A full-size cache would make every layer attend over the whole context
                # (much slower at depth, and up to 6x the KV memory on Gemma-style models);
                # the price is re-evaluating the prompt when a follow-up has slid past it.
                swa_full=False,
                use_mmap=spec.use_mmap,
                verbose=True,  # llama.cpp's log goes to the engine log file, not a terminal
            )
        except ValueError as exc:
            if flash_attn and "context" in str(exc):
                log.warning("context creation failed with flash attention; retrying without")
                return self._load(spec, flash_attn=False)
            raise EngineError(
                f"llama.cpp could not load {self.model_name}.",
                "The engine log has llama.cpp's reason; the file may be damaged or too new.",
            ) from exc

    def close(self) -> None:
        self.llm.close()

    # -- one reply -------------------------------------------------------------------

    def render(self, request: GenerateRequest) -> RenderedPrompt:
        if request.raw_prompt is not None:
            raw = request.raw_prompt
            return RenderedPrompt(raw, True, prompt_opens_reasoning(raw))
        return self.template.render(request.messages)

    def stats_extra(self) -> dict[str, Any]:
        """What every reply's stats say about this engine."""
        extra: dict[str, Any] = {
            "backend": self.backend_name,
            "model": self.model_name,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.offloaded_layers,
        }
        if self.cpu.variant is not None:
            extra["cpu_kernels"] = self.cpu.variant
        return extra

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        if request.samples > 1:
            from app.inference.group import generate_group

            generate_group(self, request, control, emit)
            return
        sp = request.sampling
        rendered = self.render(request)
        tokens = self.tokenize(rendered.text, add_bos=rendered.add_bos)
        if len(tokens) >= self.n_ctx:
            raise ContextOverflowError(
                f"The conversation is {len(tokens):,} tokens but the context holds {self.n_ctx:,}.",
                "Start a new chat, shorten the message, or raise the context size "
                "(Settings → Context size, or --ctx).",
            )
        asm = ReplyAssembler(
            emit,
            prompt_opened=rendered.opens_reasoning,
            stops=(*rendered.stops, *sp.stop),
            think_budget=sp.think_budget,
        )
        seed = sp.seed if sp.seed is not None else random.randrange(2**31)
        extra = {**self.stats_extra(), "seed": seed}
        reuse = self._keep_prefix(tokens)
        asm.start_prefill(len(tokens), len(tokens) - reuse)
        if not control.proven:
            _injected_fault(self.cpu.variant)
        if not self._decode(tokens[reuse:], control):
            asm.finish("stopped", **extra)
            return
        asm.end_prefill()
        sampler = _make_sampler(sp, seed)
        try:
            stop_reason = self._loop(asm, sampler, sp, control)
        finally:
            llama_cpp.llama_sampler_free(sampler)
        if stop_reason == "length":
            extra["limit"] = "max_tokens" if asm.generated_tokens >= sp.max_tokens else "context"
        asm.finish(stop_reason, **extra)

    def _loop(
        self, asm: ReplyAssembler, sampler: Any, sp: SamplingParams, control: Control
    ) -> StopReason:
        # Locals: this runs once per generated token.
        ctx, vocab, cached, one, batch = (
            self._ctx,
            self._vocab,
            self._cached,
            self._one,
            self._one_batch,
        )
        sample, is_eog, decode = (
            llama_cpp.llama_sampler_sample,
            llama_cpp.llama_vocab_is_eog,
            llama_cpp.llama_decode,
        )
        pieces, detok = self._pieces, IncrementalDetokenizer()
        n_ctx, max_tokens, ignore_eos = self.n_ctx, sp.max_tokens, sp.ignore_eos
        unproven = not control.proven
        while True:
            if control.cancelled():
                return "stopped"
            if asm.in_reasoning and (control.answer_now() or asm.budget_exhausted()):
                # Bytes of a character still incomplete belong to the reasoning.
                if tail := detok.flush():
                    asm.add_token(tail, counted=False)
                forced = asm.force_answer("answer_now" if control.answer_now() else "think_budget")
                closing = self.tokenize(forced, add_bos=False)
                if len(cached) + len(closing) >= n_ctx:
                    return "length"
                self._decode(closing)
                continue
            if asm.generated_tokens >= max_tokens or len(cached) >= n_ctx:
                return "length"
            token = sample(sampler, ctx, -1)
            if is_eog(vocab, token) and not ignore_eos:
                tail = detok.flush()
                if tail:
                    asm.add_token(tail, counted=False)
                return "eos"
            piece = pieces.get(token)
            if piece is None:
                piece = self._piece(token)
            if unproven:
                # The first token is decoded before it is shown: until the CPU kernels have
                # run a whole decode here, a fault is retried with other kernels, and the
                # retry must not repeat text the user has already seen.
                self._decode_token(token)
                control.mark_proven()
                unproven = False
                if asm.add_token(detok.feed(piece)):
                    return "eos"
                continue
            if asm.add_token(detok.feed(piece)):
                return "eos"  # a stop string: the reply ended normally
            one[0] = token
            rc = decode(ctx, batch)
            if rc != 0:
                self._decode_failed(rc)
            cached.append(token)

    # -- helpers ---------------------------------------------------------------------

    def _decode_token(self, token: int) -> None:
        self._one[0] = token
        rc = llama_cpp.llama_decode(self._ctx, self._one_batch)
        if rc != 0:
            self._decode_failed(rc)
        self._cached.append(token)

    def _decode_failed(self, rc: int) -> None:
        self._reset_cache()
        raise EngineError(
            f"llama.cpp failed while generating (code {rc}).",
            "Try again; if it repeats, lower the context size.",
        )

    def make_sampler(self, sp: SamplingParams, seed: int) -> Any:
        return _make_sampler(sp, seed)

    def piece(self, token: int) -> bytes:
        """The token's bytes (cached: the same few thousand tokens recur)."""
        piece = self._pieces.get(token)
        return piece if piece is not None else self._piece(token)

    def count_progress(self, n: int) -> None:
        self._steps += n

    def watch_compute(self, ctx: Any, control: Control) -> None:
        """Report ``ctx``'s compute steps to the heartbeat, and stop them on cancel."""
        self._prefill_control = control
        llama_cpp.llama_set_abort_callback(ctx, self._abort_cb, None)

    def unwatch_compute(self, ctx: Any) -> None:
        llama_cpp.llama_set_abort_callback(ctx, _NO_ABORT_CALLBACK, None)
        self._prefill_control = None

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def _piece(self, token: int) -> bytes:
        buf = self._piece_buf
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        piece = buf.raw[:n]
        self._pieces[token] = piece
        return piece

    def _keep_prefix(self, tokens: Sequence[int]) -> int:
        """Keep the longest cached prefix of ``tokens``; returns how many tokens are kept."""
        cached = self._cached
        n = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            n += 1
        n = min(n, len(tokens) - 1)  # the last prompt token must be evaluated for logits
        if 0 < n < len(cached):
            # A sliding-window cache has dropped positions older than its window; the
            # suffix can only reuse the prefix if the window before position n is still
            # there. Asked before removing: afterwards the window may be empty, and an
            # empty one reports -1, which would pass (llama.cpp's server checks first too).
            if self.n_swa:
                oldest = llama_cpp.llama_memory_seq_pos_min(self._mem, 0)
                if oldest < 0 or oldest > max(0, n - self.n_swa):
                    n = 0
            if n and not llama_cpp.llama_memory_seq_rm(self._mem, 0, n, -1):
                n = 0
        if n <= 0:
            self._reset_cache()
            return 0
        del cached[n:]
        return n

    def _reset_cache(self) -> None:
        llama_cpp.llama_memory_clear(self._mem, True)
        self._cached.clear()

    def _decode(self, tokens: Sequence[int], control: Control | None = None) -> bool:
        """Evaluate tokens in batches; False if cancelled (between or inside batches)."""
        if control is not None:
            self.watch_compute(self._ctx, control)
        try:
            for i in range(0, len(tokens), N_BATCH):
                if control is not None and control.cancelled():
                    return False
                chunk = tokens[i : i + N_BATCH]
                arr = (llama_cpp.llama_token * len(chunk))(*chunk)
                batch = llama_cpp.llama_batch_get_one(arr, len(chunk))
                rc = llama_cpp.llama_decode(self._ctx, batch)
                if rc != 0:
                    self._reset_cache()  # an aborted batch leaves its part of the cache
                    if control is not None and control.cancelled():
                        return False
                    raise EngineError(
                        f"llama.cpp failed to evaluate the prompt (code {rc}).",
                        "Try again; if it repeats, lower the context size.",
                    )
                self._cached.extend(chunk)
            return True
        finally:
            if control is not None:
                self.unwatch_compute(self._ctx)


def _injected_fault(variant: str | None) -> None:
    """Tests: ``PONDER_INJECT_FAULT=SIGILL:zen4`` makes the engine die of SIGILL at its first
    decode while it runs that CPU library, as a kernel the CPU cannot execute would (no
    machine here faults for real on demand). ``*`` matches any library."""
    spec = os.environ.get("PONDER_INJECT_FAULT")
    if not spec or ":" not in spec:
        return
    name, _, target = spec.partition(":")
    if target in {"*", variant}:
        log.warning("injecting %s at the first decode (PONDER_INJECT_FAULT)", name)
        logging.shutdown()
        os.kill(os.getpid(), signal.Signals[name])


def _make_sampler(sp: SamplingParams, seed: int) -> Any:
    params = llama_cpp.llama_sampler_chain_default_params()
    params.no_perf = True
    chain = llama_cpp.llama_sampler_chain_init(params)
    add = llama_cpp.llama_sampler_chain_add
    if sp.temperature <= 0:
        add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    # top-k first: it shrinks a 150k-262k vocabulary before the costlier samplers run.
    if sp.top_k > 0:
        add(chain, llama_cpp.llama_sampler_init_top_k(sp.top_k))
    if sp.top_p < 1.0:
        add(chain, llama_cpp.llama_sampler_init_top_p(sp.top_p, 1))
    if sp.min_p > 0:
        add(chain, llama_cpp.llama_sampler_init_min_p(sp.min_p, 1))
    add(chain, llama_cpp.llama_sampler_init_temp(sp.temperature))
    add(chain, llama_cpp.llama_sampler_init_dist(seed))
    return chain
