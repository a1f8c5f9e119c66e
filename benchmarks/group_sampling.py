"""Think N ways: what a group of N answers costs, against N single replies and native llama.cpp.

On the 270M test model, for N = 1, 2, 4, 8, alternating in one run (the machine is shared
and drifts), each round measures:

- group: one request with ``samples=N`` through Ponder's engine (one prompt evaluation,
  one ``llama_decode`` per step for every sequence);
- sequential: N single replies of the same length, one after another (what an app without
  batching does);
- native: llama.cpp's own ``llama-batched-bench`` from the same build, ``-kvu -pps`` (one
  shared prompt, unified cache), same prompt length and tokens per sequence; it decodes
  without sampling, so it is the ceiling.

Every reply generates exactly ``--tokens`` tokens (end-of-generation ignored). Reported:
wall time, aggregate decode tok/s, group wall / one reply's wall, Ponder / native aggregate
rate, and the sampler's share of a step (from the engine log).

Usage: python benchmarks/group_sampling.py [--tokens 128] [--rounds 3] [--name NAME]
Writes benchmarks/results/group_sampling.json and .md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.events import Done  # noqa: E402
from app.inference import native  # noqa: E402
from app.inference.backends.llama import default_threads  # noqa: E402
from app.inference.client import EngineClient  # noqa: E402
from app.inference.protocol import LoadSpec, SamplingParams  # noqa: E402
from benchmarks.portable_build import cpu_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODEL = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
PROMPT = "Once upon a time, in a small village by the sea, there lived"
SIZES = (1, 2, 4, 8)
LOG = ROOT / ".cache" / "bench-group-engine.log"


def run_group(client: EngineClient, spec: LoadSpec, n: int, tokens: int) -> tuple[float, float]:
    """(wall s, aggregate decode tok/s) of one request of n samples (1: a single reply)."""
    sampling = SamplingParams(max_tokens=tokens, seed=3, ignore_eos=True)
    t0 = time.perf_counter()
    last = None
    for event in client.generate(spec, [], sampling, raw_prompt=PROMPT, samples=n):
        last = event
    wall = time.perf_counter() - t0
    assert isinstance(last, Done), last
    return wall, float(last.stats.decode_tok_s or 0.0)


def run_sequential(client: EngineClient, spec: LoadSpec, n: int, tokens: int) -> float:
    """Wall s of n single replies one after another."""
    t0 = time.perf_counter()
    for i in range(n):
        sampling = SamplingParams(max_tokens=tokens, seed=3 + i, ignore_eos=True)
        for _ in client.generate(spec, [], sampling, raw_prompt=PROMPT):
            pass
    return time.perf_counter() - t0


def run_native(model: Path, n_prompt: int, tokens: int, threads: int) -> dict[int, float]:
    """llama-batched-bench's aggregate decode t/s (S_TG) per N."""
    binary = native.program("llama-batched-bench")
    if binary is None:
        raise SystemExit("llama-batched-bench is not beside Ponder's llama.cpp; run `make`")
    out = subprocess.run(
        [
            str(binary),
            "-m",
            str(model),
            "-c",
            str(n_prompt + max(SIZES) * (tokens + 16)),
            "-b",
            "512",
            "-ub",
            "512",
            "-npp",
            str(n_prompt),
            "-ntg",
            str(tokens),
            "-npl",
            ",".join(map(str, SIZES)),
            "-kvu",
            "-pps",
            "-t",
            str(threads),
            "-fa",
            "on",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rates = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[2].isdigit():
            rates[int(cells[2])] = float(cells[7])
    return rates


def sampler_shares(since: int) -> dict[int, float]:
    """The sampler's share of a step per N, from the engine log's group lines."""
    text = LOG.read_text(errors="replace")[since:]
    shares: dict[int, list[float]] = {}
    for m in re.finditer(r"group of (\d+): \d+ steps, [\d.]+ ms each; sampling ([\d.]+)%", text):
        shares.setdefault(int(m[1]), []).append(float(m[2]))
    return {n: statistics.median(v) for n, v in shares.items()}


def markdown(result: dict[str, Any]) -> str:
    """The result file's table. "native group / one": what a group of N costs against one
    reply when llama.cpp itself decodes the batch (N x its N=1 rate / its rate at N), the
    ceiling for Ponder's "group / one reply" on this CPU."""
    summary = {int(n): s for n, s in result["summary"].items()}
    rounds = len(result["native"])
    lines = [
        f"# Group sampling ({result['model']}, {result['threads']} threads, {result['when']})",
        "",
        f"CPU: {result['cpu']}. {result['tokens_per_sample']} tokens per sample after a "
        f"{result['prompt_tokens']}-token prompt; medians of {rounds} alternating rounds. "
        "Native: llama-batched-bench -kvu -pps (decode only, no sampling).",
        "",
        "| N | group wall s | N single replies s | group / one reply | native group / one "
        "| Ponder tok/s | native tok/s | Ponder / native | sampler share |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    native_one = summary[1]["native_rate"]
    for n, s in summary.items():
        share = f"{s['sampler_share_pct']:.1f}%" if s["sampler_share_pct"] is not None else "-"
        vs_native = f"{s['vs_native']:.2f}" if s["vs_native"] else "-"
        ceiling = n * native_one / s["native_rate"]
        lines.append(
            f"| {n} | {s['group_s']:.2f} | {s['sequential_s']:.2f} | {s['vs_one_reply']:.2f}x "
            f"| {ceiling:.2f}x | {s['rate']:.1f} | {s['native_rate']:.1f} | {vs_native} "
            f"| {share} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--name", default="group_sampling")
    args = ap.parse_args()
    threads = default_threads()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    start = LOG.stat().st_size if LOG.exists() else 0
    client = EngineClient(LOG)
    spec = LoadSpec(str(args.model), n_ctx=2048)
    n_prompt = 0
    for event in client.generate(spec, [], SamplingParams(max_tokens=2), raw_prompt=PROMPT):
        if isinstance(event, Done):
            n_prompt = event.stats.prompt_tokens  # warm-up, and the prompt's length
    rows: list[dict[str, Any]] = []
    native_rates: list[dict[int, float]] = []
    try:
        for r in range(args.rounds):
            order = list(SIZES) if r % 2 == 0 else list(reversed(SIZES))
            for n in order:
                wall, rate = run_group(client, spec, n, args.tokens)
                seq = run_sequential(client, spec, n, args.tokens) if n > 1 else wall
                rows.append({"round": r + 1, "n": n, "group_s": wall, "rate": rate, "seq_s": seq})
                print(
                    f"round {r + 1} N={n}: group {wall:.2f} s ({rate:.1f} tok/s), "
                    f"sequential {seq:.2f} s",
                    flush=True,
                )
            native_rates.append(run_native(args.model, n_prompt, args.tokens, threads))
            print(f"round {r + 1} native: {native_rates[-1]}", flush=True)
    finally:
        client.close()
    shares = sampler_shares(start)
    summary = {}
    one = statistics.median(x["group_s"] for x in rows if x["n"] == 1)
    for n in SIZES:
        mine = [x for x in rows if x["n"] == n]
        group_s = statistics.median(x["group_s"] for x in mine)
        rate = statistics.median(x["rate"] for x in mine)
        nat = statistics.median(d[n] for d in native_rates if n in d)
        summary[n] = {
            "group_s": group_s,
            "sequential_s": statistics.median(x["seq_s"] for x in mine),
            "rate": rate,
            "native_rate": nat,
            "vs_one_reply": group_s / one,
            "vs_native": rate / nat if nat else None,
            "sampler_share_pct": shares.get(n),
        }
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "threads": threads,
        "model": args.model.name,
        "prompt_tokens": n_prompt,
        "tokens_per_sample": args.tokens,
        "rounds": rows,
        "native": native_rates,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
