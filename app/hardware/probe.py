"""What this machine has: CPU, RAM, GPUs (NVIDIA via NVML, Apple, AMD via sysfs), disk.

Every probe degrades to "unknown" with a reason in ``notes``; none raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

# Memory bandwidth of Apple chips (bytes/s), from Apple's specifications.
APPLE_BANDWIDTH_GBS = {
    "M1": 68,
    "M1 Pro": 200,
    "M1 Max": 400,
    "M1 Ultra": 800,
    "M2": 100,
    "M2 Pro": 200,
    "M2 Max": 400,
    "M2 Ultra": 800,
    "M3": 100,
    "M3 Pro": 150,
    "M3 Max": 400,
    "M3 Ultra": 819,
    "M4": 120,
    "M4 Pro": 273,
    "M4 Max": 546,
}


@dataclass(frozen=True)
class GpuInfo:
    name: str
    vendor: str  # nvidia | amd | apple
    vram_total: int
    vram_free: int
    bandwidth: float | None = None  # bytes/s
    utilization: float | None = None  # percent
    driver: str | None = None
    unified: bool = False  # shares system RAM (Apple)


@dataclass(frozen=True)
class HardwareSnapshot:
    cpu_model: str
    physical_cores: int
    logical_cores: int
    cpu_flags: tuple[str, ...]
    ram_total: int
    ram_available: int
    gpus: tuple[GpuInfo, ...] = ()
    disk_free: int | None = None
    cpu_bandwidth: float | None = None  # bytes/s, measured
    backend: str = "CPU"
    notes: tuple[str, ...] = field(default=())
    # llama.cpp CPU code left out because it faults here, one sentence each
    # ("AMX kernels fault on this machine (SIGILL); Ponder uses AVX-512 instead.").
    cpu_kernels_off: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_info() -> tuple[str, tuple[str, ...], list[str]]:
    notes: list[str] = []
    model = platform.processor() or platform.machine()
    flags: tuple[str, ...] = ()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                wanted = (
                    "avx",
                    "avx2",
                    "avx512f",
                    "avx512_vnni",
                    "avx512_bf16",
                    "fma",
                    "f16c",
                    "amx_tile",
                )
                have = set(value.split())
                flags = tuple(f for f in wanted if f in have)
    except OSError:
        if platform.system() == "Darwin":
            model = _sysctl("machdep.cpu.brand_string") or model
        else:
            notes.append("CPU flags unknown: /proc/cpuinfo is not readable here.")
    return model, flags, notes


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _nvidia_gpus(notes: list[str]) -> list[GpuInfo]:
    try:
        import pynvml
    except ImportError:
        notes.append("NVIDIA GPUs unknown: nvidia-ml-py is not installed.")
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        notes.append(f"No NVIDIA GPU found ({exc}).")
        return []
    gpus = []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            bandwidth = util = None
            try:
                bus = pynvml.nvmlDeviceGetMemoryBusWidth(h)
                clock = pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM)
                bandwidth = bus / 8 * clock * 1e6 * 2  # DDR: two transfers per clock
            except pynvml.NVMLError:
                notes.append("GPU memory bandwidth unknown: NVML does not report it.")
            with contextlib.suppress(pynvml.NVMLError):
                util = float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)
            name = pynvml.nvmlDeviceGetName(h)
            gpus.append(
                GpuInfo(
                    name if isinstance(name, str) else name.decode(),
                    "nvidia",
                    int(mem.total),
                    int(mem.free),
                    bandwidth,
                    util,
                    driver if isinstance(driver, str) else driver.decode(),
                )
            )
    except pynvml.NVMLError as exc:
        notes.append(f"NVIDIA GPU details unknown ({exc}).")
    finally:
        pynvml.nvmlShutdown()
    return gpus


def _amd_gpus(notes: list[str]) -> list[GpuInfo]:
    gpus = []
    for dev in sorted(Path("/sys/class/drm").glob("card[0-9]*/device")):
        total_file = dev / "mem_info_vram_total"
        if not total_file.exists():
            continue
        try:
            total = int(total_file.read_text())
            used = int((dev / "mem_info_vram_used").read_text())
            busy = dev / "gpu_busy_percent"
            util = float(busy.read_text()) if busy.exists() else None
        except (OSError, ValueError) as exc:
            notes.append(f"AMD GPU at {dev} unreadable ({exc}).")
            continue
        name = (
            (dev / "product_name").read_text().strip()
            if (dev / "product_name").exists()
            else f"AMD GPU ({dev.parent.name})"
        )
        gpus.append(GpuInfo(name, "amd", total, total - used, None, util))
    return gpus


def _apple_gpu(ram_total: int) -> list[GpuInfo]:
    chip = _sysctl("machdep.cpu.brand_string") or "Apple Silicon"
    key = chip.replace("Apple ", "")
    bandwidth = APPLE_BANDWIDTH_GBS.get(key)
    # Metal lets a process wire about 2/3 of unified memory (3/4 above 36 GB), as
    # recommendedMaxWorkingSetSize reports.
    usable = int(ram_total * (0.75 if ram_total > 36 * 2**30 else 0.66))
    free = min(usable, psutil.virtual_memory().available)
    return [
        GpuInfo(chip, "apple", usable, free, bandwidth * 1e9 if bandwidth else None, unified=True)
    ]


def measure_cpu_bandwidth(cache_dir: Path | None = None) -> float | None:
    """Sustained memory read bandwidth (bytes/s), measured once and cached per machine."""
    key = f"{platform.node()}|{psutil.virtual_memory().total}|{os.cpu_count()}"
    cache_file = cache_dir / "memory-bandwidth.json" if cache_dir else None
    if cache_file is not None and cache_file.exists():
        try:
            data = json.loads(cache_file.read_text())
            if data.get("key") == key:
                return float(data["bytes_per_s"])
        except (OSError, ValueError, KeyError):
            pass
    try:
        import numpy as np
    except ImportError:
        return None
    buf = np.ones(64 * 2**20, dtype=np.float32)  # 256 MB, beyond any cache
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        buf.sum()
        best = max(best, buf.nbytes / (time.perf_counter() - t0))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"key": key, "bytes_per_s": best}))
    return best


def probe(
    models_dir: Path | None = None,
    backend: str = "CPU",
    cache_dir: Path | None = None,
    bandwidth: bool = True,
) -> HardwareSnapshot:
    """Snapshot this machine; ``bandwidth=False`` skips the (cached) bandwidth measurement."""
    notes: list[str] = []
    model, flags, cpu_notes = _cpu_info()
    notes.extend(cpu_notes)
    vm = psutil.virtual_memory()
    gpus: list[GpuInfo] = []
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        gpus = _apple_gpu(vm.total)
    else:
        gpus = _nvidia_gpus(notes) + _amd_gpus(notes)
    disk = None
    if models_dir is not None:
        target = models_dir
        while not target.exists() and target != target.parent:
            target = target.parent
        try:
            disk = shutil.disk_usage(target).free
        except OSError as exc:
            notes.append(f"Free disk unknown ({exc.strerror}).")
    return HardwareSnapshot(
        cpu_model=model,
        physical_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        logical_cores=os.cpu_count() or 1,
        cpu_flags=flags,
        ram_total=vm.total,
        ram_available=vm.available,
        gpus=tuple(gpus),
        disk_free=disk,
        cpu_bandwidth=measure_cpu_bandwidth(cache_dir) if bandwidth else None,
        backend=backend,
        notes=tuple(notes),
    )
