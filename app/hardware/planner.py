"""Where a model's layers go, how much context it gets, and the honest verdict.

Rules: every layer plus the output head on the GPU when they fit with the reserve (the
head counts: leaving it on the CPU halves speed); otherwise shrink the context, not below
4096, before offloading less; otherwise the most layers that fit; otherwise the CPU;
otherwise refuse, saying how much is needed and how much there is.

Speeds are predictions from bandwidth with this machine's calibrated eta, or, for a model
`ponder bench` has run here with the same placement, the measured rate (with when and how).

A model the estimator cannot size never reaches the planner: reading its shape
(``app.hardware.shape``) raises ``CannotSizeError`` with a sentence, and callers that can
do without a verdict catch ``AppError`` and show the fit as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.core.errors import ModelTooLargeError
from app.core.units import DEFAULT_CONTEXT, format_bytes
from app.hardware.calibration import Calibration, MeasuredSpeed, best_gpu
from app.hardware.estimator import MemoryBreakdown, breakdown, compute_bytes, kv_cache_bytes
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import ModelShape
from app.hardware.speed import SpeedRange, predict_speed

MIN_CTX = 4096

Verdict = Literal["gpu", "partial", "cpu", "too_large"]


@dataclass(frozen=True)
class FitPlan:
    verdict: Verdict
    n_gpu_layers: int
    n_ctx: int
    memory: MemoryBreakdown
    speed: SpeedRange | None
    gpu: GpuInfo | None
    ram_budget: int
    vram_budget: int
    n_layers: int
    wanted_ctx: int
    measurement: MeasuredSpeed | None = None  # what benchmarks measured for this placement

    @property
    def capacity(self) -> int:
        """Memory free for a model: RAM and VRAM together, except when the GPU shares the
        RAM (Apple), where its budget is part of the RAM and must not count twice."""
        if self.gpu is not None and self.gpu.unified:
            return self.ram_budget
        return self.ram_budget + self.vram_budget

    @property
    def measured(self) -> float | None:
        """The decode tok/s benchmarks measured for this placement here, if any."""
        return None if self.measurement is None else self.measurement.tok_s

    @property
    def summary(self) -> str:
        speed = f", {self.speed.approx}" if self.speed else ""
        if self.measurement is not None and self.verdict != "too_large":
            speed = f", {self.measurement.label}"
        if self.verdict != "too_large" and self.n_ctx < self.wanted_ctx:
            speed += f" (context {self.n_ctx:,})"
        if self.verdict == "gpu":
            return f"Fits on GPU{speed}"
        if self.verdict == "partial":
            return f"Partial offload {self.n_gpu_layers}/{self.n_layers + 1} layers{speed}"
        if self.verdict == "cpu":
            return f"CPU only{speed}"
        need = self.memory.ram + self.memory.vram
        return f"Too large: needs {format_bytes(need)}, has {format_bytes(self.capacity)}"


def plan(
    shape: ModelShape,
    hw: HardwareSnapshot,
    n_ctx: int | None = None,
    gpu_layers: int | None = None,
    calibration: Calibration | None = None,
) -> FitPlan:
    """Plan a load. ``n_ctx=None`` picks the largest context up to 16,384 (and the trained
    length) that keeps the best placement; ``gpu_layers`` forces a layer count;
    ``calibration`` defaults to the measurements stored for this app."""
    wanted = n_ctx or min(DEFAULT_CONTEXT, shape.n_ctx_train or DEFAULT_CONTEXT)
    gpu: GpuInfo | None = best_gpu(hw)
    cal = calibration if calibration is not None else Calibration.load()
    eta_cpu, eta_gpu = cal.eta(hw, "cpu"), cal.eta(hw, "gpu")
    vram = gpu.vram_free if gpu else 0
    # Unified memory: what the GPU takes comes out of the same RAM.
    ram = hw.ram_available
    contexts = [wanted] if n_ctx else _shrinking(wanted)
    n = shape.n_layers

    def fits(mem: MemoryBreakdown) -> bool:
        if gpu is not None and gpu.unified:
            return mem.vram <= vram and mem.vram + mem.ram - mem.ram_reserve <= ram
        return mem.vram <= vram and mem.ram <= ram

    def make(verdict: Verdict, layers: int, ctx: int) -> FitPlan:
        mem = breakdown(shape, ctx, layers)
        return FitPlan(
            verdict,
            layers,
            ctx,
            mem,
            predict_speed(
                shape, hw, gpu, gpu_layers=layers, n_ctx=ctx, eta_cpu=eta_cpu, eta_gpu=eta_gpu
            ),
            gpu,
            ram,
            vram,
            n,
            wanted,
            None if verdict == "too_large" else cal.measurement(hw, shape, layers),
        )

    if gpu_layers is not None:
        layers = min(gpu_layers, n + 1) if gpu else 0
        for ctx in contexts:
            if fits(breakdown(shape, ctx, layers)):
                return make("gpu" if layers > n else "partial" if layers else "cpu", layers, ctx)
        return make("too_large", layers, contexts[-1])

    if gpu is not None:
        for ctx in contexts:
            if fits(breakdown(shape, ctx, n + 1)):
                return make("gpu", n + 1, ctx)
        ctx = contexts[-1]
        best = max((k for k in range(1, n + 1) if fits(breakdown(shape, ctx, k))), default=0)
        if best:
            return make("partial", best, ctx)
    for ctx in contexts:
        if fits(breakdown(shape, ctx, 0)):
            return make("cpu", 0, ctx)
    return make("too_large", 0, contexts[-1])


def plan_load(
    shape: ModelShape, hw: HardwareSnapshot, n_ctx: int = 0, gpu_layers: int = -1
) -> tuple[int, int]:
    """(GPU layers, context) to load with; 0 context and -1 layers mean "plan them".

    Raises:
        ModelTooLargeError: the model is predicted not to fit at all.
    """
    if gpu_layers >= 0 and n_ctx:
        return gpu_layers, n_ctx
    fit = plan(shape, hw, n_ctx=n_ctx or None, gpu_layers=None if gpu_layers < 0 else gpu_layers)
    if fit.verdict == "too_large":
        raise ModelTooLargeError(
            f"{shape.name} needs about {format_bytes(fit.memory.ram + fit.memory.vram)} to "
            f"run but this machine has {format_bytes(fit.capacity)} free.",
            "Pick a smaller size or quantization (`ponder hw` shows what fits), or close "
            "other programs.",
        )
    return (fit.n_gpu_layers if gpu_layers < 0 else gpu_layers), (n_ctx or fit.n_ctx)


def _shrinking(n_ctx: int) -> list[int]:
    out = [n_ctx]
    while out[-1] > MIN_CTX:
        out.append(max(MIN_CTX, out[-1] // 2))
    return out


MIN_GROUP_TOKENS = 1024
GROUP_SLACK_TOKENS = 16  # per sample: the closing tags an answer-now or think budget adds


@dataclass(frozen=True)
class GroupPlan:
    """How many answers of what length a group reply gets, and its context's size."""

    samples: int
    max_tokens: int
    n_ctx: int
    kv_bytes: int
    note: str = ""  # why it is fewer or shorter than asked ("" when as asked)


