"""Find GGUF models already on disk: Ponder's folder, the Hugging Face cache, LM Studio,
Ollama, Jan, GPT4All and folders the user added, without copying anything.

Scanning only lists and stats files, so it is quick even over hundreds of gigabytes;
headers (tens of MB with a tokenizer) are parsed later through ``HeaderCache``, on a
worker thread, once per file version. The same file reached through two roots (a hard
link, a symlink, an HF snapshot) is listed once, with the other places in ``also_at``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.core.errors import ModelFileError
from app.core.gguf import GGUFHeader, check_parts, read_header, shard_info
from app.core.gguf.constants import FILE_TYPES

log = logging.getLogger(__name__)

OLLAMA_MODEL = "application/vnd.ollama.image.model"
_MAX_DEPTH = 8
# Quant labels as they appear in file names, longest first so Q4_K_M wins over Q4_K.
_LABELS_IN_NAMES = sorted(
    {
        *FILE_TYPES.values(),
        *(f"Q{b}_K" for b in range(2, 7)),
        *(f"Q{b}_K_{s}" for b in range(2, 9) for s in ("L", "XL")),
        "IQ1_S",
        "IQ1_M",
        "IQ2_M",
    },
    key=len,
    reverse=True,
)
_QUANT = re.compile(
    rf"(?<![A-Za-z0-9])(UD-)?({'|'.join(map(re.escape, _LABELS_IN_NAMES))})(?![A-Za-z0-9])",
    re.IGNORECASE,
)


class Source(StrEnum):
    PONDER = "ponder"
    HUGGINGFACE = "huggingface"
    LMSTUDIO = "lmstudio"
    OLLAMA = "ollama"
    JAN = "jan"
    GPT4ALL = "gpt4all"
    FOLDER = "folder"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Source.PONDER: "Ponder",
    Source.HUGGINGFACE: "Hugging Face cache",
    Source.LMSTUDIO: "LM Studio",
    Source.OLLAMA: "Ollama",
    Source.JAN: "Jan",
    Source.GPT4ALL: "GPT4All",
    Source.FOLDER: "Your folder",
}


@dataclass(frozen=True)
class Root:
    source: Source
    path: Path


@dataclass(frozen=True)
class Location:
    source: Source
    path: Path


@dataclass(frozen=True)
class FoundModel:
    """A model on disk. ``path`` is what llama.cpp opens (the first shard when split)."""

    name: str
    source: Source
    files: tuple[Path, ...]
    size_bytes: int
    quantization: str  # from the file name; the header's is authoritative once read
    problem: str | None = None  # found unusable while scanning (a shard or blob missing)
    repo_id: str | None = None  # Hugging Face cache entries
    also_at: tuple[Location, ...] = ()

    @property
    def path(self) -> Path:
        return self.files[0]

    @property
    def sharded(self) -> bool:
        return len(self.files) > 1


@dataclass(frozen=True)
class Validation:
    """The validated header, or why the model cannot be loaded (it never is, then)."""

    header: GGUFHeader | None
    problem: str | None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def quantization(self) -> str | None:
        return self.header.quantization if self.header else None


def default_roots(
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    models_dir: Path | None = None,
    folders: Iterable[Path] = (),
) -> list[Root]:
    """Where each app keeps its models on this OS, in the order duplicates are credited.

    Everything comes from the arguments when given (tests pass a fake home and env).
    """
    home = home if home is not None else Path.home()
    env = env if env is not None else os.environ
    platform = platform or sys.platform
    roots: list[Root] = []
    if models_dir is not None:
        roots.append(Root(Source.PONDER, models_dir))
    roots.append(Root(Source.HUGGINGFACE, _hf_cache(home, env)))
    roots += [Root(Source.LMSTUDIO, home / ".lmstudio" / "models")]
    roots += [Root(Source.LMSTUDIO, home / ".cache" / "lm-studio" / "models")]
    ollama = env.get("OLLAMA_MODELS")
    roots.append(Root(Source.OLLAMA, Path(ollama) if ollama else home / ".ollama" / "models"))
    if platform.startswith("linux") and not ollama:
        roots.append(Root(Source.OLLAMA, Path("/usr/share/ollama/.ollama/models")))
    roots.append(Root(Source.JAN, home / "jan" / "models"))
    for data in _app_data_dirs(home, env, platform):
        roots.append(Root(Source.JAN, data / "Jan" / "data" / "llamacpp" / "models"))
        roots.append(Root(Source.JAN, data / "Jan" / "data" / "models"))
    for data in _app_data_dirs(home, env, platform):
        roots.append(Root(Source.GPT4ALL, data / "nomic.ai" / "GPT4All"))
    roots += [Root(Source.FOLDER, Path(f)) for f in folders]
    return roots


def _hf_cache(home: Path, env: Mapping[str, str]) -> Path:
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"])
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]) / "hub"
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else home / ".cache"
    return base / "huggingface" / "hub"


def _app_data_dirs(home: Path, env: Mapping[str, str], platform: str) -> list[Path]:
    if platform == "darwin":
        return [home / "Library" / "Application Support"]
    if platform == "win32":
        return [Path(env[k]) for k in ("APPDATA", "LOCALAPPDATA") if env.get(k)]
    data = env.get("XDG_DATA_HOME")
    return [Path(data) if data else home / ".local" / "share"]


def discover(roots: Sequence[Root]) -> list[FoundModel]:
    """Every model under ``roots``, each file once (credited to the first root that has it)."""
    by_key: dict[tuple[int, int], FoundModel] = {}
    order: list[FoundModel | tuple[int, int]] = []
    seen_roots: set[str] = set()
    for root in roots:
        real = os.path.realpath(root.path)
        if real in seen_roots or not root.path.is_dir():
            continue
        seen_roots.add(real)
        try:
            found = list(_scan(root))
        except OSError as exc:
            log.warning("Skipped %s (%s): %s", root.path, root.source.label, exc)
            continue
        for model in found:
            key = _file_key(model.path)
            if key is None:
                order.append(model)
            elif key in by_key:
                first = by_key[key]
                by_key[key] = _with_location(first, Location(model.source, model.path))
            else:
                by_key[key] = model
                order.append(key)
    return [by_key[item] if isinstance(item, tuple) else item for item in order]


def _with_location(model: FoundModel, where: Location) -> FoundModel:
    if where.path == model.path or where in model.also_at:
        return model
    return FoundModel(**{**model.__dict__, "also_at": (*model.also_at, where)})


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _scan(root: Root) -> Iterable[FoundModel]:
    if root.source is Source.HUGGINGFACE:
        return _scan_hf(root.path)
    if root.source is Source.OLLAMA:
        return _scan_ollama(root.path)
    return _scan_folder(root.path, root.source)


def _scan_folder(root: Path, source: Source) -> list[FoundModel]:
    files: list[Path] = []
    visited: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        depth = len(Path(folder).relative_to(root).parts)
        if real in visited or depth > _MAX_DEPTH:
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(folder) / n for n in sorted(names) if _is_model_file(n)]
    return _group(files, lambda first: str(first.relative_to(root).with_suffix("")), source)


def _is_model_file(name: str) -> bool:
    lower = name.lower()
    return (
        lower.endswith(".gguf") and not lower.startswith(("mmproj", ".")) and "mmproj" not in lower
    )


def _group(
    files: list[Path], name_of: Callable[[Path], str], source: Source, repo_id: str | None = None
) -> list[FoundModel]:
    """One model per single file or per complete set of shards; a gap makes it unusable."""
    shards: dict[tuple[Path, str, int], dict[int, Path]] = {}
    models: list[FoundModel] = []
    for f in files:
        info = shard_info(f.name)
        if info is None:
            models.append(_model(name_of(f), source, (f,), repo_id=repo_id))
        else:
            shards.setdefault((f.parent, info[0], info[2]), {})[info[1]] = f
    for (folder, stem, count), parts in shards.items():
        present = tuple(parts[i] for i in sorted(parts))
        missing = [i for i in range(1, count + 1) if i not in parts]
        problem = None
        if missing:
            problem = (
                f"Part {missing[0]} of {count} ({stem}-{missing[0]:05d}-of-{count:05d}.gguf) "
                "is missing; the model cannot load without every part."
            )
        first = present[0]
        name = name_of(folder / f"{stem}.gguf")
        models.append(
            _model(name, source, present, problem=problem, repo_id=repo_id, label=first.name)
        )
    return models


def _model(
    name: str,
    source: Source,
    files: tuple[Path, ...],
    *,
    problem: str | None = None,
    repo_id: str | None = None,
    label: str | None = None,
) -> FoundModel:
    size = 0
    for f in files:
        try:
            size += f.stat().st_size
        except OSError:
            problem = problem or f"{f} cannot be read (a broken link?)."
    return FoundModel(
        name=name,
        source=source,
        files=files,
        size_bytes=size,
        quantization=guess_quantization(label or name),
        problem=problem,
        repo_id=repo_id,
    )


def guess_quantization(name: str) -> str:
    """The quant label in a file name (``...-Q4_K_M.gguf`` -> ``Q4_K_M``), or ""."""
    matches = list(_QUANT.finditer(Path(name).name))
    return "".join(g or "" for g in matches[-1].groups()).upper() if matches else ""


def _scan_hf(cache: Path) -> list[FoundModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return []
    models: list[FoundModel] = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for rev in sorted(repo.revisions, key=lambda r: r.commit_hash):
            files = sorted(f.file_path for f in rev.files if _is_model_file(f.file_name))
            models += _group(
                files, _hf_namer(repo.repo_id, rev.snapshot_path), Source.HUGGINGFACE, repo.repo_id
            )
    return models


def _hf_namer(repo_id: str, snapshot: Path) -> Callable[[Path], str]:
    """Names like ``owner/repo/file`` (``owner/repo/folder/file`` for shards in folders)."""
    return lambda p: f"{repo_id}/{p.relative_to(snapshot).with_suffix('').as_posix()}"


def _scan_ollama(root: Path) -> list[FoundModel]:
    """manifests/HOST/NAMESPACE/NAME/TAG (JSON) -> the model layer's blob, named NAME:TAG."""
    manifests = root / "manifests"
    models: list[FoundModel] = []
    if not manifests.is_dir():
        return models
    for manifest in sorted(manifests.glob("*/*/*/*")):
        if not manifest.is_file():
            continue
        host, namespace, name, tag = manifest.relative_to(manifests).parts
        if host == "registry.ollama.ai":
            label = f"{name}:{tag}" if namespace == "library" else f"{namespace}/{name}:{tag}"
        else:
            label = f"{host}/{namespace}/{name}:{tag}"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            digest = next(
                layer["digest"]
                for layer in data.get("layers", [])
                if layer.get("mediaType") == OLLAMA_MODEL
            )
        except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
            continue  # not a model manifest (an adapter, a projector) or unreadable
        blob = root / "blobs" / str(digest).replace(":", "-")
        if not blob.is_file():
            models.append(
                _model(label, Source.OLLAMA, (blob,), problem="Its model blob is missing.")
            )
            continue
        models.append(_model(label, Source.OLLAMA, (blob,)))
    return models


