"""Where a downloaded model file came from, kept beside it so it can be checked offline.

After a download is verified and installed, ``.<file>.ponder.json`` beside the GGUF records
the Hub repo, the file's path in it, the commit and the LFS SHA-256 it was checked against.
`ponder models verify` then needs no network for Ponder's own downloads, and the model list
can say which repo a file came from. The name starts with a dot and does not end in
``.gguf``, so neither Ponder's discovery nor other apps list it as a model.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.atomic import write_atomic

_VERSION = 1


@dataclass(frozen=True)
class Provenance:
    repo: str
    filename: str
    sha256: str
    size: int
    commit: str | None = None


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.ponder.json")


def record(path: Path, prov: Provenance) -> None:
    write_atomic(sidecar(path), json.dumps({"version": _VERSION, **asdict(prov)}, indent=1))


def read(path: Path) -> Provenance | None:
    """The recorded provenance of ``path``; None when there is none, it is unreadable, or
    the file's size no longer matches (the file was replaced since)."""
    try:
        data = json.loads(sidecar(path).read_text("utf-8"))
        size = os.stat(path).st_size
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return None
    try:
        prov = Provenance(
            repo=str(data["repo"]),
            filename=str(data["filename"]),
            sha256=str(data["sha256"]).lower(),
            size=int(data["size"]),
            commit=None if data.get("commit") is None else str(data["commit"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return prov if prov.size == size else None


def forget(path: Path) -> None:
    with contextlib.suppress(OSError):
        sidecar(path).unlink()
