"""Fit across machines: a model pooled over workers (llama.cpp RPC), and its speed.

With ``-ngl 999 --rpc ...`` llama-server puts every layer and the output head on the
workers, splitting them in proportion to the memory each offers; the token embeddings and
a compute buffer stay on the main machine. Each layer's KV cache lives with the layer.

Speed: a token reads each worker's share of the weights (at that worker's memory
bandwidth; the workers' own are unknown here, so this machine's measured bandwidth stands
in for theirs) and crosses the network once per worker boundary: one round trip (measured
to each worker when it was asked, on loopback about 0.05 ms; a LAN adds about 0.3-0.5 ms)
plus the activations (``n_embd`` floats, a few KB: negligible even on 1 Gbit/s). On a LAN
the hops matter only for small models; for the 671B the weights dominate.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.units import format_bytes
from app.hardware.estimator import RAM_RESERVE, compute_bytes, kv_layer_bytes
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import ModelShape
from app.hardware.speed import DEFAULT_ETA, SPREAD, SpeedRange
from app.hardware.workers import WorkerInfo

LAN_ROUND_TRIP_S = 0.0005  # assumed per worker hop when the measured one is faster
LAN_BYTES_PER_S = 1e9 / 8  # 1 Gbit/s for the activations
HEADROOM = 0.9  # of each worker's free memory: the OS and rpc-server need some


@dataclass(frozen=True)
class WorkerShare:
    address: str
    weights: int
    kv: int
    offered: int  # the worker's free memory

    @property
    def needed(self) -> int:
        return self.weights + self.kv


@dataclass(frozen=True)
class PooledPlan:
    """Whether a model runs across the given workers, how it splits, how fast."""

    fits: bool
    shares: tuple[WorkerShare, ...]
    needed: int  # on the workers altogether
    offered: int
    main_ram: int  # on this machine: embeddings, compute buffer, reserve
    speed: SpeedRange | None
    unusable: tuple[WorkerInfo, ...]  # unreachable or from another build
    n_ctx: int

    @property
    def summary(self) -> str:
        machines = len(self.shares)
        if not machines:
            return "No usable worker: " + "; ".join(
                f"{w.address} {w.problem or 'is from another llama.cpp build'}"
                for w in self.unusable
            )
        across = f"across {machines} machine{'s' if machines != 1 else ''}"
        sizes = f"{format_bytes(self.needed)} of {format_bytes(self.offered)}"
        if not self.fits:
            return f"Too large {across}: needs {sizes}"
        speed = f", {self.speed.approx} predicted (network included)" if self.speed else ""
        return f"Runs {across} ({sizes}){speed}"

    def split_lines(self) -> list[str]:
        """'10.0.0.5:50052: 61 GB of 64 GB (layers and their KV cache)' per worker."""
        return [
            f"{s.address}: {format_bytes(s.needed)} of {format_bytes(s.offered)} free"
            for s in self.shares
        ]


def plan_pooled(
    shape: ModelShape,
    hw: HardwareSnapshot,
    workers: list[WorkerInfo],
    n_ctx: int,
    expected_protocol: tuple[int, int, int] | None = None,
    *,
    eta: float = DEFAULT_ETA,
) -> PooledPlan:
    """Split ``shape`` over the usable ``workers`` in proportion to their free memory."""
    usable = [w for w in workers if w.compatible(expected_protocol)]
    unusable = tuple(w for w in workers if not w.compatible(expected_protocol))
    offered = sum(w.usable_bytes for w in usable)
    n = shape.n_layers
    # Layers (and each layer's cache) go to workers in order, each taking a share of the
    # layers in proportion to what it offers; the output head goes with the last.
    per_layer = [shape.layer_bytes[il] for il in range(n)]
    kv_per_layer = [kv_layer_bytes(shape, il, n_ctx) for il in range(n)]
    shares: list[WorkerShare] = []
    start = 0
    for i, w in enumerate(usable):
        count = n - start if i == len(usable) - 1 else round(n * w.usable_bytes / max(offered, 1))
        ids = range(start, min(n, start + count))
        weights = sum(per_layer[il] for il in ids)
        if i == len(usable) - 1:
            weights += shape.output_bytes
        kv = sum(kv_per_layer[il] for il in ids)
        shares.append(WorkerShare(w.address, weights, kv, w.usable_bytes))
        start = min(n, start + count)
    needed = sum(s.needed for s in shares)
    fits = bool(shares) and all(s.needed <= HEADROOM * s.offered for s in shares)
    main_ram = shape.embed_bytes + compute_bytes(shape, n_ctx, resident=True) + RAM_RESERVE
    fits = fits and main_ram <= hw.ram_available
    speed = None
    if fits and hw.cpu_bandwidth:
        seconds = 0.0
        for s, w in zip(shares, usable, strict=True):
            layer_read = s.weights * shape.active_fraction + s.kv / 2  # KV at half depth
            seconds += layer_read / (eta * hw.cpu_bandwidth)
            hop = max(w.round_trip_s or 0.0, LAN_ROUND_TRIP_S)
            seconds += hop + 4 * shape.n_embd / LAN_BYTES_PER_S
        rate = 1 / seconds
        speed = SpeedRange(rate * (1 - SPREAD), rate * (1 + SPREAD))
    return PooledPlan(fits, tuple(shares), needed, offered, main_ram, speed, unusable, n_ctx)
