"""`ponder models verify`: re-hash a model's files and compare them with the SHA-256 they
should have: the one recorded when Ponder downloaded them (no network needed), the Hugging
Face cache's blob name, or the Hub's LFS hash; then validate the header."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from pathlib import Path

from app.cli.model_lookup import model_store, resolve_model
from app.cli.output import print_json
from app.cli.progress import progress_view
from app.core import errors
from app.core.errors import AppError
from app.modelhub import provenance
from app.modelhub.discovery import FoundModel, HeaderCache, Source
from app.modelhub.downloader import ProgressMeter
from app.modelhub.hub import list_gguf_files
from app.modelhub.secrets import TokenStore
from app.modelhub.store import IMPORTED, ModelStore

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_VERDICTS = {
    "ok": "SHA-256 matches",
    "mismatch": "SHA-256 does NOT match",
    "unchecked": "no SHA-256 to compare with (use --repo OWNER/REPO)",
}


def _hub_repo(model: FoundModel, store: ModelStore, repo: str | None) -> str | None:
    """The Hub repo a model came from: given, or read from its folder (Ponder's and
    LM Studio's OWNER/REPO/FILE layout, the Hugging Face cache's repo id)."""
    if repo or model.repo_id:
        return repo or model.repo_id
    if store.owns(model.path):
        parts = model.path.relative_to(store.models_dir).parts
        return f"{parts[0]}/{parts[1]}" if parts[0] != IMPORTED and len(parts) >= 3 else None
    if model.source is Source.LMSTUDIO:
        return f"{model.path.parent.parent.name}/{model.path.parent.name}"
    return None


def expected_hashes(
    model: FoundModel, store: ModelStore, repo_arg: str | None
) -> tuple[str | None, dict[str, str | None], str]:
    """The repo, the SHA-256 each file should have (by file name, None where nothing
    says), and where those hashes came from."""
    if repo_arg is None:
        recorded = [provenance.read(f) for f in model.files]
        if all(recorded):
            first = recorded[0]
            assert first is not None
            hashes = {f.name: p.sha256 for f, p in zip(model.files, recorded, strict=True) if p}
            return first.repo, dict(hashes), "recorded when Ponder downloaded it"
    repo = _hub_repo(model, store, repo_arg)
    blob_names = [Path(os.path.realpath(f)).name for f in model.files]
    if model.source is Source.HUGGINGFACE and all(_SHA256.match(b) for b in blob_names):
        # The HF cache names each LFS blob by its SHA-256: no network needed.
        hashes = {f.name: b for f, b in zip(model.files, blob_names, strict=True)}
        return repo, dict(hashes), "the Hugging Face cache's blob names"
    hub: dict[str, str | None] = {}
    if repo:
        try:
            hub = {f.name: f.sha256 for f in list_gguf_files(repo, token=TokenStore().for_hub())}
        except errors.HubNotFoundError:
            if repo_arg:
                raise
            repo = None  # a folder name that only looked like a repo
    return repo, {f.name: hub.get(f.name) for f in model.files}, "the Hub"


def _sha256(path: Path, meter: ProgressMeter) -> str:
    h = hashlib.sha256()
    meter.file = path.name
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            h.update(block)
            meter.add(len(block))
    return h.hexdigest()


def run_verify(args: argparse.Namespace) -> int:
    store = model_store()
    model = resolve_model(args.model, store, args.quant)
    repo, expected, source = expected_hashes(model, store, args.repo)
    view = progress_view(json_lines=False) if not args.json else None
    meter = ProgressMeter(model.size_bytes, view)
    meter.stage = "checking"
    results: list[dict[str, str | None]] = []
    try:
        for f in model.files:
            actual, want = _sha256(f, meter), expected[f.name]
            status = "unchecked" if want is None else ("ok" if want == actual else "mismatch")
            results.append({"file": str(f), "sha256": actual, "expected": want, "status": status})
    finally:
        if view is not None:
            view.close()
    validation = HeaderCache().validate(model)
    bad = [Path(str(r["file"])).name for r in results if r["status"] == "mismatch"]
    if args.json:
        ok = not bad and validation.usable
        print_json(
            {
                "name": model.name,
                "repo": repo,
                "expected_from": source,
                "files": results,
                "ok": ok,
                "header_ok": validation.usable,
                "problem": validation.problem,
            }
        )
    else:
        for r in results:
            verdict = _VERDICTS[str(r["status"])]
            if r["status"] != "unchecked":
                verdict += f" ({source})"
            print(f"{Path(str(r['file'])).name}: {verdict}")
            print(f"    sha256 {r['sha256']}" + f" (expected {r['expected']})" * bool(bad))
        print("Header: ok" if validation.usable else f"Header: unusable: {validation.problem}")
    if bad:
        raise AppError(
            f"{bad[0]} is damaged or a different version: its SHA-256 does not match "
            f"{repo or 'the expected one'}'s.",
            "Remove it and download it again.",
        )
    if not validation.usable:
        raise AppError(f"{model.name} cannot be loaded: {validation.problem}")
    return 0
