"""The engine survives CPU code that faults: the real engine, the real 270M, a real SIGILL.

No machine here faults on demand (the AMX Xeons that do are drawn by chance), so the fault
is a real signal the engine process raises on itself at its first decode while it runs the
CPU library this machine would pick (``PONDER_INJECT_FAULT``): the process dies exactly as
it does when ``tilezero`` faults in llama.cpp's AMX kernels.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from app.core.events import AnswerDelta, Done, ErrorEvent, ReasoningDelta
from app.inference import native
from app.inference.client import EngineClient
from app.inference.cpu_safety import CpuSafety
from app.inference.protocol import LoadSpec, SamplingParams
from tests.integration.cli import ponder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLING = SamplingParams(temperature=0.0, max_tokens=12, seed=1)
MESSAGES = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def best_variant() -> str:
    variants = native.cpu_variants()
    if len(variants) < 2:
        pytest.skip("this llama.cpp build has a single CPU library (nothing to fall back to)")
    return native.choose_variant(variants, ())[0]


def _reply(client: EngineClient, gemma_path: Path) -> tuple[str, Done | ErrorEvent]:
    text, last = "", None
    for event in client.generate(LoadSpec(str(gemma_path), n_ctx=512), MESSAGES, SAMPLING):
        if isinstance(event, ReasoningDelta | AnswerDelta):
            text += event.text
        if isinstance(event, Done | ErrorEvent):
            last = event
    assert last is not None
    return text, last


def test_a_faulting_cpu_library_is_left_out_the_reply_completes_and_it_is_remembered(
    gemma_path: Path,
    ponder_home: Path,
    best_variant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PONDER_INJECT_FAULT", f"SIGILL:{best_variant}")
    log = ponder_home / "logs" / "engine.log"
    safety = CpuSafety(ponder_home / "cpu-safety.json")

    client = EngineClient(log, cpu_safety=safety)
    try:
        text, last = _reply(client, gemma_path)
    finally:
        client.close()
    assert isinstance(last, Done), f"the user saw an error: {last}"
    assert text.strip(), "the reply wrote nothing"
    fallback = last.stats.cpu_kernels
    assert fallback and fallback != best_variant
    assert log.read_text().count("injecting SIGILL") == 1  # it really died once

    # Remembered for this machine and build, in words `ponder hw` shows.
    faults = safety.faults()
    assert [(f.variant, f.uses, f.signal) for f in faults] == [(best_variant, fallback, "SIGILL")]
    hw = ponder("hw")
    assert hw.code == 0, hw.stderr
    sentence = faults[0].sentence()
    assert sentence in hw.stdout
    assert native.describe_variant(best_variant) in sentence

    # A fresh start goes straight to the safe library: no second fault, same reply.
    again = EngineClient(log, cpu_safety=safety)
    try:
        text2, last2 = _reply(again, gemma_path)
    finally:
        again.close()
    assert isinstance(last2, Done) and last2.stats.cpu_kernels == fallback
    assert text2 == text
    assert log.read_text().count("injecting SIGILL") == 1


def test_without_a_fault_the_engine_runs_the_best_library_and_remembers_nothing(
    gemma_path: Path, ponder_home: Path, best_variant: str
) -> None:
    safety = CpuSafety(ponder_home / "cpu-safety.json")
    client = EngineClient(ponder_home / "logs" / "engine.log", cpu_safety=safety)
    try:
        _, last = _reply(client, gemma_path)
    finally:
        client.close()
    assert isinstance(last, Done) and last.stats.cpu_kernels == best_variant
    assert safety.faults() == []


def test_a_fault_after_the_first_decode_stays_a_crash(
    gemma_path: Path, ponder_home: Path, best_variant: str
) -> None:
    """SIGILL mid-reply is not taken for a CPU library that cannot run here: the engine
    had already decoded with it. The reply ends with the crash sentence, nothing is
    remembered, and the next reply uses the same library."""
    safety = CpuSafety(ponder_home / "cpu-safety.json")
    client = EngineClient(ponder_home / "logs" / "engine.log", cpu_safety=safety)
    sampling = SamplingParams(temperature=0.7, max_tokens=4000, seed=3, ignore_eos=True)
    events = []
    try:
        for event in client.generate(LoadSpec(str(gemma_path), n_ctx=4096), MESSAGES, sampling):
            events.append(event)
            if isinstance(event, ReasoningDelta | AnswerDelta) and client.pid is not None:
                os.kill(client.pid, signal.SIGILL)
                time.sleep(0.05)
        last = events[-1]
        assert isinstance(last, ErrorEvent) and last.kind == "engine_crashed"
        assert "SIGILL" in last.message
        assert safety.faults() == []
        _, after = _reply(client, gemma_path)
        assert isinstance(after, Done) and after.stats.cpu_kernels == best_variant
    finally:
        client.close()
