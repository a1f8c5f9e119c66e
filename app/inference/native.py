"""llama.cpp's native files: where they are, which CPU code they hold, and loading it.

Ponder's llama.cpp is built portable (scripts/build_llama.py): the CPU code is one library
per instruction-set level (``libggml-cpu-haswell.so`` for AVX2, ``-zen4`` for AVX-512 with
BF16, ``-sapphirerapids`` for AMX...), and the engine loads the best one the CPU in front of
it can run, as llama.cpp's own ``ggml_backend_load_all`` would, except that levels known to
fault on this machine (see ``app.inference.cpu_safety``) are skipped.

Listing and describing the files is safe anywhere (the GUI asks); ``load_backends`` loads
native code and runs only in the engine process.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

_CPU_VARIANT = re.compile(r"^(?:lib)?ggml-cpu-([\w.]+)\.(?:so|dylib|dll)$")
_SHARED_SUFFIX = {"linux": ".so", "darwin": ".so", "win32": ".dll"}

# What each CPU level adds, in the words ``ponder hw`` uses ("AMX kernels fault on this
# machine; Ponder uses AVX-512 instead"). Names are llama.cpp's (ggml/src/CMakeLists.txt).
VARIANT_FEATURES = {
    "x64": "SSE2",
    "sse42": "SSE4.2",
    "sandybridge": "AVX",
    "ivybridge": "AVX (F16C)",
    "piledriver": "AVX (FMA)",
    "haswell": "AVX2",
    "alderlake": "AVX2 (AVX-VNNI)",
    "skylakex": "AVX-512",
    "cannonlake": "AVX-512 (VBMI)",
    "cascadelake": "AVX-512 (VNNI)",
    "icelake": "AVX-512 (VBMI, VNNI)",
    "cooperlake": "AVX-512 (VNNI, BF16)",
    "zen4": "AVX-512 (VBMI, VNNI, BF16)",
    "sapphirerapids": "AMX",
}


def describe_variant(name: str) -> str:
    """The instruction set a CPU level is named for ("AMX", "AVX-512 (VNNI)", "AVX2")."""
    return VARIANT_FEATURES.get(name, name)


@cache
def lib_dir() -> Path | None:
    """The folder with llama.cpp's libraries and programs, without loading any of them."""
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled is not None and (Path(bundled) / "llama_cpp" / "lib").is_dir():
        return Path(bundled) / "llama_cpp" / "lib"
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "lib"
    return folder if folder.is_dir() else None


def cpu_variants(folder: Path | None = None) -> dict[str, Path]:
    """The CPU levels this build holds, by llama.cpp's name (empty: one built-in CPU code)."""
    folder = folder if folder is not None else lib_dir()
    if folder is None:
        return {}
    found = {m[1]: p for p in folder.iterdir() if (m := _CPU_VARIANT.match(p.name))}
    return dict(sorted(found.items()))


@cache
def build_id(folder: Path | None = None) -> str:
    """Names this llama.cpp build (a remembered safe mode holds for one build only)."""
    folder = folder if folder is not None else lib_dir()
    if folder is None:
        return "unknown"
    record = folder / "ponder-build.json"
    if record.is_file():
        return hashlib.sha256(record.read_bytes()).hexdigest()[:16]
    stats = sorted(
        f"{p.name}:{p.stat().st_size}" for p in folder.iterdir() if p.name.startswith("lib")
    )
    return hashlib.sha256("\n".join(stats).encode()).hexdigest()[:16]


def rpc_protocol() -> tuple[int, int, int] | None:
    """The RPC protocol version of this build (a worker's major version must match)."""
    folder = lib_dir()
    try:
        record = json.loads((folder / "ponder-build.json").read_text()) if folder else {}
        major, minor, patch = record["rpc_protocol"]
        return int(major), int(minor), int(patch)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def program(name: str) -> Path | None:
    """One of llama.cpp's programs built with Ponder's llama.cpp (``rpc-server``...)."""
    folder = lib_dir()
    if folder is None:
        return None
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class LoadedCpu:
    """The CPU code the engine runs: its level and what it was chosen over."""

    variant: str | None  # None: a build with one CPU code (no levels to choose from)
    skipped: tuple[str, ...] = ()  # better levels left out because they fault here


def _score(path: Path) -> int:
    """llama.cpp's own verdict: 0 if this CPU cannot run the level, higher is better.

    The library is closed again, as ``ggml_backend_load_best`` does: fourteen CPU
    libraries left open beside the chosen one cost the engine 40% of its decode speed.
    """
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        log.warning("cannot open %s: %s", path.name, exc)
        return 0
    try:
        fn = getattr(lib, "ggml_backend_score", None)
        if fn is None:
            return 0
        fn.restype = ctypes.c_int
        return int(fn())
    finally:
        _dlclose(lib)


def _dlclose(lib: ctypes.CDLL) -> None:
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(lib._handle)


def choose_variant(variants: dict[str, Path], excluded: Collection[str]) -> tuple[str, list[str]]:
    """The best level this CPU can run that is not excluded, and the better ones skipped."""
    scored = sorted(
        ((s, name) for name, path in variants.items() if (s := _score(path)) > 0), reverse=True
    )
    if not scored:
        raise RuntimeError("this CPU can run none of llama.cpp's CPU libraries")
    skipped = [name for _, name in scored if name in excluded]
    usable = [name for _, name in scored if name not in excluded]
    # Everything excluded: the lowest level is the last resort, not no engine at all.
    return (usable[0] if usable else scored[-1][1]), skipped


_loaded: dict[str, LoadedCpu] = {}  # "cpu": what this process registered


def load_backends(excluded: Collection[str] = ()) -> LoadedCpu:
    """Register llama.cpp's backends in this process (the engine), once.

    A build without loadable backends (one library with everything) needs nothing.
    """
    if "cpu" in _loaded:
        return _loaded["cpu"]
    folder = lib_dir()
    variants = cpu_variants(folder)
    if folder is None or not variants:
        _loaded["cpu"] = LoadedCpu(None)
        return _loaded["cpu"]
    suffix = _SHARED_SUFFIX.get(sys.platform, ".so")
    prefix = "" if sys.platform == "win32" else "lib"
    ggml = ctypes.CDLL(str(folder / f"{prefix}ggml{suffix}"))
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    # GPU backends first, as ggml_backend_load_all does: llama.cpp lists devices in
    # registration order and offloads to the first.
    for path in sorted(folder.glob(f"{prefix}ggml-*{suffix}")):
        kind = path.name.removeprefix(prefix).removeprefix("ggml-").removesuffix(suffix)
        if kind in {"base", "rpc"} or kind.startswith("cpu"):
            continue
        if not ggml.ggml_backend_load(str(path).encode()):
            log.warning("could not load the %s backend (%s)", kind, path.name)
    chosen, skipped = choose_variant(variants, excluded)
    if not ggml.ggml_backend_load(str(variants[chosen]).encode()):
        raise RuntimeError(f"could not load llama.cpp's CPU library {variants[chosen].name}")
    log.info(
        "CPU code: %s (%s)%s",
        chosen,
        describe_variant(chosen),
        f"; skipped {', '.join(skipped)} (faults on this machine)" if skipped else "",
    )
    _loaded["cpu"] = LoadedCpu(chosen, tuple(skipped))
    return _loaded["cpu"]
