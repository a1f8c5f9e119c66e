"""No process outlives Ponder: the app killed with SIGKILL takes its children with it.

SIGKILL runs no clean-up in the app, so each child must notice by itself. The hardest
moment is an engine deep in llama.cpp evaluating a long prompt: it reads no pipe until the
batch ends (about 15 s for this prompt on the 270M on two cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from tests.integration.cli import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GONE_WITHIN_S = 2.0


def still_running(procs: list[psutil.Process], within_s: float) -> list[psutil.Process]:
    """Those of ``procs`` not ended within ``within_s``. A zombie has ended: it only waits
    to be reaped by its new parent (PID 1, which on some machines reaps slowly)."""
    deadline = time.monotonic() + within_s
    while True:
        running = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    running.append(p)
            except psutil.NoSuchProcess:
                pass
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.05)


def _children_once_busy(
    proc: subprocess.Popen[bytes], want: int, busy_s: float
) -> list[psutil.Process]:
    """The app's children once there are ``want`` of them and the newest has run a while."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the app ended early"
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(children) >= want:
            time.sleep(busy_s)
            return psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.1)
    raise AssertionError("the engine did not start")


def test_an_engine_evaluating_a_long_prompt_ends_with_the_killed_cli(
    gemma_path: object, ponder_home: object
) -> None:
    prompt = "The quick brown fox jumps over the lazy dog. " * 1200  # ~12,000 tokens
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "chat", "-m", str(gemma_path), "-p", prompt, "--json"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The engine, and multiprocessing's resource tracker; then 3 s into the prompt.
        children = _children_once_busy(proc, 2, busy_s=3.0)
        engine = [c for c in children if c.cpu_percent(interval=0.2) > 20]
        assert engine, "no child was computing: the prompt should still be evaluating"
    finally:
        proc.kill()
        proc.wait()
    alive = still_running(children, GONE_WITHIN_S)
    assert not alive, [p.pid for p in alive]


def test_the_window_engine_and_math_processes_end_with_the_killed_app(
    tmp_path: object, ponder_home: object
) -> None:
    import json
    from pathlib import Path

    replay = Path(str(tmp_path)) / "slow.jsonl"
    chunks = ["<think>\n"] + [f"thought {i}. " for i in range(4000)]
    replay.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gui.app_driver", str(replay), "40", "Go on"],
        cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        children = _children_once_busy(proc, 3, busy_s=2.0)  # engine, math, tracker
    finally:
        proc.kill()
        proc.wait()
    alive = still_running(children, GONE_WITHIN_S)
    assert not alive, [p.pid for p in alive]
