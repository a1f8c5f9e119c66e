"""Measured decode speeds on this machine, and the efficiency (eta) they imply.

``ponder bench`` (which the app's Compare runs) records what each model file really did
here, one entry per benchmark, keyed by the machine (its CPU, RAM, GPUs and llama.cpp
backend), the file (``file_identity``: where it really is and its size) and where its
layers went. The model's architecture, geometry and size let a copy, another download or
the catalog entry of the same model use a file's figures when it has none of its own.

One bad run must not ruin every figure (a busy CPU once left each estimate 10x too low):

- a reply shorter than ``MIN_TOKENS`` is no measurement; its rate is mostly start-up;
- the last ``MAX_RUNS`` benchmarks of a file and placement are kept and the figure is
  their median (of two, the faster: contention only ever slows a run down);
- the eta for models never run here is the median over the benchmarks' etas with the 0.55
  starting value as one more vote, so a first benchmark moves it half-way, not all the way.

Two uses:

- a model with a measurement gets a verdict that says "measured", when, and from how many
  benchmarks, instead of a guess;
- every measurement of a pure CPU or pure GPU placement gives eta = measured tok/s x bytes
  read per token / bandwidth, which replaces the starting value for models never run
  here. A partial offload mixes two unknown etas, so it only counts as a measurement of
  its own model.

Files written before version 2 (no file identity, no token counts) still read: their
entries count as benchmarks of the model, not of one file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from app.core.atomic import write_atomic
from app.core.errors import AppError
from app.core.paths import app_paths
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import ModelShape
from app.hardware.speed import DEFAULT_ETA, bytes_per_token, format_rate

log = logging.getLogger(__name__)

CALIBRATION_FILE = "speed-calibration.json"
VERSION = 2  # 2: each entry names its file and the tokens behind each rate
# Outside this range the bandwidth figure, not llama.cpp, is wrong (a single-threaded
# numpy read can undercount a many-core machine's bandwidth, hence above 1).
ETA_MIN, ETA_MAX = 0.05, 1.5
SIZE_TOLERANCE = 0.03  # a catalog size (or a copy) of the same file; another quant is further
MAX_RATES = 50
MIN_TOKENS = 64  # fewer decoded tokens time the start of a reply, not its decode speed
MAX_RUNS = 5  # benchmarks kept per file and placement; older ones go

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
    """The decode rates of one benchmark of one model file with one placement here."""

    machine: str
    model: str
    model_name: str
    weights_bytes: int
    gpu_layers: int
    device: Device
    decode_tok_s: tuple[float, ...]
    eta: float | None  # None for a partial offload or an unknown bandwidth
    measured_at: str
    file: str = ""  # the file's ``file_identity``; "" when not known (version 1 files)
    tokens: tuple[int, ...] = ()  # tokens behind each rate; () when not known (version 1)

    @property
    def median(self) -> float:
        return statistics.median(self.decode_tok_s)

    def matches(self, machine: str, shape: ModelShape, gpu_layers: int) -> bool:
        """A measurement of this model (this file, a copy or its catalog entry) here."""
        size = shape.weights_bytes
        return (
            self.machine == machine
            and self.model == model_key(shape)
            and self.gpu_layers == gpu_layers
            and abs(self.weights_bytes - size) <= SIZE_TOLERANCE * max(size, 1)
        )

    def same_file(self, machine: str, shape: ModelShape, gpu_layers: int) -> bool:
        """A benchmark of the very file ``shape`` was read from, with this placement."""
        if not self.matches(machine, shape, gpu_layers):
            return False
        if self.file or shape.file_id:
            return self.file == shape.file_id
        return self.model_name == shape.name  # neither knows its file: the name must do


@dataclass(frozen=True)
class MeasuredSpeed:
    """What benchmarks here measured for one model and placement, and how it was had."""

    tok_s: float  # the median over the benchmarks (each its replies' median)
    runs: int  # benchmarks behind it
    replies: int
    latest: str  # ISO 8601 time of the newest benchmark; "" when not known

    @property
    def when(self) -> str:
        """The newest benchmark's local date (see ``local_date``)."""
        return local_date(self.latest)

    @property
    def how(self) -> str:
        """ "median of 3 benchmarks", or "1 benchmark, 12 replies"."""
        if self.runs > 1:
            return f"median of {self.runs} benchmarks"
        return f"1 benchmark, {self.replies} repl{'y' if self.replies == 1 else 'ies'}"

    @property
    def label(self) -> str:
        """ "~12 tok/s measured 3 May (median of 3 benchmarks)"."""
        rate = format_rate(self.tok_s)
        when = f" {self.when}" if self.when else ""
        return f"{'' if rate.startswith('<') else '~'}{rate} measured{when} ({self.how})"


