"""Decode speed from memory bandwidth: generating a token reads every active weight once.

tok/s ~ eta x bandwidth / bytes read per token, with the time split across devices for a
partial offload and only the active experts counted for a mixture of experts. eta (how
much of the bandwidth llama.cpp achieves) starts at 0.55 and is replaced by what runs on
this machine measured (``calibration``), so predictions become measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.hardware.estimator import kv_layer_bytes
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import ModelShape

DEFAULT_ETA = 0.55
SPREAD = 0.25  # shown as a range: the model is simple, machines are not
MIN_SHOWN = 0.1  # tok/s: anything slower is shown as "< 0.1 tok/s", not as 0.0


@dataclass(frozen=True)
class SpeedRange:
    low: float
    high: float

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2

    def __str__(self) -> str:
        if self.high < MIN_SHOWN:
            return f"< {MIN_SHOWN} tok/s"
        if self.low < MIN_SHOWN:  # "0.0-0.3" would say it may not run at all
            return f"up to {format_rate(self.high)}"
        if self.high < 10:
            return f"{self.low:.1f}-{self.high:.1f} tok/s"
        return f"{self.low:.0f}-{self.high:.0f} tok/s"

    @property
    def approx(self) -> str:
        """The range as a summary writes it: "~1.7-2.8 tok/s", "< 0.1 tok/s"."""
        text = str(self)
        return text if text.startswith(("<", "up to")) else f"~{text}"


def format_rate(rate: float) -> str:
    """One decode rate for people: "12 tok/s", "2.8 tok/s", never "0.0 tok/s"."""
    if rate < MIN_SHOWN:
        return f"< {MIN_SHOWN} tok/s"
    return f"{rate:.1f} tok/s" if rate < 10 else f"{rate:.0f} tok/s"


def bytes_per_token(shape: ModelShape, gpu_layers: int, n_ctx: int) -> tuple[float, float]:
    """(bytes read on the GPU, bytes read on the CPU) per generated token, at half the
    context (the average depth of a reply that fills it)."""
    n = shape.n_layers
    on_gpu = min(max(gpu_layers, 0), n + 1)
    depth = max(n_ctx // 2, 1)
    gpu_bytes = cpu_bytes = 0.0
    for il in range(n):
        b = shape.layer_bytes[il] * shape.active_fraction + kv_layer_bytes(shape, il, depth)
        if il >= n - min(on_gpu, n):
            gpu_bytes += b
        else:
            cpu_bytes += b
    if on_gpu > n:
        gpu_bytes += shape.output_bytes
    else:
        cpu_bytes += shape.output_bytes
    return gpu_bytes, cpu_bytes


def predict_speed(
    shape: ModelShape,
    hw: HardwareSnapshot,
    gpu: GpuInfo | None,
    *,
    gpu_layers: int,
    n_ctx: int,
    eta_cpu: float = DEFAULT_ETA,
    eta_gpu: float = DEFAULT_ETA,
) -> SpeedRange | None:
    """Predicted decode rate as a range; ``eta_*`` come from ``calibration`` once this
    machine has measured runs. None when a bandwidth is unknown."""
    gpu_bytes, cpu_bytes = bytes_per_token(shape, gpu_layers if gpu else 0, n_ctx)
    seconds = 0.0
    if cpu_bytes:
        if not hw.cpu_bandwidth:
            return None
        seconds += cpu_bytes / (eta_cpu * hw.cpu_bandwidth)
    if gpu_bytes and gpu is not None:
        if not gpu.bandwidth:
            return None
        seconds += gpu_bytes / (eta_gpu * gpu.bandwidth)
    if seconds <= 0:
        return None
    rate = 1 / seconds
    return SpeedRange(rate * (1 - SPREAD), rate * (1 + SPREAD))
