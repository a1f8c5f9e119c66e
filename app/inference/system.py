"""What the installed llama.cpp was built with (loads llama.cpp only when asked), and this
machine as the fit planner sees it."""

from __future__ import annotations

from app.core.paths import app_paths
from app.hardware.probe import HardwareSnapshot, probe


def accelerator_backend() -> str:
    """The GPU backend compiled into llama.cpp (CUDA, Metal, Vulkan, ROCm...) or "CPU"."""
    from app.inference.backends.llama import compiled_backends

    accel = [b for b in compiled_backends() if b != "CPU"]
    return accel[0] if accel else "CPU"


def machine_snapshot() -> HardwareSnapshot:
    """This machine (CPU, RAM, GPUs, disk of the models folder, measured memory bandwidth,
    cached) with the backend llama.cpp was built for: what `ponder fit` and the window's
    model picker plan with."""
    paths = app_paths().ensure()
    return probe(paths.models_dir, accelerator_backend(), paths.cache_dir)
