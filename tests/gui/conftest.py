"""Fixtures for the chat window: a real SQLite store, a real engine worker, replay models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.settings import Settings
from app.core.store import ChatStore
from app.gui.render.math import MathRenderer
from app.gui.theme import apply_theme
from app.gui.viewmodels.chat_controller import ChatController, ModelChoice
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient
from tests.gui.services import services_for

ReplayFactory = Callable[..., ModelChoice]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


@pytest.fixture
def worker(ponder_home: Path) -> Iterator[EngineWorker]:
    w = EngineWorker(EngineClient(ponder_home / "logs" / "engine.log"))
    yield w
    w.shutdown()


@pytest.fixture
def controller(store: ChatStore, worker: EngineWorker) -> ChatController:
    return ChatController(store, worker, Settings())


@pytest.fixture
def window(qtbot: QtBot, controller: ChatController, home: Path) -> MainWindow:
    win = MainWindow(controller, services_for(controller), math=MathRenderer())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def replay(tmp_path: Path) -> ReplayFactory:
    """Write a replay 'model': reasoning then answer, one chunk per token."""
    count = 0

    def make(
        reasoning: str = "Let me think. The sky scatters blue light more.",
        answer: str = "The sky is **blue** because of Rayleigh scattering.",
        tokens_per_s: float | None = None,
        words_per_chunk: int = 1,
    ) -> ModelChoice:
        nonlocal count
        count += 1
        path = tmp_path / f"replay-{count}.jsonl"
        chunks = ["<think>\n"] if reasoning else []
        chunks += _chunks(reasoning, words_per_chunk)
        if reasoning:
            chunks.append("\n</think>\n\n")
        chunks += _chunks(answer, words_per_chunk)
        path.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks))
        return ModelChoice(
            name="Replay", path=str(path), is_replay=True, replay_tokens_per_s=tokens_per_s
        )

    return make


def _chunks(text: str, words: int) -> list[str]:
    parts = text.split(" ")
    out = []
    for i in range(0, len(parts), words):
        piece = " ".join(parts[i : i + words])
        out.append(piece if i + words >= len(parts) else piece + " ")
    return [p for p in out if p]


@pytest.fixture
def app_state(qapp: QApplication) -> Iterator[QApplication]:
    """The QApplication is shared by every test: its theme and font are put back after
    one that changes them."""
    font = qapp.font()
    yield qapp
    apply_theme(qapp, "system", font.pointSize())
    qapp.setFont(font)


@pytest.fixture
def app_font(app_state: QApplication) -> QApplication:
    """The app's own font size (11 pt, Settings' default), put back afterwards."""
    apply_theme(app_state, "system", 11)
    return app_state
