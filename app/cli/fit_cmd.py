"""`ponder hw` and `ponder fit MODEL`: what this machine can run, and the numbers behind it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.arg_types import positive_int, workers_arg
from app.cli.output import print_error, print_json, print_rows
from app.cli.pooled_cmd import run_fit_across, run_hw_across
from app.core.errors import AppError
from app.core.gguf import GGUFError, check_complete, read_header
from app.core.units import format_bytes
from app.hardware.planner import FitPlan, plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import (
    ModelShape,
    catalog_entry,
    default_quant,
    load_catalog,
    shape_from_catalog,
    shape_from_file,
)
from app.inference.system import machine_snapshot


def add_parsers(sub: Any) -> None:
    hw = sub.add_parser("hw", help="this machine's hardware and which R1 sizes it can run")
    hw.add_argument("--json", action="store_true", help="one JSON document on stdout")
    hw.add_argument(
        "--workers",
        type=workers_arg,
        metavar="HOST:PORT[,...]",
        help="also say what runs pooled across these `ponder worker` machines",
    )
    hw.set_defaults(func=run_hw)
    fit = sub.add_parser("fit", help="memory breakdown, offload plan and predicted speed")
    fit.add_argument(
        "model",
        help="a .gguf file or a catalog id; an incomplete file is sized from its header, "
        "said to be incomplete, and exits 1",
    )
    fit.add_argument("--quant", help="quantization, for a catalog id (default Q4_K_M)")
    fit.add_argument(
        "--ctx", type=positive_int, default=None, help="context size (default: planned)"
    )
    fit.add_argument("--json", action="store_true", help="one JSON document on stdout")
    fit.add_argument(
        "--workers",
        type=workers_arg,
        metavar="HOST:PORT[,...]",
        help="fit across these `ponder worker` machines instead of this one (exit 1 when "
        "it does not fit)",
    )
    fit.set_defaults(func=run_fit)


def resolve_shape(model: str, quant: str | None = None) -> ModelShape:
    if Path(model).expanduser().exists() or model.endswith(".gguf"):
        return shape_from_file(Path(model).expanduser())
    return shape_from_catalog(catalog_entry(model), quant)


def plan_json(p: FitPlan) -> dict[str, Any]:
    m = p.memory
    return {
        "verdict": p.verdict,
        "summary": p.summary,
        "n_gpu_layers": p.n_gpu_layers,
        "n_layers": p.n_layers,
        "n_ctx": p.n_ctx,
        "memory": {
            "weights": m.weights,
            "weights_gpu": m.weights_gpu,
            "weights_cpu": m.weights_cpu,
            "kv_cache": m.kv,
            "kv_cache_gpu": m.kv_gpu,
            "compute": m.compute,
            "reserve_ram": m.ram_reserve,
            "reserve_gpu": m.gpu_reserve,
            "ram_needed": m.ram,
            "vram_needed": m.vram,
        },
        "ram_available": p.ram_budget,
        "vram_available": p.vram_budget,
        "speed_tok_s": None
        if p.speed is None
        else {"low": round(p.speed.low, 2), "high": round(p.speed.high, 2)},
        "measured_tok_s": None if p.measured is None else round(p.measured, 2),
        "measured": None
        if p.measurement is None
        else {
            "tok_s": round(p.measurement.tok_s, 2),
            "benchmarks": p.measurement.runs,
            "replies": p.measurement.replies,
            "latest": p.measurement.latest,
        },
    }


def speed_line(p: FitPlan) -> str:
    """The measured rate when `ponder bench` has one for this placement, else the range."""
    predicted = f"{p.speed} predicted" if p.speed else "unknown (memory bandwidth not measured)"
    if p.measurement is not None:
        return p.measurement.label + (f"; {predicted}" if p.speed else "")
    return f"{predicted}; `ponder bench` measures it"


def _hw_lines(hw: HardwareSnapshot) -> list[str]:
    lines = [
        f"CPU      {hw.cpu_model} ({hw.physical_cores} cores, {hw.logical_cores} threads"
        + (f"; {' '.join(hw.cpu_flags)})" if hw.cpu_flags else ")"),
        f"RAM      {format_bytes(hw.ram_available)} free of {format_bytes(hw.ram_total)}"
        + (f"; ~{hw.cpu_bandwidth / 1e9:.0f} GB/s measured" if hw.cpu_bandwidth else ""),
    ]
    for g in hw.gpus:
        lines.append(
            f"GPU      {g.name}: {format_bytes(g.vram_free)} free of "
            f"{format_bytes(g.vram_total)}" + (" (unified)" if g.unified else "")
        )
    if not hw.gpus:
        lines.append("GPU      none found")
    lines.append(f"Engine   llama.cpp built for {hw.backend}")
    lines += [f"Kernels  {sentence}" for sentence in hw.cpu_kernels_off]
    if hw.disk_free is not None:
        lines.append(f"Disk     {format_bytes(hw.disk_free)} free for models")
    lines += [f"Note     {n}" for n in hw.notes]
    return lines


def run_hw(args: argparse.Namespace) -> int:
    hw = machine_snapshot()
    if args.workers:
        return run_hw_across(args, hw, _hw_lines(hw))
    ladder = []
    for entry in load_catalog()["models"]:
        quant = default_quant(entry)
        p = plan(shape_from_catalog(entry, quant), hw)
        ladder.append(
            {
                "id": entry["id"],
                "name": entry["name"],
                "size": entry["size_label"],
                "quant": quant,
                **plan_json(p),
            }
        )
    if args.json:
        print_json({"hardware": hw.to_json(), "ladder": ladder})
        return 0
    print("\n".join(_hw_lines(hw)))
    print()
    print_rows([(f"{r['name']} {r['quant']}", r["summary"]) for r in ladder])
    return 0


def _incomplete(model: str) -> AppError | None:
    """Why a local file cannot load although its header plans fine (its data is cut)."""
    path = Path(model).expanduser()
    if not path.is_file():
        return None
    try:
        check_complete(read_header(path))
    except GGUFError as exc:
        return AppError(exc.message, exc.hint)  # exit 1: the sizing itself worked
    return None


def run_fit(args: argparse.Namespace) -> int:
    shape = resolve_shape(args.model, args.quant)
    if args.workers:
        code = run_fit_across(args, shape, machine_snapshot())
        if (cut := _incomplete(args.model)) is not None:
            print_error(cut)
            return 1
        return code
    p = plan(shape, machine_snapshot(), n_ctx=args.ctx)
    problem = _incomplete(args.model)
    code = 0 if problem is None else 1
    if args.json:
        extra = {} if problem is None else {"loadable": False, "problem": str(problem)}
        print_json({"model": shape.name, **plan_json(p), **extra})
        if problem is not None:
            print_error(problem)
        return code
    m = p.memory
    rows = [
        ("Model", shape.name),
        ("Verdict", p.summary),
        ("Speed", speed_line(p)),
        ("Plan", f"{p.n_gpu_layers}/{p.n_layers + 1} layers on the GPU, context {p.n_ctx:,}"),
        (
            "Weights",
            f"{format_bytes(m.weights)} (GPU {format_bytes(m.weights_gpu)}, "
            f"CPU {format_bytes(m.weights_cpu)})",
        ),
        ("KV cache", format_bytes(m.kv)),
        ("Compute", format_bytes(m.compute)),
        ("Reserve", f"RAM {format_bytes(m.ram_reserve)}, GPU {format_bytes(m.gpu_reserve)}"),
        (
            "Needs",
            f"RAM {format_bytes(m.ram)} of {format_bytes(p.ram_budget)} free"
            + (
                f", VRAM {format_bytes(m.vram)} of {format_bytes(p.vram_budget)} free"
                if p.gpu
                else ""
            ),
        ),
    ]
    print_rows(rows)
    if problem is not None:
        print_error(problem)
    return code
