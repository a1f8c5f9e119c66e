"""What the installed llama.cpp was built with (loads llama.cpp only when asked)."""

from __future__ import annotations


def accelerator_backend() -> str:
    """The GPU backend compiled into llama.cpp (CUDA, Metal, Vulkan, ROCm...) or "CPU"."""
    from app.inference.backends.llama import compiled_backends

    accel = [b for b in compiled_backends() if b != "CPU"]
    return accel[0] if accel else "CPU"
