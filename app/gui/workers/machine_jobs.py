"""The Machines window's jobs, run off the GUI thread (no Qt here): ask the workers, plan
every catalog size across them, ask a server for its models, read or keep its API key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import httpx2

from app.core.errors import AppError
from app.gui.workers.model_check import hardware
from app.hardware.pooled_fit import PooledPlan, plan_pooled
from app.hardware.shape import default_quant, load_catalog, shape_from_catalog
from app.hardware.workers import WorkerInfo, probe_workers
from app.inference.backends.endpoint import CONNECT_TIMEOUT_S, EndpointBackend, EndpointError
from app.inference.native import rpc_protocol
from app.inference.protocol import EndpointSpec
from app.modelhub.secrets import TokenLocation, TokenStore

Protocol = tuple[int, int, int] | None


@dataclass(frozen=True)
class Probe:
    """What the workers said, and the RPC protocol this build expects of them."""

    expected: Protocol
    workers: tuple[WorkerInfo, ...]


@dataclass(frozen=True)
class PooledRow:
    """One catalog model at its default quantization, planned across the workers."""

    name: str
    size_label: str
    quant: str
    plan: PooledPlan


@dataclass(frozen=True)
class ServerCheck:
    """A server that answered ``GET /v1/models``."""

    models: tuple[str, ...]
    llama_server: bool  # llama.cpp's server: think budget and Answer now work


@dataclass(frozen=True)
class KeyState:
    location: TokenLocation | None
    key: str = dataclasses.field(default="", repr=False)
    keyring: str = ""  # the keyring backend's name, or why there is none


def probe(addresses: tuple[str, ...]) -> Probe:
    return Probe(rpc_protocol(), tuple(probe_workers(list(addresses))))


def plan_across(workers: tuple[WorkerInfo, ...], expected: Protocol, n_ctx: int) -> list[PooledRow]:
    """Every catalog size planned across ``workers`` (as `ponder hw --workers` does)."""
    hw = hardware()
    rows = []
    for entry in load_catalog()["models"]:
        quant = default_quant(entry)
        shape = shape_from_catalog(entry, quant)
        plan = plan_pooled(shape, hw, list(workers), n_ctx, expected)
        rows.append(PooledRow(entry["name"], entry["size_label"], quant, plan))
    return rows


def check_server(url: str, api_key: str) -> ServerCheck:
    """Ask the server for its models the way the chat will (``EndpointError``'s one
    sentence when it cannot)."""
    try:
        backend = EndpointBackend(EndpointSpec(url, api_key=api_key))
    except EndpointError as exc:
        raise AppError(exc.message) from None  # its hint speaks of the CLI's flags
    try:
        listing = backend.http.get(f"{backend.url}/v1/models", timeout=CONNECT_TIMEOUT_S)
        data = listing.json().get("data") or []
        models = tuple(str(m["id"]) for m in data if isinstance(m, dict) and "id" in m)
    except (httpx2.HTTPError, ValueError, AttributeError, TypeError):
        models = (backend.model,) if backend.model else ()
    finally:
        backend.close()
    return ServerCheck(models, backend.llama_server)


def key_state(keys: TokenStore) -> KeyState:
    status = keys.status()
    where = keys.location()
    return KeyState(where, keys.token() or "" if where else "", status.backend or status.reason)
