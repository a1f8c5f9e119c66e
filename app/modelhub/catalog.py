"""Typed, validated access to the R1 ladder in ``resources/catalog.json``.

The fit estimator (``app.hardware.shape``) reads the same file as plain dicts; this module
is what the downloader, the CLI and the model manager use: repos, quant files in shard
order and the best size known for each. The whole file is checked at load, so a damaged
catalog fails with one sentence naming the entry instead of a ``KeyError`` mid-download.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

from app.core.errors import BadInputError, CatalogError
from app.core.gguf import shard_info

CATALOG_PATH = Path(__file__).resolve().parents[2] / "resources" / "catalog.json"
DEFAULT_QUANT = "Q4_K_M"
SUPPORTED_SCHEMA = 2

SizeSource = Literal["exact", "listing", "estimate"]
_SIZE_SOURCES: tuple[SizeSource, ...] = ("exact", "listing", "estimate")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHAPE_INTS = (
    "parameters",
    "layers",
    "embedding_length",
    "feed_forward_length",
    "heads",
    "kv_heads",
    "key_length",
    "value_length",
    "context_length",
    "vocab_size",
)


@dataclass(frozen=True)
class CatalogFile:
    """One file of a quant, as a path inside its Hub repo (shards live in folders)."""

    path: str
    size_bytes: int | None  # exact, when known
    approx_bytes: int | None  # the Hub listing's rounded size

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class CatalogQuant:
    """A quantization of a catalog model: where it is and how big it is."""

    name: str
    repo_id: str
    files: tuple[CatalogFile, ...]
    size_bytes: int | None
    size_source: SizeSource
    bits_per_weight: float

    @property
    def sharded(self) -> bool:
        return len(self.files) > 1

    @property
    def first_file(self) -> CatalogFile:
        """The file llama.cpp is given; it finds the other shards beside it."""
        return self.files[0]

    def best_size(self, parameters: int) -> int:
        """Exact bytes when known, else the Hub listing's, else parameters x bits per weight."""
        if self.size_bytes:
            return self.size_bytes
        listed = [f.size_bytes or f.approx_bytes for f in self.files]
        if all(listed):
            return sum(cast(int, n) for n in listed)
        return int(parameters * self.bits_per_weight / 8)


@dataclass(frozen=True)
class CatalogRepo:
    """A Hub repository with GGUF builds of the model (the quant files name theirs)."""

    repo_id: str
    publisher: str
    note: str


@dataclass(frozen=True)
class CatalogModel:
    """One rung of the ladder. ``raw`` is the JSON entry the fit estimator takes."""

    id: str
    name: str
    size_label: str
    architecture: str
    parameters: int
    active_parameters: int | None
    base_model: str
    license: str
    license_id: str
    default_quant: str
    repos: tuple[CatalogRepo, ...]
    quants: tuple[CatalogQuant, ...]
    raw: Mapping[str, Any]

    @property
    def is_moe(self) -> bool:
        return self.active_parameters is not None

    @property
    def quant_names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.quants)

    def quant(self, name: str | None = None) -> CatalogQuant:
        """The named quant, or the default one; a bad name lists the choices."""
        wanted = name or self.default_quant
        for q in self.quants:
            if q.name.lower() == wanted.lower():
                return q
        raise BadInputError(
            f"{self.name} has no {wanted} build in the catalog.",
            f"Choose one of: {', '.join(self.quant_names)}.",
        )


@dataclass(frozen=True)
class Catalog:
    models: tuple[CatalogModel, ...]
    bits_per_weight: Mapping[str, float]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.models)

    def get(self, model_id: str) -> CatalogModel:
        for m in self.models:
            if m.id == model_id.lower():
                return m
        raise BadInputError(
            f"No catalog model called {model_id}.", f"Known models: {', '.join(self.ids)}."
        )

    def find_file(self, repo_id: str, path: str) -> tuple[CatalogModel, CatalogQuant] | None:
        """The catalog entry a Hub file belongs to (any shard of it), if any."""
        for m in self.models:
            for q in m.quants:
                if q.repo_id == repo_id and any(f.path == path for f in q.files):
                    return m, q
        return None


@cache
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Read and validate the catalog (once per process for a given path)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"The model catalog is missing ({path}).", "Reinstall Ponder.") from None
    except (OSError, ValueError) as exc:
        raise CatalogError(
            f"The model catalog {path} is unreadable: {exc}.", "Reinstall Ponder."
        ) from None
    return parse_catalog(data)


def parse_catalog(data: Any) -> Catalog:
    """Validate catalog JSON into typed entries; the first problem raises ``CatalogError``."""
    if not isinstance(data, dict):
        raise _bad("the top level is not an object")
    if data.get("schema_version") != SUPPORTED_SCHEMA:
        raise _bad(f"schema_version is {data.get('schema_version')!r}, expected {SUPPORTED_SCHEMA}")
    bpw = data.get("bits_per_weight")
    if not isinstance(bpw, dict) or not all(
        isinstance(v, int | float) and 0 < v < 64 for v in bpw.values()
    ):
        raise _bad("bits_per_weight must map quant names to positive numbers")
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise _bad("models must be a non-empty list")
    parsed = tuple(_model(m, bpw, i) for i, m in enumerate(models))
    seen: set[str] = set()
    for m in parsed:
        if m.id in seen:
            raise _bad(f"the id {m.id} appears twice")
        seen.add(m.id)
    return Catalog(models=parsed, bits_per_weight=dict(bpw))


