"""Decode speed of Ponder's engine against llama-cpp-python and native llama.cpp.

One model, one prompt, one run; at each length the methods alternate for ``--rounds``
rounds, and the median of each method's rounds is reported. The order of each round comes
from a Williams square: every method runs in every position once per four rounds and
follows every other method once, so neither going first nor running right after a given
method (say llama-bench's process) favours anyone. Because a shared VM drifts by 5-10%
between rounds, the table also gives the median of the per-round ratios (each ratio
compares two runs of the same round, minutes apart):

- ponder: our engine (child process, own generation loop, splitter, events over a pipe);
- raw generate: llama-cpp-python's ``Llama.generate`` loop, tokens only;
- create_completion: ``Llama.create_completion(stream=True)``;
- native: ``llama-bench`` built from the llama.cpp that llama-cpp-python vendors, ``tg``
  of the same length from an empty context (so the same depths are averaged).

All use the same threads, flash attention, sliding-window cache (not full-size, as
llama-bench and llama.cpp's server) and sampler settings (top-k 40, top-p 0.95,
min-p 0.05, temperature 0.6; llama-bench does not sample). End-of-generation tokens are
ignored so every method produces exactly N tokens. Rates are (N-1) / (last - first token)
for the Python methods, llama-bench's own t/s for native.

Usage: python benchmarks/engine_overhead.py [--model GGUF] [--lengths 1024 4096 8192]
       [--rounds N] [--methods ponder raw_generate ...] [--name RESULTS_NAME]
Writes benchmarks/results/engine_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from app.core.events import Done  # noqa: E402
from app.inference import native  # noqa: E402
from app.inference.backends.llama import default_threads  # noqa: E402
from app.inference.client import EngineClient  # noqa: E402
from app.inference.protocol import LoadSpec, SamplingParams  # noqa: E402
from benchmarks.llama_bench_build import llama_bench_path  # noqa: E402

PROMPT = "Once upon a time"
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "temp": 0.6}
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("native", "ponder", "raw_generate", "create_completion")
LABELS = {
    "native": "native llama-bench",
    "ponder": "ponder",
    "raw_generate": "raw generate",
    "create_completion": "create_completion",
}


def williams(k: int) -> list[list[int]]:
    """Orders for k methods in which each is in each position once and follows each other
    once (a Williams square; for odd k, the square and its mirror)."""
    first, lo, hi = [0], 1, k - 1
    while len(first) < k:
        first.append(lo)
        lo += 1
        if len(first) < k:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % k for x in first] for i in range(k)]
    return rows if k % 2 == 0 else rows + [r[::-1] for r in rows]


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0])


def paired(a: list[float], b: list[float]) -> float:
    """Median of the per-round ratios a/b."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def run_ponder(client: EngineClient, spec: LoadSpec, n: int) -> float:
    sampling = SamplingParams(
        temperature=SAMPLING["temp"],
        top_p=SAMPLING["top_p"],
        top_k=SAMPLING["top_k"],
        min_p=SAMPLING["min_p"],
        seed=1,
        max_tokens=n,
        ignore_eos=True,
    )
    for event in client.generate(spec, [], sampling, raw_prompt=PROMPT):
        if isinstance(event, Done):
            assert event.stats.answer_tokens + event.stats.reasoning_tokens == n
            assert event.stats.decode_tok_s is not None
            return event.stats.decode_tok_s
    raise RuntimeError("the engine did not finish")


def run_raw_generate(llm: llama_cpp.Llama, n: int) -> float:
    llm.reset()
    tokens = llm.tokenize(PROMPT.encode())
    times: list[float] = []
    for _ in llm.generate(
        tokens,
        top_k=SAMPLING["top_k"],
        top_p=SAMPLING["top_p"],
        min_p=SAMPLING["min_p"],
        temp=SAMPLING["temp"],
        reset=True,
    ):
        times.append(time.perf_counter())
        if len(times) == n:
            break
    return rate(times)


def run_create_completion(llm: llama_cpp.Llama, n: int) -> float:
    llm.reset()
    times = []
    for _ in llm.create_completion(
        PROMPT,
        max_tokens=n,
        stream=True,
        seed=1,
        temperature=SAMPLING["temp"],
        top_p=SAMPLING["top_p"],
        top_k=SAMPLING["top_k"],
        min_p=SAMPLING["min_p"],
    ):
        times.append(time.perf_counter())
    return rate(times)


