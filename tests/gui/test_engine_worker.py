"""The engine worker thread turns the engine's events into Qt signals, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.gui.workers.engine_worker import EngineWorker
from app.inference.protocol import ReplaySpec, SamplingParams

pytestmark = pytest.mark.gui


def test_worker_signals_arrive_in_order(qtbot: QtBot, worker: EngineWorker, tmp_path: Path) -> None:
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"chunk": "<think>plan"}\n{"chunk": "</think>"}\n{"chunk": "done"}\n')
    with qtbot.waitSignals(
        [worker.reasoning, worker.answer, worker.reply_done], order="strict", timeout=30_000
    ):
        worker.submit(ReplaySpec(str(replay)), [], SamplingParams())


def test_a_request_that_fails_before_the_engine_still_ends_with_failed(
    qtbot: QtBot, worker: EngineWorker, tmp_path: Path
) -> None:
    """A bug on the way to the engine (here: a message that cannot be sent over the pipe)
    must end the reply with an error, not leave the window waiting forever."""
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"chunk": "done"}\n')
    unsendable = [{"role": "user", "content": lambda: None}]
    with qtbot.waitSignal(worker.failed, timeout=30_000) as blocker:
        worker.submit(ReplaySpec(str(replay)), unsendable, SamplingParams())  # type: ignore[arg-type]
    kind, message, hint = blocker.args
    assert kind == "engine_error" and "could not answer" in message and "engine.log" in hint
    # The worker thread is still serving requests.
    with qtbot.waitSignal(worker.reply_done, timeout=30_000):
        worker.submit(ReplaySpec(str(replay)), [], SamplingParams())
