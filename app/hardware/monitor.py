"""Live machine load for the hardware panel and the status bar: one sample at a time.

A ``Sampler`` is cheap to call about once a second: CPU load comes from psutil's
non-blocking counter (the busy share since the previous call, so it never sleeps), memory
from the kernel's counters, GPUs from NVML. Without an NVIDIA driver (or without
nvidia-ml-py) the sample simply has no GPUs and ``Sampler.note`` says why; a GPU that
fails mid-run loses its numbers for that sample, never the sampler.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psutil

from app.core.units import format_bytes

HISTORY_SIZE = 120  # two minutes at one sample a second

T = TypeVar("T")


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    vram_used: int
    vram_total: int
    utilization: float | None  # percent; None when the driver does not say


@dataclass(frozen=True)
class MonitorSample:
    """The machine at one moment, and the engine process if one was named.

    ``engine_rss`` is the engine's resident memory; ``engine_vram`` what NVML reports the
    engine process holds across GPUs (None without NVIDIA or when the driver hides it).
    """

    at: float  # time.monotonic()
    cpu_percent: float
    ram_used: int
    ram_total: int
    gpus: tuple[GpuSample, ...] = ()
    engine_pid: int | None = None
    engine_rss: int | None = None
    engine_vram: int | None = None


class History(Generic[T]):
    """The newest ``size`` values, oldest first: appending is O(1) and drops the oldest."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        if size < 1:
            raise ValueError("a history holds at least one value")
        self._items: deque[T] = deque(maxlen=size)

    @property
    def size(self) -> int:
        return self._items.maxlen or 0

    def append(self, item: T) -> None:
        self._items.append(item)

    def latest(self) -> T | None:
        return self._items[-1] if self._items else None

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


class Sampler:
    """Takes ``MonitorSample``s; create it, call ``sample`` repeatedly, then ``close``.

    Meant for one thread (the monitor worker's): NVML is initialised here once, not per
    sample, because initialising it takes tens of milliseconds.
    """

    def __init__(self, use_nvml: bool = True) -> None:
        self.note: str | None = None
        self._nvml: Any = None
        self._handles: list[tuple[int, str, Any]] = []
        self._proc: psutil.Process | None = None
        # The first non-blocking reading measures from import time; start the clock now.
        psutil.cpu_percent(interval=None)
        if use_nvml:
            self._open_nvml()
        else:
            self.note = "GPU monitoring is off."

    def _open_nvml(self) -> None:
        try:
            import pynvml
        except ImportError:
            self.note = "NVIDIA GPUs are not monitored: nvidia-ml-py is not installed."
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self.note = f"No NVIDIA GPU to monitor ({exc})."
            return
        self._nvml = pynvml
        try:
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(handle)
                self._handles.append((i, name if isinstance(name, str) else name.decode(), handle))
        except pynvml.NVMLError as exc:
            self.note = f"NVIDIA GPU details unknown ({exc})."

    def sample(self, engine_pid: int | None = None) -> MonitorSample:
        vm = psutil.virtual_memory()
        gpus, engine_vram = self._gpus(engine_pid)
        return MonitorSample(
            at=time.monotonic(),
            cpu_percent=psutil.cpu_percent(interval=None),
            ram_used=vm.total - vm.available,
            ram_total=vm.total,
            gpus=gpus,
            engine_pid=engine_pid,
            engine_rss=self._rss(engine_pid),
            engine_vram=engine_vram,
        )

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()
            self._nvml = None
            self._handles = []

    def _rss(self, pid: int | None) -> int | None:
        if pid is None:
            self._proc = None
            return None
        try:
            # One Process object per pid: psutil then notices a recycled pid (a new engine
            # under an old number) by its creation time instead of reading a stranger.
            if self._proc is None or self._proc.pid != pid:
                self._proc = psutil.Process(pid)
            if not self._proc.is_running():
                self._proc = None
                return None
            return int(self._proc.memory_info().rss)
        except psutil.Error:
            self._proc = None
            return None

    def _gpus(self, pid: int | None) -> tuple[tuple[GpuSample, ...], int | None]:
        nv = self._nvml
        if nv is None:
            return (), None
        out: list[GpuSample] = []
        engine_vram: int | None = None
        for index, name, handle in self._handles:
            try:
                mem = nv.nvmlDeviceGetMemoryInfo(handle)
            except nv.NVMLError:
                continue  # this GPU is unreadable right now; the others still count
            util: float | None = None
            with contextlib.suppress(nv.NVMLError):
                util = float(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
            out.append(GpuSample(index, name, int(mem.used), int(mem.total), util))
            if pid is not None:
                used = self._process_vram(handle, pid)
                if used is not None:
                    engine_vram = (engine_vram or 0) + used
        return tuple(out), engine_vram

    def _process_vram(self, handle: Any, pid: int) -> int | None:
        nv = self._nvml
        try:
            procs = nv.nvmlDeviceGetComputeRunningProcesses(handle)
        except nv.NVMLError:
            return None
        for proc in procs:
            # Drivers in containers or on Windows (WDDM) may hide per-process use: None.
            if proc.pid == pid and isinstance(proc.usedGpuMemory, int):
                return proc.usedGpuMemory
        return None


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f}"


def summary_text(sample: MonitorSample) -> str:
    """One line for the status bar during generation, e.g.
    "CPU 87% · RAM 9.1/24.0 GB · GPU0 45% 6.1/24.0 GB · Engine 612.3 MB"."""
    parts = [
        f"CPU {sample.cpu_percent:.0f}%",
        f"RAM {_gb(sample.ram_used)}/{_gb(sample.ram_total)} GB",
    ]
    for g in sample.gpus:
        util = f" {g.utilization:.0f}%" if g.utilization is not None else ""
        parts.append(f"GPU{g.index}{util} {_gb(g.vram_used)}/{_gb(g.vram_total)} GB")
    if sample.engine_rss is not None:
        engine = f"Engine {format_bytes(sample.engine_rss)}"
        if sample.engine_vram:
            engine += f" + {format_bytes(sample.engine_vram)} VRAM"
        parts.append(engine)
    return " · ".join(parts)