def plan_group(
    shape: ModelShape, free_bytes: int, prompt_tokens: int, samples: int, max_tokens: int
) -> GroupPlan:
    """Fit a group reply's KV cache (the prompt once, plus ``samples`` x ``max_tokens``)
    into ``free_bytes``: first shorten the answers (not below 1,024 tokens), then sample
    fewer (not below 2), else refuse.

    Raises:
        ModelTooLargeError: not even two short answers fit.
    """
    per_seq = max_tokens
    if shape.n_ctx_train:  # positions past the trained length are not positions it knows
        per_seq = min(per_seq, max(shape.n_ctx_train - prompt_tokens, 1))

    def ctx_for(n: int, m: int) -> int:
        return prompt_tokens + n * (m + GROUP_SLACK_TOKENS)

    def fits(n: int, m: int) -> bool:
        ctx = ctx_for(n, m)
        # The group's decode batches return logits for every live sample.
        return (
            kv_cache_bytes(shape, ctx)
            + compute_bytes(shape, ctx, resident=True)
            + (4 * n * shape.n_vocab)
            <= free_bytes
        )

    n, m = samples, per_seq
    while not fits(n, m) and m > MIN_GROUP_TOKENS:
        m = max(MIN_GROUP_TOKENS, m // 2)
    while not fits(n, m) and n > 2:
        n -= 1
    ctx = ctx_for(n, m)
    kv = kv_cache_bytes(shape, ctx)
    if not fits(n, m):
        raise ModelTooLargeError(
            f"A group of {n} answers of {m:,} tokens needs {format_bytes(kv)} of memory for "
            f"the context, and {format_bytes(free_bytes)} is free.",
            "Ask for fewer samples or fewer tokens, or close other programs.",
        )
    note = ""
    if (n, m) != (samples, max_tokens):
        note = (
            f"Sampling {n} answers of up to {m:,} tokens (asked {samples} of {max_tokens:,}): "
            f"that is what fits in {format_bytes(free_bytes)} of free memory"
            + (" and the model's trained context." if m < MIN_GROUP_TOKENS else ".")
        )
    return GroupPlan(n, m, ctx, kv, note)
