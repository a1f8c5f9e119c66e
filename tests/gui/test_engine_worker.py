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
        [worker.reasoning, worker.answer, worker.finished], order="strict", timeout=30_000
    ):
        worker.submit(ReplaySpec(str(replay)), [], SamplingParams())