def _bad(what: str) -> CatalogError:
    return CatalogError(f"The model catalog is damaged: {what}.", "Reinstall Ponder.")


def _model(entry: Any, bpw: Mapping[str, float], index: int) -> CatalogModel:
    if not isinstance(entry, dict):
        raise _bad(f"model #{index + 1} is not an object")
    where = f"model {entry.get('id', f'#{index + 1}')}"
    for key in ("id", "name", "size_label", "architecture", "license", "base_model"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise _bad(f"{where} has no {key}")
    for key in _SHAPE_INTS:
        if not _positive_int(entry.get(key)):
            raise _bad(f"{where}: {key} must be a positive integer")
    active = entry.get("active_parameters")
    if active is not None and not (_positive_int(active) and active < entry["parameters"]):
        raise _bad(f"{where}: active_parameters must be below parameters")
    repos = entry.get("repos")
    if not isinstance(repos, list) or not repos:
        raise _bad(f"{where} lists no Hub repos")
    repo_list = tuple(_repo(r, where) for r in repos)
    quants = entry.get("quants")
    if not isinstance(quants, dict) or not quants:
        raise _bad(f"{where} has no quants")
    quant_list = tuple(_quant(name, q, bpw, where) for name, q in quants.items())
    default = entry.get("default_quant", DEFAULT_QUANT)
    if default not in quants:
        raise _bad(f"{where}: default quant {default} is not among its quants")
    return CatalogModel(
        id=entry["id"],
        name=entry["name"],
        size_label=entry["size_label"],
        architecture=entry["architecture"],
        parameters=entry["parameters"],
        active_parameters=active,
        base_model=entry["base_model"],
        license=entry["license"],
        license_id=str(entry.get("license_id", "")),
        default_quant=default,
        repos=repo_list,
        quants=quant_list,
        raw=entry,
    )


def _repo(r: Any, where: str) -> CatalogRepo:
    if not isinstance(r, dict) or not _REPO_ID.match(str(r.get("repo_id", ""))):
        raise _bad(f"{where} has a repo without a valid owner/name repo_id")
    return CatalogRepo(
        repo_id=r["repo_id"],
        publisher=str(r.get("publisher") or r["repo_id"].split("/")[0]),
        note=str(r.get("note", "")),
    )


def _quant(name: str, q: Any, bpw: Mapping[str, float], where: str) -> CatalogQuant:
    where = f"{where} {name}"
    if name not in bpw:
        raise _bad(f"{where} has no bits_per_weight entry")
    if not isinstance(q, dict):
        raise _bad(f"{where} is not an object")
    if not _REPO_ID.match(str(q.get("repo", ""))):
        raise _bad(f"{where} has no valid repo")
    source = q.get("size_source")
    if source not in _SIZE_SOURCES:
        raise _bad(f"{where}: size_source must be one of {', '.join(_SIZE_SOURCES)}")
    size = q.get("size_bytes")
    if size is not None and not _positive_int(size):
        raise _bad(f"{where}: size_bytes must be a positive integer or null")
    if (source == "exact") != (size is not None):
        raise _bad(f"{where}: size_bytes is set exactly when size_source is exact")
    files = q.get("files")
    if not isinstance(files, list) or not files:
        raise _bad(f"{where} lists no files")
    parsed = tuple(_file(f, where) for f in files)
    _check_shards(parsed, where)
    if source == "listing" and not all(f.size_bytes or f.approx_bytes for f in parsed):
        raise _bad(f"{where}: a listing size needs a size for every file")
    return CatalogQuant(
        name=name,
        repo_id=q["repo"],
        files=parsed,
        size_bytes=size,
        size_source=cast(SizeSource, source),
        bits_per_weight=float(bpw[name]),
    )


def _file(f: Any, where: str) -> CatalogFile:
    if not isinstance(f, dict) or not isinstance(f.get("path"), str):
        raise _bad(f"{where} has a file without a path")
    path = f["path"]
    if not path.endswith(".gguf") or path.startswith("/") or ".." in PurePosixPath(path).parts:
        raise _bad(f"{where}: {path!r} is not a relative .gguf path")
    for key in ("size_bytes", "approx_bytes"):
        if f.get(key) is not None and not _positive_int(f[key]):
            raise _bad(f"{where}: {key} of {path} must be a positive integer or null")
    return CatalogFile(
        path=path, size_bytes=f.get("size_bytes"), approx_bytes=f.get("approx_bytes")
    )


def _check_shards(files: tuple[CatalogFile, ...], where: str) -> None:
    """A split model lists every shard, 1..N in order, all with the same stem and folder."""
    infos = [shard_info(f.path) for f in files]
    if len(files) == 1:
        if infos[0] is not None and infos[0][2] != 1:
            raise _bad(f"{where}: {files[0].path} is one shard of {infos[0][2]}; list them all")
        return
    stems = {
        (str(PurePosixPath(f.path).parent), i[0]) if i else None
        for f, i in zip(files, infos, strict=True)
    }
    if None in stems or len(stems) != 1:
        raise _bad(f"{where}: several files must be shards of one split model")
    indexes = [i[1] for i in infos if i]
    counts = {i[2] for i in infos if i}
    if indexes != list(range(1, len(files) + 1)) or counts != {len(files)}:
        raise _bad(f"{where}: shards must be numbered 1..{len(files)} of {len(files)}, in order")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