def run_native(bench: Path, model: Path, n: int, threads: int) -> float:
    out = subprocess.run(
        [
            str(bench),
            "-m",
            str(model),
            "-p",
            "0",
            "-n",
            str(n),
            "-r",
            "1",
            "-t",
            str(threads),
            "-fa",
            "1",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout)[0]["avg_ts"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", type=Path, default=ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
    )
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 8192])
    ap.add_argument(
        "--rounds", type=int, default=4, help="a multiple of the methods' count balances the order"
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="a subset for a longer A/B run (e.g. ponder raw_generate)",
    )
    ap.add_argument("--name", default="engine_overhead", help="results file name (no suffix)")
    args = ap.parse_args()
    threads = default_threads()
    n_ctx = max(args.lengths) + 256
    bench = llama_bench_path()

    # create_completion stops at end-of-generation; make it run the full length like the
    # others (only in this process: the engine runs in its own).
    llama_cpp.llama_cpp.llama_vocab_is_eog = lambda vocab, token: False  # type: ignore[attr-defined]
    native.load_backends()  # the CPU library this machine runs, as the engine picks it
    llm = llama_cpp.Llama(
        str(args.model),
        n_ctx=n_ctx,
        n_batch=512,
        n_threads=threads,
        flash_attn=True,
        swa_full=False,  # as the engine and llama-bench: a windowed cache for SWA layers
        seed=1,
        verbose=False,
    )
    client = EngineClient(ROOT / ".cache" / "bench-engine.log")
    spec = LoadSpec(str(args.model), n_ctx=n_ctx, n_threads=threads, flash_attn=True)
    run_ponder(client, spec, 16)  # load the engine's model before timing

    def measure(method: str, n: int) -> float:
        if method == "ponder":
            return run_ponder(client, spec, n)
        if method == "raw_generate":
            return run_raw_generate(llm, n)
        if method == "create_completion":
            return run_create_completion(llm, n)
        return run_native(bench, args.model, n, threads)

    methods = [m for m in METHODS if m in args.methods]
    orders = williams(len(methods))
    compared = [("raw_generate", "raw"), ("native", "native")]
    compared = [(m, short) for m, short in compared if "ponder" in methods and m in methods]
    rows: list[dict[str, Any]] = []
    for n in args.lengths:
        runs: dict[str, list[float]] = {m: [] for m in methods}
        for i in range(args.rounds):
            for method in (methods[k] for k in orders[i % len(orders)]):
                runs[method].append(measure(method, n))
                print(f"{n:>6} tokens  {method:<18} {runs[method][-1]:7.2f} tok/s", flush=True)
        row: dict[str, Any] = {"tokens": n, "runs": runs}
        row.update({m: statistics.median(v) for m, v in runs.items()})
        for m, short in compared:
            row[f"ponder_vs_{short}"] = row["ponder"] / row[m]
            row[f"paired_vs_{short}"] = paired(runs["ponder"], runs[m])
        rows.append(row)
    client.close()

    meta = {
        "model": args.model.name,
        "threads": threads,
        "rounds": args.rounds,
        "methods": methods,
        "n_ctx": n_ctx,
        "flash_attn": True,
        "llama_cpp_python": version("llama-cpp-python"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": __import__("os").cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        f"# Engine overhead ({meta['model']}, {threads} threads, {meta['date']})",
        "",
        f"Decode tok/s, median of {args.rounds} alternating rounds per length (Williams-square "
        "order). Ratios: of the medians, and in brackets the median of the per-round ratios.",
        "",
        "| tokens | "
        + " | ".join(LABELS[m] for m in methods)
        + "".join(f" | ponder / {short}" for _, short in compared)
        + " |",
        "|---:" * (1 + len(methods) + len(compared)) + "|",
    ]
    lines += [
        f"| {r['tokens']} | "
        + " | ".join(f"{r[m]:.2f}" for m in methods)
        + "".join(
            f" | {r[f'ponder_vs_{short}']:.3f} ({r[f'paired_vs_{short}']:.3f})"
            for _, short in compared
        )
        + " |"
        for r in rows
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
