"""What the portable llama.cpp build costs against one built for this CPU only.

Ponder's llama.cpp (scripts/build_llama.py) has its CPU code as one library per
instruction-set level, and loads the best one the CPU runs; before, `make` compiled it with
``-DGGML_NATIVE=ON`` for the build machine's CPU alone (which dies of SIGILL elsewhere).
Both are llama.cpp's own ``llama-bench`` from the same vendored source, on the same model,
alternating run by run (the machine is shared and drifts): prompt processing (``pp``) and
decode (``tg``), and the ratio portable / native of each round.

Usage: python benchmarks/portable_build.py [--model GGUF] [--rounds N] [--name NAME]
Writes benchmarks/results/portable_build.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.inference import native  # noqa: E402
from app.inference.backends.llama import default_threads  # noqa: E402
from benchmarks.llama_bench_build import llama_bench_path, native_llama_bench_path  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODEL = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
PROMPT_TOKENS = 512
DECODE_TOKENS = 128


def run_bench(binary: Path, model: Path, threads: int) -> dict[str, float]:
    """One llama-bench run: pp and tg t/s (one repetition each)."""
    out = subprocess.run(
        [
            str(binary),
            "-m",
            str(model),
            "-t",
            str(threads),
            "-p",
            str(PROMPT_TOKENS),
            "-n",
            str(DECODE_TOKENS),
            "-r",
            "1",
            "-fa",
            "1",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rates = {}
    for row in json.loads(out):
        kind = "pp" if row["n_prompt"] else "tg"
        rates[kind] = float(row["avg_ts"])
    return rates


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--name", default="portable_build")
    args = ap.parse_args()
    threads = default_threads()
    builds = {"portable": llama_bench_path(), "native": native_llama_bench_path()}
    variant = native.choose_variant(native.cpu_variants(), ())[0]
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = ["portable", "native"] if r % 2 == 0 else ["native", "portable"]
        row: dict[str, Any] = {"round": r + 1, "order": order}
        for name in order:
            row[name] = run_bench(builds[name], args.model, threads)
        for kind in ("pp", "tg"):
            row[f"{kind}_ratio"] = row["portable"][kind] / row["native"][kind]
        rounds.append(row)
        print(
            f"round {r + 1}: pp {row['portable']['pp']:.1f} vs {row['native']['pp']:.1f} "
            f"({row['pp_ratio']:.3f}), tg {row['portable']['tg']:.1f} vs "
            f"{row['native']['tg']:.1f} ({row['tg_ratio']:.3f})",
            flush=True,
        )
    summary = {}
    for kind in ("pp", "tg"):
        ratios = [row[f"{kind}_ratio"] for row in rounds]
        summary[kind] = {
            "portable_median": statistics.median(row["portable"][kind] for row in rounds),
            "native_median": statistics.median(row["native"][kind] for row in rounds),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "threads": threads,
        "model": args.model.name,
        "portable_cpu_library": variant,
        "prompt_tokens": PROMPT_TOKENS,
        "decode_tokens": DECODE_TOKENS,
        "rounds": rounds,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Portable vs native llama.cpp ({args.model.name}, {threads} threads, {result['when']})",
        "",
        f"CPU: {result['cpu']}; the portable build runs its `{variant}` library "
        f"({native.describe_variant(variant)}). llama-bench, {args.rounds} alternating rounds; "
        "t/s medians, and the median (min-max) of the per-round ratios portable / native.",
        "",
        "| test | portable t/s | native t/s | portable / native |",
        "|---|---:|---:|---:|",
    ]
    for kind, label in (
        ("pp", f"prompt (pp{PROMPT_TOKENS})"),
        ("tg", f"decode (tg{DECODE_TOKENS})"),
    ):
        s = summary[kind]
        lines.append(
            f"| {label} | {s['portable_median']:.1f} | {s['native_median']:.1f} | "
            f"{s['ratio_median']:.3f} ({s['ratio_min']:.3f}-{s['ratio_max']:.3f}) |"
        )
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
