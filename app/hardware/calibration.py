"""Measured decode speeds on this machine, and the efficiency (eta) they imply.

``ponder bench`` records what each model really did here, keyed by the machine (its CPU,
RAM, GPUs and llama.cpp backend), the model (architecture, geometry and size, so a copy or
the catalog entry of the same file matches) and where its layers went. Two uses:

- a model with a measurement gets a verdict that says "measured" instead of a guess;
- every measurement of a pure CPU or pure GPU placement gives eta = measured tok/s x bytes
  read per token / bandwidth; the median over them replaces the 0.55 starting value for
  models never run here. A partial offload mixes two unknown etas, so it only counts as a
  measurement of its own model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from app.core.atomic import write_atomic
from app.core.paths import app_paths
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import ModelShape
from app.hardware.speed import DEFAULT_ETA, bytes_per_token

log = logging.getLogger(__name__)

CALIBRATION_FILE = "speed-calibration.json"
VERSION = 1
# Outside this range the bandwidth figure, not llama.cpp, is wrong (a single-threaded
# numpy read can undercount a many-core machine's bandwidth, hence above 1).
ETA_MIN, ETA_MAX = 0.05, 1.5
SIZE_TOLERANCE = 0.03  # a catalog size (or a copy) of the same file; another quant is further
MAX_RATES = 50

Device = Literal["cpu", "gpu", "partial"]


def machine_fingerprint(hw: HardwareSnapshot) -> str:
    """The same machine with the same engine build, whatever is free at the moment."""
    parts = [
        hw.cpu_model,
        hw.logical_cores,
        round(hw.ram_total / 2**30),
        hw.backend,
        sorted((g.name, round(g.vram_total / 2**30)) for g in hw.gpus),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def model_key(shape: ModelShape) -> str:
    return f"{shape.architecture}|{shape.n_layers}|{shape.n_embd}|{shape.n_vocab}"


def best_gpu(hw: HardwareSnapshot) -> GpuInfo | None:
    """The GPU the planner and llama.cpp use: the one with the most free memory."""
    if hw.backend == "CPU" or not hw.gpus:
        return None
    return max(hw.gpus, key=lambda g: g.vram_free)


def device_of(shape: ModelShape, gpu_layers: int) -> Device:
    if gpu_layers <= 0:
        return "cpu"
    return "gpu" if gpu_layers > shape.n_layers else "partial"


@dataclass(frozen=True)
class Measurement:
    """The decode rates of one model with one placement on one machine (its latest bench)."""

    machine: str
    model: str
    model_name: str
    weights_bytes: int
    gpu_layers: int
    device: Device
    decode_tok_s: tuple[float, ...]
    eta: float | None  # None for a partial offload or an unknown bandwidth
    measured_at: str

    @property
    def median(self) -> float:
        return statistics.median(self.decode_tok_s)

    def matches(self, machine: str, shape: ModelShape, gpu_layers: int) -> bool:
        size = shape.weights_bytes
        return (
            self.machine == machine
            and self.model == model_key(shape)
            and self.gpu_layers == gpu_layers
            and abs(self.weights_bytes - size) <= SIZE_TOLERANCE * max(size, 1)
        )


def derive_eta(
    shape: ModelShape, hw: HardwareSnapshot, gpu_layers: int, rate: float, depth: int
) -> float | None:
    """The share of the bandwidth a measured rate implies (None when it cannot say)."""
    gpu = best_gpu(hw)
    gpu_bytes, cpu_bytes = bytes_per_token(shape, gpu_layers if gpu else 0, max(2 * depth, 2))
    if gpu_bytes and cpu_bytes:
        return None
    bandwidth = gpu.bandwidth if gpu_bytes and gpu is not None else hw.cpu_bandwidth
    if not bandwidth or rate <= 0:
        return None
    return rate * (gpu_bytes or cpu_bytes) / bandwidth


class Calibration:
    """The stored measurements; ``load`` reads the app's file, ``record`` adds and saves."""

    def __init__(self, measurements: list[Measurement], path: Path | None = None) -> None:
        self.measurements = measurements
        self.path = path

    @staticmethod
    def default_path() -> Path:
        return app_paths().cache_dir / CALIBRATION_FILE

    @classmethod
    def load(cls, path: Path | None = None) -> Calibration:
        """What has been measured; an unreadable file counts as no measurements (it is a
        cache of benchmark results, not the user's data)."""
        path = path or cls.default_path()
        try:
            stat = path.stat()
        except OSError:
            return cls([], path)
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == (stat.st_mtime_ns, stat.st_size):
            return cls(list(cached[1]), path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = [_measurement(m) for m in data["measurements"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable speed calibration %s: %s", path, exc)
            items = []
        _CACHE[path] = ((stat.st_mtime_ns, stat.st_size), tuple(items))
        return cls(items, path)

    def save(self) -> None:
        path = self.path or self.default_path()
        body = {"version": VERSION, "measurements": [asdict(m) for m in self.measurements]}
        write_atomic(path, json.dumps(body, indent=1) + "\n")

    def record(
        self,
        hw: HardwareSnapshot,
        shape: ModelShape,
        gpu_layers: int,
        rates: list[float],
        depth: int = 0,
    ) -> Measurement | None:
        """Store a bench's decode rates for this model and placement (replacing an older
        bench's: a new llama.cpp or driver changes the speed) and save the file.

        Args:
            depth: typical tokens in the context while decoding (prompt + half the reply).
        """
        rates = [r for r in rates if r > 0][-MAX_RATES:]
        if not rates:
            return None
        machine = machine_fingerprint(hw)
        etas = [derive_eta(shape, hw, gpu_layers, r, depth) for r in rates]
        known = [e for e in etas if e is not None]
        m = Measurement(
            machine=machine,
            model=model_key(shape),
            model_name=shape.name,
            weights_bytes=shape.weights_bytes,
            gpu_layers=gpu_layers,
            device=device_of(shape, gpu_layers),
            decode_tok_s=tuple(round(r, 3) for r in rates),
            eta=round(statistics.median(known), 4) if known else None,
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.measurements = [
            old
            for old in self.measurements
            if not (old.matches(machine, shape, gpu_layers) and old.model_name == shape.name)
        ]
        self.measurements.append(m)
        self.save()
        return m

    def measured(self, hw: HardwareSnapshot, shape: ModelShape, gpu_layers: int) -> float | None:
        """The median measured decode rate of this model with this placement here."""
        machine = machine_fingerprint(hw)
        found = [m for m in self.measurements if m.matches(machine, shape, gpu_layers)]
        if not found:
            return None
        return statistics.median(r for m in found for r in m.decode_tok_s)

    def eta(self, hw: HardwareSnapshot, device: Literal["cpu", "gpu"]) -> float:
        """This machine's eta for a device: the median over its measured models, clamped;
        0.55 until something has been measured."""
        machine = machine_fingerprint(hw)
        etas = [
            m.eta
            for m in self.measurements
            if m.machine == machine and m.device == device and m.eta is not None
        ]
        if not etas:
            return DEFAULT_ETA
        return min(max(statistics.median(etas), ETA_MIN), ETA_MAX)


_CACHE: dict[Path, tuple[tuple[int, int], tuple[Measurement, ...]]] = {}


def _measurement(raw: dict[str, object]) -> Measurement:
    rates = raw["decode_tok_s"]
    eta = raw.get("eta")
    if not isinstance(rates, list) or not rates:
        raise ValueError("a measurement without rates")
    device = str(raw["device"])
    if device not in ("cpu", "gpu", "partial"):
        raise ValueError(f"unknown device {device}")
    return Measurement(
        machine=str(raw["machine"]),
        model=str(raw["model"]),
        model_name=str(raw["model_name"]),
        weights_bytes=int(str(raw["weights_bytes"])),
        gpu_layers=int(str(raw["gpu_layers"])),
        device=device,  # type: ignore[arg-type]
        decode_tok_s=tuple(float(r) for r in rates),
        eta=None if eta is None else float(str(eta)),
        measured_at=str(raw.get("measured_at", "")),
    )
