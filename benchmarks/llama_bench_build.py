"""Build llama.cpp's own `llama-bench` from the exact source llama-cpp-python vendors."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "llama-bench"


def llama_bench_path() -> Path:
    """Path to llama-bench for the installed llama-cpp-python, building it if needed."""
    ver = version("llama-cpp-python")
    src = CACHE / f"llama_cpp_python-{ver}" / "vendor" / "llama.cpp"
    binary = src / "build" / "bin" / "llama-bench"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"llama_cpp_python-{ver}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(CACHE),
                f"llama-cpp-python=={ver}",
            ],
            check=True,
        )
    with tarfile.open(sdist) as tar:
        tar.extractall(CACHE, filter="data")
    subprocess.run(
        [
            "cmake",
            "-B",
            "build",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_OPENSSL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_BUILD_SERVER=OFF",
        ],
        cwd=src,
        check=True,
    )
    subprocess.run(
        ["cmake", "--build", "build", "--target", "llama-bench", "-j"], cwd=src, check=True
    )
    return binary
