"""A model pooled over two workers (llama.cpp RPC on loopback) against the local engine.

On the 270M, alternating run by run (the machine is shared and drifts): the local engine
(llama.cpp in Ponder's engine process) and the pooled engine (llama-server started by the
engine, its layers on two `ponder worker` rpc-servers on 127.0.0.1). Each run evaluates
the same prompt and decodes the same number of tokens (end-of-generation ignored, greedy).
Reported: prompt and decode tok/s, medians and the per-round ratio pooled / local.

On loopback the "network" costs a memory copy and a syscall per hop: this is the floor of
what pooling costs, not what a LAN costs (see app/hardware/pooled_fit.py for the LAN
assumption the fit uses).

Usage: python benchmarks/pooled.py [--rounds 6] [--tokens 128] [--name NAME]
Writes benchmarks/results/pooled.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.events import Done  # noqa: E402
from app.inference.client import EngineClient  # noqa: E402
from app.inference.protocol import LoadSpec, PooledSpec, SamplingParams  # noqa: E402
from benchmarks.portable_build import cpu_model  # noqa: E402
from tests.loopback import start_workers, stop_workers  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODEL = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
PROMPT = " ".join(["The old lighthouse keeper counted the ships that passed each night."] * 20)


def one_run(client: EngineClient, spec: LoadSpec | PooledSpec, tokens: int) -> dict[str, float]:
    sampling = SamplingParams(temperature=0.0, max_tokens=tokens, seed=1, ignore_eos=True)
    last = None
    for event in client.generate(spec, [], sampling, raw_prompt=PROMPT):
        last = event
    assert isinstance(last, Done), last
    return {
        "prompt_tokens": float(last.stats.prompt_tokens),
        "prefill_tok_s": float(last.stats.prefill_tok_s or 0.0),
        "decode_tok_s": float(last.stats.decode_tok_s or 0.0),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--name", default="pooled")
    args = ap.parse_args()
    workers = start_workers(None, None)
    log = ROOT / ".cache" / "bench-pooled-engine.log"
    # Two engines, each with its model loaded once: loading is not what is measured.
    local_client, pooled_client = EngineClient(log), EngineClient(log)
    specs: dict[str, tuple[EngineClient, LoadSpec | PooledSpec]] = {
        "local": (local_client, LoadSpec(str(args.model), n_ctx=2048)),
        "pooled": (
            pooled_client,
            PooledSpec(str(args.model), tuple(a for a, _ in workers), n_ctx=2048),
        ),
    }
    rounds: list[dict[str, Any]] = []
    try:
        for client, spec in specs.values():
            one_run(client, spec, 4)  # load and warm up
        for r in range(args.rounds):
            order = ["local", "pooled"] if r % 2 == 0 else ["pooled", "local"]
            row: dict[str, Any] = {"round": r + 1}
            for name in order:
                client, spec = specs[name]
                row[name] = one_run(client, spec, args.tokens)
            for measure in ("prefill_tok_s", "decode_tok_s"):
                row[f"{measure}_ratio"] = row["pooled"][measure] / row["local"][measure]
            rounds.append(row)
            print(
                f"round {r + 1}: prompt {row['pooled']['prefill_tok_s']:.0f} vs "
                f"{row['local']['prefill_tok_s']:.0f} tok/s, decode "
                f"{row['pooled']['decode_tok_s']:.1f} vs {row['local']['decode_tok_s']:.1f}",
                flush=True,
            )
    finally:
        local_client.close()
        pooled_client.close()
        stop_workers(workers)
    summary = {}
    for measure in ("prefill_tok_s", "decode_tok_s"):
        ratios = [row[f"{measure}_ratio"] for row in rounds]
        summary[measure] = {
            "local": statistics.median(row["local"][measure] for row in rounds),
            "pooled": statistics.median(row["pooled"][measure] for row in rounds),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    prompt_tokens = int(rounds[0]["local"]["prompt_tokens"]) if rounds else 0
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "model": args.model.name,
        "prompt_tokens": prompt_tokens,
        "decode_tokens": args.tokens,
        "workers": 2,
        "rounds": rounds,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Pooled over 2 loopback workers vs local ({args.model.name}, {result['when']})",
        "",
        f"CPU: {result['cpu']}. A {prompt_tokens}-token prompt, then {args.tokens} tokens "
        f"(greedy); medians of {args.rounds} alternating rounds, and the median (min-max) of "
        "the per-round ratios pooled / local. Loopback: the floor of what pooling costs.",
        "",
        "| measure | local tok/s | pooled tok/s | pooled / local |",
        "|---|---:|---:|---:|",
    ]
    for measure, label in (("prefill_tok_s", "prompt"), ("decode_tok_s", "decode")):
        s = summary[measure]
        lines.append(
            f"| {label} | {s['local']:.1f} | {s['pooled']:.1f} | {s['ratio_median']:.2f} "
            f"({s['ratio_min']:.2f}-{s['ratio_max']:.2f}) |"
        )
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
