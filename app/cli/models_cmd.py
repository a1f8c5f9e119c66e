"""`ponder models ...`: list, search, download, import, remove and verify models, and keep
the Hub token in the OS keyring. Thin over ``app.modelhub``: this module only parses,
picks the model a name means, and prints."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli import models_verify
from app.cli.arg_types import positive_int
from app.cli.model_lookup import found_models, model_store, resolve_model
from app.cli.output import print_json, table_lines
from app.cli.progress import progress_view
from app.core import errors
from app.core.errors import AppError, BadInputError
from app.core.paths import app_paths
from app.core.units import format_bytes
from app.modelhub.catalog import load_catalog
from app.modelhub.discovery import HeaderCache
from app.modelhub.downloader import StopToken, download
from app.modelhub.hub import RemoteFile, group_models, list_gguf_files, model_files, search_gguf
from app.modelhub.secrets import TokenStore
from app.modelhub.store import ImportMode, ModelStore

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_NO_KEYRING_HINT = "Set HF_TOKEN in your environment instead."


def add_parser(sub: Any) -> None:
    models = sub.add_parser("models", help="download, list and manage models")
    models.set_defaults(func=lambda _args: _usage(models))
    actions = models.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)
        return p

    action("list", "models on disk: Ponder's and other apps'", run_list)
    p = action("search", "find GGUF repos on the Hub, or list one repo's files", run_search)
    p.add_argument("query", nargs="?", default="", help="words, or OWNER/REPO for its files")
    p.add_argument("--limit", type=positive_int, default=30, help="most repos to list (default 30)")
    p = action("download", "download a model (resumes an earlier attempt)", run_download)
    p.add_argument("model", help="a catalog id (e.g. r1-distill-qwen-7b) or OWNER/REPO")
    p.add_argument("filename", nargs="?", help="the .gguf in the repo (first shard if split)")
    p.add_argument("--quant", help="quantization, for a catalog id (default Q4_K_M)")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    p = action("import", "bring a .gguf into Ponder's folder (linked, not copied)", run_import)
    p.add_argument("file", type=Path, help="the .gguf file (the first part of a split model)")
    p.add_argument(
        "--mode",
        choices=[m.value for m in ImportMode],
        default="auto",
        help="auto (default): a hard link on the same file system, else a copy; "
        "symlink: the original must then stay where it is",
    )
    p = action("remove", "delete a model from Ponder's folder", run_remove)
    p.add_argument("model", help="a name from `ponder models list`, a path or a catalog id")
    p.add_argument("--quant", help="quantization, for a catalog id")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p = action(
        "verify", "re-hash a model and compare it with its SHA-256", models_verify.run_verify
    )
    p.add_argument("model", help="a name from `ponder models list`, a path or a catalog id")
    p.add_argument("--quant", help="quantization, for a catalog id")
    p.add_argument("--repo", help="the Hub repo to compare with (default: from its folder)")
    action("login", "store a Hugging Face token in the OS keyring (read from stdin)", run_login)
    action("logout", "remove the Hugging Face token from the OS keyring", run_logout)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# list / search ----------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    store, cache = model_store(), HeaderCache()
    rows: list[dict[str, Any]] = []
    for m in found_models(store):
        v = cache.validate(m)
        rows.append({
            "name": m.name, "source": m.source.value, "source_label": m.source.label,
            "path": str(m.path), "files": [str(f) for f in m.files], "size_bytes": m.size_bytes,
            "quantization": v.quantization or m.quantization or None,
            "architecture": v.header.architecture if v.header else None,
            "usable": v.usable, "problem": v.problem, "repo_id": m.repo_id,
            "removable": store.owns(m.path),
            "also_at": [{"source": a.source.value, "path": str(a.path)} for a in m.also_at],
        })  # fmt: skip
    if args.json:
        print_json({"models": rows})
    elif not rows:
        print(
            "No models found. Download one with `ponder models download r1-distill-qwen-7b`, "
            f"or import a .gguf with `ponder models import FILE` (into {store.models_dir})."
        )
    if rows and not args.json:
        _print_list(rows)
    return 0


def _print_list(rows: list[dict[str, Any]]) -> None:
    """One aligned row per model (name, quant, size, where from, status, path), and the
    reason under a model that cannot load."""
    cells = [
        (
            r["name"],
            r["quantization"] or "?",
            format_bytes(r["size_bytes"]),
            r["source_label"],
            "ready" if r["usable"] else "unusable",
            r["path"],
        )
        for r in rows
    ]
    lines = table_lines(("NAME", "QUANT", "SIZE", "FROM", "STATUS", "PATH"), cells, right=(2,))
    print(lines[0])
    for line, r in zip(lines[1:], rows, strict=True):
        print(line)
        if not r["usable"]:
            print(f"  {r['problem']}")


def run_search(args: argparse.Namespace) -> int:
    token = TokenStore().for_hub()
    if _REPO_ID.match(args.query):
        try:
            files = list_gguf_files(args.query, token=token)
        except errors.HubNotFoundError:
            files = []  # not a repo after all: search for the words instead
        if files:
            return _print_repo_files(args.query, files, json_out=args.json)
    hits = search_gguf(args.query, limit=args.limit, token=token)
    if args.json:
        print_json({"repos": [h.__dict__ for h in hits]})
        return 0
    if not hits:
        print(f"No GGUF repos on the Hub match {args.query!r}.")
    for h in hits:
        gated = "  gated: needs a token" if h.gated else ""
        print(f"{h.repo}  {h.downloads:,} downloads  {h.likes:,} likes{gated}")
    return 0


def _print_repo_files(repo: str, files: list[RemoteFile], *, json_out: bool) -> int:
    groups = group_models(files)
    if json_out:
        items = [{"filename": g[0].filename, "files": [f.filename for f in g],
                  "size_bytes": sum(f.size for f in g), "sha256": [f.sha256 for f in g]}
                 for g in groups]  # fmt: skip
        print_json({"repo": repo, "models": items})
        return 0
    for g in groups:
        parts = f"  ({len(g)} parts)" if len(g) > 1 else ""
        print(f"{g[0].filename}  {format_bytes(sum(f.size for f in g))}{parts}")
    print(f"Download one with `ponder models download {repo} FILENAME`.")
    return 0


# download ---------------------------------------------------------------------------------


def _remote_model(args: argparse.Namespace, token: str | None) -> tuple[list[RemoteFile], str]:
    """The files to download and a line saying what they are (with the licence)."""
    if args.filename:
        if args.quant:
            raise BadInputError(
                "--quant goes with a catalog id; a file name already names the quant.",
                "Drop --quant, or give a catalog id instead of a repo and file.",
            )
        if not _REPO_ID.match(args.model):
            raise BadInputError(
                f"{args.model} is not a Hub repo id.", "Use OWNER/REPO, e.g. bartowski/NAME-GGUF."
            )
        files = model_files(args.model, args.filename, revision=args.revision, token=token)
        return files, f"{files[0].name} from {args.model}"
    catalog = load_catalog()
    if _REPO_ID.match(args.model) and args.model.lower() not in catalog.ids:
        raise BadInputError(
            f"Name the file to download from {args.model}.",
            f"List its files with `ponder models search {args.model}`.",
        )
    entry = catalog.get(args.model)
    quant = entry.quant(args.quant)
    files = model_files(quant.repo_id, quant.first_file.path, revision=args.revision, token=token)
    label = f"{entry.name} {quant.name} from {quant.repo_id} (licence: {entry.license})"
    return files, label


def run_download(args: argparse.Namespace) -> int:
    try:
        return _download(args)
    except AppError as exc:  # the JSON stream ends with the error too (stderr has the line)
        if args.json:
            print_json({"event": "error", "kind": exc.kind, "message": str(exc)})
        raise


def _download(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    store, token = ModelStore.from_paths(paths), TokenStore().for_hub()
    files, label = _remote_model(args, token)
    dest_dir = store.install_path(files[0].repo, files[0].filename).parent
    total = sum(f.size for f in files)
    targets = [dest_dir / f.name for f in files]
    done: dict[str, Any] = {"event": "done", "repo": files[0].repo, "size_bytes": total}
    if all(t.is_file() and t.stat().st_size == f.size for t, f in zip(targets, files, strict=True)):
        if args.json:
            print_json({**done, "files": [str(t) for t in targets], "already_installed": True})
        else:
            print(f"Already installed: {targets[0]} (check it with `ponder models verify`).")
        return 0
    if not args.json:
        print(f"Downloading {label}, {format_bytes(total)}", flush=True)
    stop = StopToken()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        # The first Ctrl+C pauses (the part is kept for resuming); a second one quits.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.pause()

    view = progress_view(json_lines=args.json)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        installed = download(files, dest_dir, downloads_dir=paths.downloads_dir, token=token,
                             progress=view, stop=stop)  # fmt: skip
    except errors.DownloadPausedError as exc:
        view.close()
        sys.stderr.write(f"ponder: {exc}\n")
        return 130
    finally:
        view.close()
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json(
            {**done, "files": [str(p) for p in installed], "sha256": [f.sha256 for f in files]}
        )
    else:
        more = f" and {len(installed) - 1} more part(s) beside it" if len(installed) > 1 else ""
        print(f"Installed {installed[0]}{more}")
    return 0


# import / remove --------------------------------------------------------------------------


def run_import(args: argparse.Namespace) -> int:
    result = model_store().import_file(args.file, ImportMode(args.mode))
    how = {"hardlink": "a hard link", "symlink": "a symbolic link", "copy": "a copy"}
    if args.json:
        print_json(
            {"path": str(result.path), "files": [str(f) for f in result.files], "mode": result.mode}
        )
    else:
        print(f"Imported {args.file.name} as {how[result.mode.value]}: {result.path}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    store = model_store()
    model = resolve_model(args.model, store, args.quant)
    if store.owns(model.path) and not args.yes and sys.stdin.isatty():
        answer = input(f"Delete {model.name} ({format_bytes(model.size_bytes)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Kept.")
            return 1
    store.remove(model.files)
    if args.json:
        print_json({"removed": [str(f) for f in model.files], "size_bytes": model.size_bytes})
    else:
        print(f"Removed {model.name} ({format_bytes(model.size_bytes)} freed).")
    return 0


# login / logout ---------------------------------------------------------------------------


def _keyring() -> TokenStore:
    tokens = TokenStore()
    status = tokens.status()
    if not status.usable:
        raise errors.KeyringUnavailableError(
            f"No usable keyring ({status.backend}) to keep a token in.", _NO_KEYRING_HINT
        )
    return tokens


def run_login(args: argparse.Namespace) -> int:
    tokens = _keyring()
    if sys.stdin.isatty():
        token = getpass.getpass("Hugging Face token (from huggingface.co/settings/tokens): ")
    else:
        token = sys.stdin.readline()
    if not token.strip():
        raise BadInputError("No token was given.", "Paste a token, or pipe one to stdin.")
    where, backend = tokens.set_token(token), tokens.status().backend
    if args.json:
        print_json({"stored": where, "backend": backend})
        return 0
    print(f"Token stored in the system keyring ({backend}).")
    if os.environ.get("HF_TOKEN"):
        print("HF_TOKEN is set in your environment; it takes precedence while it is.")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    tokens = _keyring()
    tokens.remove()
    if args.json:
        print_json({"removed": True, "env_token": bool(os.environ.get("HF_TOKEN"))})
    else:
        print("Token removed from the system keyring.")
        if os.environ.get("HF_TOKEN"):
            print("HF_TOKEN is still set in your environment; unset it to stop using it.")
    return 0