def local_date(iso: str) -> str:
    """A stored time as a short local date, "3 May" (with the year when not this one);
    "" when it is not a time."""
    try:
        at = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    year = "" if at.year == datetime.now().astimezone().year else f" {at.year}"
    return f"{at.day} {at:%b}{year}"


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
    """The stored measurements; ``load`` reads the app's file, ``record`` adds and saves,
    ``reset`` forgets them all."""

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
        rates: Sequence[float],
        depth: int = 0,
        *,
        tokens: Sequence[int] | None = None,
    ) -> Measurement | None:
        """Store one benchmark's decode rates for this file and placement beside its
        latest ones (``MAX_RUNS`` in all) and save the file. None when no reply counts.

        Args:
            rates: each reply's decode tok/s.
            depth: typical tokens in the context while decoding (prompt + half the reply).
            tokens: the tokens each reply decoded, in the order of ``rates``: replies
                shorter than ``MIN_TOKENS`` are left out. None when not known.
        """
        counts: Sequence[int | None] = [None] * len(rates) if tokens is None else tokens
        kept = [
            (rate, n)
            for rate, n in zip(rates, counts, strict=True)
            if rate > 0 and (n is None or n >= MIN_TOKENS)
        ][-MAX_RATES:]
        if not kept:
            return None
        machine = machine_fingerprint(hw)
        etas = [derive_eta(shape, hw, gpu_layers, rate, depth) for rate, _ in kept]
        known = [e for e in etas if e is not None]
        m = Measurement(
            machine=machine,
            model=model_key(shape),
            model_name=shape.name,
            weights_bytes=shape.weights_bytes,
            gpu_layers=gpu_layers,
            device=device_of(shape, gpu_layers),
            decode_tok_s=tuple(round(rate, 3) for rate, _ in kept),
            eta=round(statistics.median(known), 4) if known else None,
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
            file=shape.file_id,
            tokens=() if tokens is None else tuple(n for _, n in kept if n is not None),
        )
        same = [old for old in self.measurements if old.same_file(machine, shape, gpu_layers)]
        dropped = {id(old) for old in same[: max(len(same) - (MAX_RUNS - 1), 0)]}
        self.measurements = [old for old in self.measurements if id(old) not in dropped]
        self.measurements.append(m)
        self.save()
        return m

    def measurement(
        self, hw: HardwareSnapshot, shape: ModelShape, gpu_layers: int
    ) -> MeasuredSpeed | None:
        """What was measured for this model with this placement here: the file's own
        benchmarks when it has some, else those of the same model (a copy, another
        download; all of them for a catalog entry)."""
        machine = machine_fingerprint(hw)
        found = [m for m in self.measurements if m.matches(machine, shape, gpu_layers)]
        own = [m for m in found if shape.file_id and m.file == shape.file_id]
        runs = own or found
        if not runs:
            return None
        return MeasuredSpeed(
            tok_s=statistics.median_high(m.median for m in runs),
            runs=len(runs),
            replies=sum(len(m.decode_tok_s) for m in runs),
            latest=max(m.measured_at for m in runs),
        )

    def measured(self, hw: HardwareSnapshot, shape: ModelShape, gpu_layers: int) -> float | None:
        """The measured decode rate of this model with this placement here (see
        ``measurement``)."""
        found = self.measurement(hw, shape, gpu_layers)
        return None if found is None else found.tok_s

    def on_machine(self, hw: HardwareSnapshot) -> list[Measurement]:
        """The benchmarks measured on this machine (with its engine build)."""
        machine = machine_fingerprint(hw)
        return [m for m in self.measurements if m.machine == machine]

    def eta(self, hw: HardwareSnapshot, device: Literal["cpu", "gpu"]) -> float:
        """This machine's eta for a device: the median over its benchmarks and the 0.55
        starting value, clamped; 0.55 until something has been measured."""
        etas = [m.eta for m in self.on_machine(hw) if m.device == device and m.eta is not None]
        if not etas:
            return DEFAULT_ETA
        return min(max(statistics.median([*etas, DEFAULT_ETA]), ETA_MIN), ETA_MAX)

    def reset(self) -> None:
        """Forget every measurement: the file goes, and predictions start from 0.55 again.

        Raises:
            AppError: the file could not be removed.
        """
        path = self.path or self.default_path()
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise AppError(
                f"Could not remove the speed measurements ({path}): {exc.strerror or exc}.",
                "Check that the folder is writable, or delete the file by hand.",
            ) from exc
        _CACHE.pop(path, None)
        self.measurements = []


_CACHE: dict[Path, tuple[tuple[int, int], tuple[Measurement, ...]]] = {}


def _measurement(raw: dict[str, object]) -> Measurement:
    rates = raw["decode_tok_s"]
    eta = raw.get("eta")
    tokens = raw.get("tokens") or []
    if not isinstance(rates, list) or not rates:
        raise ValueError("a measurement without rates")
    if not isinstance(tokens, list):
        raise ValueError("tokens is not a list")
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
        file=str(raw.get("file", "")),
        tokens=tuple(int(str(n)) for n in tokens),
    )
