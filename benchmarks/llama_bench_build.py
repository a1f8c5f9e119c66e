"""llama.cpp's own ``llama-bench``, from the exact source llama-cpp-python vendors.

- ``llama_bench_path()``: the one built with Ponder's llama.cpp (scripts/build_llama.py),
  the same libraries the engine runs: the native reference for the engine benchmarks.
- ``native_llama_bench_path()``: a ``-DGGML_NATIVE=ON`` build for this CPU only (what
  `make` built before the portable build), to measure what portability costs. Built once
  per version outside the clone, beside Ponder's build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.inference import native  # noqa: E402
from scripts.build_llama import cache_root, fetch_source  # noqa: E402


def llama_bench_path() -> Path:
    """llama-bench of Ponder's own (portable) llama.cpp build."""
    path = native.program("llama-bench")
    if path is None:
        raise SystemExit("llama-bench is not beside Ponder's llama.cpp; run `make` first")
    return path


def native_llama_bench_path() -> Path:
    """llama-bench built for this CPU's instruction set only, building it if needed."""
    ver = version("llama-cpp-python")
    root = cache_root()
    tree = root / f"llama-bench-native-{ver}"
    binary = tree / "bin" / "llama-bench"
    if binary.exists():
        return binary
    source = fetch_source(ver, root)
    flags = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DGGML_NATIVE=ON",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
    ]
    subprocess.run(["cmake", "-S", str(source), "-B", str(tree), *flags], check=True)
    subprocess.run(
        ["cmake", "--build", str(tree), "--target", "llama-bench", "-j", str(os.cpu_count() or 2)],
        check=True,
    )
    return binary
