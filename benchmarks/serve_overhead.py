"""What `ponder serve` costs: decode speed through the API against `ponder chat`.

The same model (the 270M), prompt, seed and token budget through both, alternating run by
run (the machine is shared and drifts):

- chat: `ponder chat --json` as a separate process, its own engine; decode tok/s from its
  done event (the engine's own measure);
- serve: one streaming client (httpx2) against `ponder serve`; decode tok/s measured by
  the client from the arrival of the first to the last content chunk, so the server's
  work per token (SSE framing, the event loop, the thread hop) is inside the figure.

Usage: python benchmarks/serve_overhead.py [--rounds 6] [--tokens 256] [--name NAME]
Writes benchmarks/results/serve_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.portable_build import cpu_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODEL = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
PROMPT = "Write a very long story about a lighthouse keeper and the ships she counts."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def via_chat(model: Path, tokens: int, env: dict[str, str]) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-m", "app", "chat", "-m", str(model), "-p", PROMPT, "--json",
         "--max-tokens", str(tokens), "--seed", "1", "--temp", "0.8"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    stats = json.loads(out.strip().splitlines()[-1])["stats"]
    return float(stats["decode_tok_s"]), int(stats["answer_tokens"] + stats["reasoning_tokens"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--name", default="serve_overhead")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="ponder-bench-serve-")
    env = dict(os.environ, PONDER_HOME=home)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "-m", str(args.model)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    rounds: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
        model_id = httpx2.get(f"{base}/models").json()["data"][0]["id"]
        serve_rate(base, model_id, 8)  # load the model in the server's engine
        for r in range(args.rounds):
            order = ["chat", "serve"] if r % 2 == 0 else ["serve", "chat"]
            row: dict[str, Any] = {"round": r + 1}
            for name in order:
                t0 = time.perf_counter()
                if name == "chat":
                    rate, n = via_chat(args.model, args.tokens, env)
                else:
                    rate, n = serve_rate(base, model_id, args.tokens)
                row[name] = {"tok_s": rate, "tokens": n, "wall_s": time.perf_counter() - t0}
            row["ratio"] = row["serve"]["tok_s"] / row["chat"]["tok_s"]
            rounds.append(row)
            print(
                f"round {r + 1}: serve {row['serve']['tok_s']:.1f} tok/s "
                f"({row['serve']['tokens']} tokens), chat {row['chat']['tok_s']:.1f} "
                f"({row['chat']['tokens']} tokens): {row['ratio']:.3f}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=15)
    ratios = [row["ratio"] for row in rounds]
    summary = {
        "serve": statistics.median(row["serve"]["tok_s"] for row in rounds),
        "chat": statistics.median(row["chat"]["tok_s"] for row in rounds),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "model": args.model.name,
        "tokens": args.tokens,
        "rounds": rounds,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# ponder serve vs ponder chat ({args.model.name}, {result['when']})",
        "",
        f"CPU: {result['cpu']}. Up to {args.tokens} tokens per reply; decode tok/s, medians of "
        f"{args.rounds} alternating rounds; serve is measured by a streaming client.",
        "",
        "| | serve tok/s | chat tok/s | serve / chat |",
        "|---|---:|---:|---:|",
        f"| decode | {summary['serve']:.1f} | {summary['chat']:.1f} | "
        f"{summary['ratio_median']:.3f} ({summary['ratio_min']:.3f}-{summary['ratio_max']:.3f}) |",
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def serve_rate(base: str, model_id: str, tokens: int) -> tuple[float, int]:
    """Decode tok/s as the client sees it: the server's usage count of generated tokens
    (after the first) over the time from the first to the last text chunk."""
    body = {
        "model": model_id,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens,
        "seed": 1,
        "temperature": 0.8,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    first = last = 0.0
    generated = 0
    with httpx2.stream("POST", f"{base}/chat/completions", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                generated = int(chunk["usage"]["completion_tokens"])
            for choice in chunk.get("choices", []):
                delta = choice.get("delta", {})
                if delta.get("content") or delta.get("reasoning_content"):
                    now = time.perf_counter()
                    first = first or now
                    last = now
    rate = (generated - 1) / (last - first) if generated > 1 and last > first else 0.0
    return rate, generated


if __name__ == "__main__":
    sys.exit(main())
