#!/usr/bin/env python3
"""Build llama.cpp, exactly as llama-cpp-python vendors it, once per version and backend.

One CMake build gives everything Ponder runs from llama.cpp:

- the shared libraries the Python bindings load (``libllama``, ``libggml``, ``libggml-base``);
- the CPU code as one loadable library per instruction-set level (``libggml-cpu-haswell.so``,
  ``-skylakex``, ``-zen4``, ``-sapphirerapids``...; ``GGML_BACKEND_DL`` +
  ``GGML_CPU_ALL_VARIANTS``), so the engine picks the one the CPU in front of it can run
  instead of the build machine's (``-DGGML_NATIVE=ON`` dies of SIGILL on older CPUs);
- llama.cpp's own programs: ``llama-server`` and ``ggml-rpc-server`` (the pooled engine
  and ``ponder worker``; RPC peers must come from the same build), ``llama-bench`` and
  ``llama-batched-bench`` (the native references in benchmarks/).

The result lives outside the clone, keyed by the llama-cpp-python version, the backend and
the flags (``$PONDER_BUILD_CACHE``, default ``~/.cache/ponder-build``), so a fresh clone on the
same machine reuses it. ``--install`` copies the libraries and programs into the ``lib``
folder of the llama-cpp-python that the Python running this script imports (the Makefile
installs those bindings without compiling: ``CMAKE_ARGS=-DLLAMA_BUILD=OFF``).

Prints the folder holding the build on its last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

# Bump when the build recipe below changes in a way the flags do not show.
RECIPE = 1

COMMON_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=ON",
    # Libraries and programs sit in one folder and find each other there, wherever it is
    # copied (the venv, the bundle).
    "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
    "-DCMAKE_INSTALL_RPATH=$ORIGIN",
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_RPC=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_APP=OFF",
    # The server's web page is not used (Ponder is the UI) and would be fetched from the Hub.
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
]

# x86-64 and arm64 get every CPU level llama.cpp knows; elsewhere one portable CPU library.
ALL_VARIANTS_ARCHES = {"x86_64", "amd64", "aarch64", "arm64"}

BACKEND_FLAGS = {
    "cpu": [],
    "cuda": ["-DGGML_CUDA=ON"],
    "metal": ["-DGGML_METAL=ON", "-DGGML_METAL_EMBED_LIBRARY=ON"],
    "vulkan": ["-DGGML_VULKAN=ON"],
    "rocm": ["-DGGML_HIP=ON"],
}

PROGRAMS = ["llama-server", "ggml-rpc-server", "llama-bench", "llama-batched-bench"]


def cache_root() -> Path:
    env = os.environ.get("PONDER_BUILD_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ponder-build"


def flags_for(backend: str, machine: str) -> list[str]:
    flags = [*COMMON_FLAGS, *BACKEND_FLAGS[backend]]
    if machine.lower() in ALL_VARIANTS_ARCHES and backend != "metal":
        flags.append("-DGGML_CPU_ALL_VARIANTS=ON")
    return flags


def build_key(version: str, backend: str, flags: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([RECIPE, flags]).encode()).hexdigest()[:10]
    return f"llama-cpp-python-{version}-{backend}-{digest}"


def fetch_source(version: str, root: Path) -> Path:
    """The vendored llama.cpp of llama-cpp-python's sdist (downloaded once)."""
    src = root / "src" / f"llama_cpp_python-{version}"
    if (src / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        return src / "vendor" / "llama.cpp"
    (root / "src").mkdir(parents=True, exist_ok=True)
    sdist = root / "src" / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
             "--no-binary", ":all:", "-d", str(root / "src"), f"llama-cpp-python=={version}"],
            check=True,
        )
    with tarfile.open(sdist) as tar:
        tar.extractall(root / "src", filter="data")
    return src / "vendor" / "llama.cpp"


def build(version: str, backend: str, jobs: int) -> Path:
    machine = os.uname().machine
    flags = flags_for(backend, machine)
    root = cache_root()
    out = root / build_key(version, backend, flags)
    stamp = out / "build.json"
    if stamp.exists():
        return out
    source = fetch_source(version, root)
    tree = out / "tree"
    subprocess.run(["cmake", "-S", str(source), "-B", str(tree), *flags], check=True)
    # `ggml` pulls in every CPU variant and backend module (they are its dependencies).
    targets = ["llama", "ggml", *PROGRAMS]
    subprocess.run(
        ["cmake", "--build", str(tree), "--config", "Release", "-j", str(jobs),
         "--target", *targets],
        check=True,
    )
    built = tree / "bin"
    bin_dir = out / "bin"
    if bin_dir.exists():
        shutil.rmtree(bin_dir)
    bin_dir.mkdir(parents=True)
    for item in sorted(built.iterdir()):
        if item.is_file() and (".so" in item.name or item.suffix in {".dylib", ".dll"}
                               or item.name in PROGRAMS or item.stem in PROGRAMS):
            # libllama.so -> .so.0 -> .so.0.5.0 stay links, not three copies.
            shutil.copy2(item, bin_dir / item.name, follow_symlinks=False)
    # The object files are not needed once the binaries are copied out (about 1 GB).
    shutil.rmtree(tree, ignore_errors=True)
    variants = sorted(p.name for p in bin_dir.glob("*ggml-cpu*"))
    stamp.write_text(
        json.dumps(
            {"version": version, "backend": backend, "machine": machine, "flags": flags,
             "cpu_variants": variants, "programs": PROGRAMS},
            indent=2,
        )
    )
    return out


def install(out: Path, lib_dir: Path) -> None:
    """Put the build's libraries and programs into the bindings' lib folder."""
    lib_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*lib_dir.glob("*ggml*"), *lib_dir.glob("libllama*"), *lib_dir.glob("libmtmd*")]:
        stale.unlink()
    for item in (out / "bin").iterdir():
        target = lib_dir / item.name
        if target.exists() or target.is_symlink():
            target.unlink()
        shutil.copy2(item, target, follow_symlinks=False)
    record = json.loads((out / "build.json").read_text())
    record["rpc_protocol"] = rpc_protocol(record["version"])
    (lib_dir / "ponder-build.json").write_text(json.dumps(record, indent=2))


def rpc_protocol(version: str) -> list[int] | None:
    """The RPC protocol version of this build (workers must share its major version)."""
    header = (
        cache_root() / "src" / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
        / "ggml" / "include" / "ggml-rpc.h"
    )
    try:
        text = header.read_text()
    except OSError:
        return None
    found = [re.search(rf"RPC_PROTO_{part}_VERSION\s+(\d+)", text) for part in
             ("MAJOR", "MINOR", "PATCH")]
    return [int(m[1]) for m in found] if all(found) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="llama-cpp-python version to build")
    parser.add_argument("--backend", default="cpu", choices=sorted(BACKEND_FLAGS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--install", action="store_true",
                        help="copy the build into llama_cpp/lib of this Python's bindings")
    args = parser.parse_args()
    out = build(args.version, args.backend, args.jobs)
    if args.install:
        import importlib.util

        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or not spec.origin:
            sys.exit("llama-cpp-python is not installed in this Python")
        install(out, Path(spec.origin).parent / "lib")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
