"""The first window: open a real GGUF, send a message, get a streamed reply, stop one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.events import GenerationStats
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient
from app.inference.protocol import ReplaySpec, SamplingParams

pytestmark = pytest.mark.gui


@pytest.fixture
def worker(ponder_home: Path) -> Iterator[EngineWorker]:
    w = EngineWorker(EngineClient(ponder_home / "logs" / "engine.log"))
    yield w
    w.shutdown()


@pytest.fixture
def window(qtbot: QtBot, worker: EngineWorker) -> MainWindow:
    win = MainWindow(worker)
    qtbot.addWidget(win)
    return win


@pytest.mark.integration
@pytest.mark.slow
def test_round_trip_with_the_real_model(qtbot: QtBot, window: MainWindow, gemma_path: Path) -> None:
    window.open_model(gemma_path)
    assert "Gemma 3 270m" in window.model_label.text()
    window.composer.setPlainText("Say hello.")
    with qtbot.waitSignal(window.worker.finished, timeout=120_000) as blocker:
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
        assert window.stop_button.isEnabled() and not window.send_button.isEnabled()
    stats: GenerationStats = blocker.args[0]
    assert stats.answer_tokens > 0
    assert "You: Say hello." in window.transcript.toPlainText()
    assert "Answer: " in window.transcript.toPlainText()
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()
    assert "tok/s" in window.statusBar().currentMessage()
    assert [m.role for m in window.conversation.messages] == ["user", "assistant"]


def test_a_broken_file_is_explained_not_loaded(window: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("not a model")
    window.open_model(bad)
    assert window.model is None
    assert "not a GGUF model file" in window.statusBar().currentMessage()


def test_sending_without_a_model_says_what_to_do(qtbot: QtBot, window: MainWindow) -> None:
    window.composer.setPlainText("hello")
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    assert window.statusBar().currentMessage() == "Open a GGUF model first."
    assert window.composer.toPlainText() == "hello"  # nothing the user typed is lost


def test_worker_signals_arrive_in_order(qtbot: QtBot, worker: EngineWorker, tmp_path: Path) -> None:
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"chunk": "<think>plan"}\n{"chunk": "</think>"}\n{"chunk": "done"}\n')
    with qtbot.waitSignals(
        [worker.reasoning, worker.answer, worker.finished], order="strict", timeout=30_000
    ):
        worker.submit(ReplaySpec(str(replay)), [], SamplingParams())
