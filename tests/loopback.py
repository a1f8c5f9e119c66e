"""Real programs on loopback, shared by tests, benchmarks and the screenshots script:
free ports, waiting for a listener, and `ponder worker` processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
Workers = list[tuple[str, subprocess.Popen[bytes]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def worker_port() -> int:
    """A free port whose next one is free too (a worker publishes what it lends there)."""
    while True:
        port = free_port()
        if port_is_free(port + 1):
            return port


def start_workers(*mem: str | None) -> Workers:
    """One `ponder worker` per item of ``mem`` (its --mem in GB, or None), listening."""
    started: Workers = []
    try:
        for lend in mem:
            port = worker_port()
            extra = ["--mem", lend] if lend else []
            proc = subprocess.Popen(
                [sys.executable, "-m", "app", "worker", "--port", str(port), *extra],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append((f"127.0.0.1:{port}", proc))
        for address, _ in started:
            port = int(address.rsplit(":", 1)[1])
            wait_port(port)
            wait_port(port + 1)
    except BaseException:
        stop_workers(started)
        raise
    return started


def stop_workers(started: Workers) -> None:
    for _, proc in started:
        proc.terminate()
        proc.wait(timeout=10)
