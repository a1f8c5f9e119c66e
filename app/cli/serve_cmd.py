"""`ponder serve`: the models on this computer behind an OpenAI-compatible API.

Loopback only unless ``--host`` names another address, and then an API key is required:
``--new-key`` makes one, keeps it in the system keyring and shows it once; ``--revoke-key``
removes it. ``PONDER_API_KEY`` in the environment is used instead of the keyring's.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from app.cli.arg_types import positive_int
from app.cli.model_lookup import found_models, model_store, resolve_model
from app.core.paths import app_paths
from app.inference.client import EngineClient
from app.inference.cpu_safety import CpuSafety
from app.inference.lease import EngineLease
from app.inference.system import machine_snapshot
from app.modelhub.secrets import TokenStore
from app.server.api import ServedModel, ServerState
from app.server.models import ServedModels
from app.server.runner import DEFAULT_PORT, ApiServer, is_loopback

KEY_ACCOUNT = "api-server"
MAX_WAITING = 4


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve this computer's models as an OpenAI-compatible API (reasoning apart)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this computer only; any other needs "
        "an API key)",
    )
    p.add_argument(
        "--port", type=positive_int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "-m", "--model", help="the model to use when a request names none (a path, id or name)"
    )
    p.add_argument(
        "--max-connections",
        type=positive_int,
        default=16,
        help="requests handled at once, waiting ones included (default 16; more get 503)",
    )
    p.add_argument("--new-key", action="store_true", help="make an API key, keep it, show it once")
    p.add_argument("--revoke-key", action="store_true", help="remove the API key and exit")
    p.set_defaults(func=run)


def api_key(store: TokenStore) -> str | None:
    """The key requests must carry: PONDER_API_KEY, else the keyring's."""
    return os.environ.get("PONDER_API_KEY") or store.token()


def run(args: argparse.Namespace) -> int:
    store = TokenStore(account=KEY_ACCOUNT)
    if args.revoke_key:
        store.remove()
        sys.stderr.write("ponder: the API key is removed; clients that used it are refused.\n")
        return 0
    if args.new_key:
        made = f"ponder-{secrets.token_urlsafe(32)}"
        store.set_token(made)
        sys.stderr.write(
            "ponder: a new API key is kept in your system keyring. It is shown only now:\n"
        )
        print(made, flush=True)
    default = None
    if args.model and args.model.endswith(".jsonl") and os.path.isfile(args.model):
        # A replay file (recorded model output) stands in for a model: tests and demos.
        path = os.path.abspath(args.model)
        default = ServedModel(os.path.basename(path).removesuffix(".jsonl"), path)
    elif args.model:
        found = resolve_model(args.model, model_store(), None)
        default = ServedModel(found.name, str(found.path), found.size_bytes)
    key = api_key(store)
    paths = app_paths().ensure()
    client = EngineClient(paths.engine_log, cpu_safety=CpuSafety(paths.cpu_safety))
    state = ServerState(
        client=client,
        lease=EngineLease(max_waiting=MAX_WAITING),
        models=ServedModels(
            find=lambda: found_models(model_store()), machine=machine_snapshot, default=default
        ),
        default_model=default.id if default else None,
        api_key=key,  # once made, required even on loopback
        max_connections=args.max_connections,
    )
    server = ApiServer(state, args.host, args.port)
    where = "this computer only" if is_loopback(args.host) else "the network, with its API key"
    sys.stderr.write(
        f"ponder: serving on {server.url} ({where}). Ctrl+C stops it.\n"
        f"  OpenAI clients: base_url={server.url!r}\n"
    )
    sys.stderr.flush()
    try:
        server.run()
    finally:
        client.close()
    return 0