class HeaderCache:
    """Validated headers by file version (path, size, mtime); parses happen outside the lock.

    ``peek`` never parses (for the GUI thread); ``validate`` parses once per file version
    even when several threads ask at the same time, and other files are not held up.
    """

    def __init__(self, max_entries: int = 16) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[object, ...], Validation] = OrderedDict()
        self._pending: dict[tuple[object, ...], threading.Lock] = {}

    def peek(self, model: FoundModel) -> Validation | None:
        key = _version(model.files)
        with self._lock:
            return self._entries.get(key) if key else None

    def validate(self, model: FoundModel) -> Validation:
        if model.problem:
            return Validation(None, model.problem)
        key = _version(model.files)
        if key is None:
            return Validation(None, f"{model.path} can no longer be read.")
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            key_lock = self._pending.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            result = _validate_files(model.files)
            with self._lock:
                self._entries[key] = result
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
                self._pending.pop(key, None)
        return result


def _version(files: tuple[Path, ...]) -> tuple[object, ...] | None:
    key: list[object] = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            return None
        key += [os.path.realpath(f), st.st_size, st.st_mtime_ns]
    return tuple(key)


def _validate_files(files: tuple[Path, ...]) -> Validation:
    """The first file's header (every shard must also be complete and in its place)."""
    try:
        header = read_header(files[0])
    except ModelFileError as exc:
        return Validation(None, exc.message)
    try:
        check_parts(files, header)
    except ModelFileError as exc:
        return Validation(header, exc.message)
    return Validation(header, None)
