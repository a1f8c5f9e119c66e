"""What a model argument on the command line means, shared by `ponder models` commands:
the model store, the Hub token, and name/path/catalog-id resolution."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import BadInputError
from app.core.paths import app_paths
from app.modelhub.catalog import load_catalog
from app.modelhub.discovery import FoundModel, Source, default_roots, discover
from app.modelhub.store import ModelStore


def model_store() -> ModelStore:
    return ModelStore.from_paths(app_paths().ensure())


def found_models(store: ModelStore) -> list[FoundModel]:
    return discover(default_roots(models_dir=store.models_dir, folders=store.folders()))


def resolve_model(arg: str, store: ModelStore, quant: str | None) -> FoundModel:
    """The model ``arg`` names: a path, an exact name from ``list``, a catalog id, or the
    last part of a name (``...-Q4_K_M``) when only one model ends so."""
    models = found_models(store)
    path = Path(arg).expanduser()
    wanted: Path | None = path if path.is_file() else None
    catalog = load_catalog()
    if wanted is None and arg.lower() in catalog.ids:
        q = catalog.get(arg).quant(quant)
        wanted = store.install_path(q.repo_id, q.first_file.path)
        if not wanted.is_file():
            raise BadInputError(
                f"{arg} {q.name} is not installed.", f"Download it: `ponder models download {arg}`."
            )
    if wanted is not None:
        for m in models:
            if any(f.exists() and os.path.samefile(f, wanted) for f in m.files):
                return m
        return FoundModel(wanted.stem, Source.FOLDER, (wanted,), wanted.stat().st_size, "")
    exact = [m for m in models if m.name.lower() == arg.lower()]
    tail = [m for m in models if m.name.lower().rsplit("/", 1)[-1] == arg.lower()]
    matches = exact or tail
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BadInputError(
            f"{arg} could mean {len(matches)} models: {', '.join(m.name for m in matches)}.",
            "Use the full name from `ponder models list`, or the path.",
        )
    raise BadInputError(
        f"No model called {arg} is on this machine.", "See `ponder models list` for the names."
    )
