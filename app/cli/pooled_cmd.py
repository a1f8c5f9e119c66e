"""`ponder fit MODEL --workers ...` and `ponder hw --workers ...`: fit across machines."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from app.cli.output import print_json, print_rows
from app.core.units import format_bytes
from app.hardware.pooled_fit import LAN_ROUND_TRIP_S, PooledPlan, plan_pooled
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import ModelShape, default_quant, load_catalog, shape_from_catalog
from app.hardware.workers import WorkerInfo, probe_workers
from app.inference import native
from app.inference.protocol import POOLED_CTX


def plan_json(p: PooledPlan) -> dict[str, Any]:
    return {
        "fits": p.fits,
        "summary": p.summary,
        "needed": p.needed,
        "offered": p.offered,
        "main_ram": p.main_ram,
        "n_ctx": p.n_ctx,
        "split": [
            {"worker": s.address, "weights": s.weights, "kv_cache": s.kv, "free": s.offered}
            for s in p.shares
        ],
        "speed_tok_s": None
        if p.speed is None
        else {"low": round(p.speed.low, 2), "high": round(p.speed.high, 2)},
        "unusable": [{"worker": w.address, "problem": w.problem} for w in p.unusable],
    }


def worker_line(w: WorkerInfo, expected: tuple[int, int, int] | None) -> str:
    if not w.reachable:
        return f"{w.address}: {w.problem}"
    version = ".".join(map(str, w.protocol or ()))
    match = "same build" if w.compatible(expected) else f"another llama.cpp build (RPC {version})"
    trip = f", {1000 * w.round_trip_s:.2f} ms round trip" if w.round_trip_s else ""
    memory = f"{format_bytes(w.free_bytes)} free of {format_bytes(w.total_bytes)}"
    if w.offered_bytes is not None:
        memory += f", lends {format_bytes(w.offered_bytes)}"
    return f"{w.address}: {memory}, {match}{trip}"


def _assumes(hw: HardwareSnapshot) -> str:
    bandwidth = f"{hw.cpu_bandwidth / 1e9:.0f} GB/s" if hw.cpu_bandwidth else "unknown"
    return (
        f"workers read memory as fast as this machine ({bandwidth}); each worker adds one "
        f"network round trip per token (measured, at least {LAN_ROUND_TRIP_S * 1000:.1f} ms "
        "as on a LAN)"
    )


def run_fit_across(args: argparse.Namespace, shape: ModelShape, hw: HardwareSnapshot) -> int:
    expected = native.rpc_protocol()
    workers = probe_workers(args.workers)
    n_ctx = args.ctx or POOLED_CTX
    p = plan_pooled(shape, hw, workers, n_ctx, expected)
    if args.json:
        print_json({"model": shape.name, "workers": [asdict(w) for w in workers], **plan_json(p)})
        return 0 if p.fits else 1
    rows: list[tuple[str, object]] = [("Model", shape.name), ("Verdict", p.summary)]
    for i, line in enumerate(p.split_lines()):
        rows.append(("Split" if i == 0 else "", line))
    rows.append(("Here", f"RAM {format_bytes(p.main_ram)} (embeddings, compute, reserve)"))
    rows.append(("Context", f"{n_ctx:,}"))
    for i, w in enumerate(workers):
        rows.append(("Workers" if i == 0 else "", worker_line(w, expected)))
    rows.append(("Assumes", _assumes(hw)))
    print_rows(rows)
    return 0 if p.fits else 1


def run_hw_across(args: argparse.Namespace, hw: HardwareSnapshot, machine: list[str]) -> int:
    expected = native.rpc_protocol()
    workers = probe_workers(args.workers)
    ladder = []
    for entry in load_catalog()["models"]:
        quant = default_quant(entry)
        p = plan_pooled(shape_from_catalog(entry, quant), hw, workers, POOLED_CTX, expected)
        ladder.append({"id": entry["id"], "name": entry["name"], "quant": quant, **plan_json(p)})
    if args.json:
        print_json(
            {"hardware": hw.to_json(), "workers": [asdict(w) for w in workers], "pooled": ladder}
        )
        return 0
    print("\n".join(machine))
    for w in workers:
        print(f"Worker   {worker_line(w, expected)}")
    print(f"Assumes  {_assumes(hw)}")
    print()
    print_rows([(f"{r['name']} {r['quant']}", r["summary"]) for r in ladder])
    return 0
