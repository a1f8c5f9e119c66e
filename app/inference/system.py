"""What the installed llama.cpp was built with, and this machine as the fit planner sees it.

The GUI asks this to plan models, and the GUI must never load llama.cpp (a backend that
aborts while it registers would take the window down): the backend is read from the
library files llama-cpp-python ships, one per ggml backend, without loading any of them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from functools import cache
from pathlib import Path

from app.core.paths import app_paths
from app.hardware.probe import HardwareSnapshot, probe
from app.inference.cpu_safety import CpuSafety

# ggml's backend libraries (libggml-cuda.so, ggml-vulkan.dll ...) and the names llama.cpp
# gives those backends; the first one present wins, as the engine's offload does.
_BACKEND_LIBRARIES = {
    "cuda": "CUDA",
    "hip": "ROCm",
    "metal": "Metal",
    "vulkan": "Vulkan",
    "sycl": "SYCL",
    "musa": "MUSA",
    "cann": "CANN",
    "opencl": "OpenCL",
}
# The CPU code may be one library per instruction-set level (libggml-cpu-haswell.so).
_GGML_LIBRARY = re.compile(r"^(?:lib)?ggml-([a-z]+)(?:-[\w.]+)?\.(?:so|dylib|dll)", re.IGNORECASE)


@cache
def accelerator_backend() -> str:
    """The GPU backend compiled into llama.cpp (CUDA, Metal, Vulkan, ROCm...) or "CPU"."""
    spec = importlib.util.find_spec("llama_cpp")
    lib = Path(spec.origin).parent / "lib" if spec is not None and spec.origin else None
    if lib is not None and lib.is_dir():
        found = {m[1].lower() for f in lib.iterdir() if (m := _GGML_LIBRARY.match(f.name))}
        if "cpu" in found:  # one library per backend: the listing is the answer
            return next((name for key, name in _BACKEND_LIBRARIES.items() if key in found), "CPU")
    # Another layout (everything in one library): only llama.cpp itself can say.
    from app.inference.backends.llama import compiled_backends

    accel = [b for b in compiled_backends() if b != "CPU"]
    return accel[0] if accel else "CPU"


def machine_snapshot() -> HardwareSnapshot:
    """This machine (CPU, RAM, GPUs, disk of the models folder, measured memory bandwidth,
    cached) with the backend llama.cpp was built for: what `ponder fit` and the window's
    model picker plan with."""
    paths = app_paths().ensure()
    hw = probe(paths.models_dir, accelerator_backend(), paths.cache_dir)
    faults = CpuSafety(paths.cpu_safety).faults()
    return dataclasses.replace(hw, cpu_kernels_off=tuple(f.sentence() for f in faults))
