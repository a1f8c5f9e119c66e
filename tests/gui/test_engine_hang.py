"""A hung engine: the real engine process stopped with SIGSTOP mid-reply.

The engine streams a paced replay, the test stops its process (as a deadlock or a stuck
driver call would leave it: alive, silent), and the window must say so within the silence
limit, let the user stop it within 2 s, keep what was written, and answer the next message
with a fresh engine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.settings import Settings
from app.core.store import ChatStore
from app.gui.render.math import MathRenderer
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient
from tests.gui.conftest import ReplayFactory
from tests.gui.services import services_for

pytestmark = pytest.mark.gui

SILENCE_S = 2.0  # the app's is 8 s; shorter here so the test is quick


@pytest.fixture
def quick_worker(ponder_home: Path) -> Iterator[EngineWorker]:
    w = EngineWorker(EngineClient(ponder_home / "logs" / "engine.log", silence_s=SILENCE_S))
    yield w
    w.shutdown()


@pytest.fixture
def hang_window(
    qtbot: QtBot, store: ChatStore, quick_worker: EngineWorker, home: Path
) -> MainWindow:
    controller = ChatController(store, quick_worker, Settings())
    win = MainWindow(controller, services_for(controller), math=MathRenderer())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def stop_engine_mid_reply(
    qtbot: QtBot, win: MainWindow, replay: ReplayFactory, steps: int
) -> tuple[int, list[str]]:
    """Send a paced reply, then SIGSTOP the engine once it has streamed a little, and wait
    for the bar; the engine's pid and what the chat received."""
    controller = win.controller
    reasoning = " ".join(f"step{i}" for i in range(steps))
    controller.set_model(replay(reasoning=reasoning, tokens_per_s=40))
    seen: list[str] = []
    controller.reasoning.connect(seen.append)
    controller.send("Think for a while")
    qtbot.waitUntil(lambda: len("".join(seen)) > 40, timeout=15000)
    pid = controller.worker.client.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    qtbot.waitUntil(win.silence_bar.isVisible, timeout=int(SILENCE_S * 1000) + 4000)
    return pid, seen


def test_a_stopped_engine_is_reported_stopped_fast_and_replaced(
    qtbot: QtBot, hang_window: MainWindow, replay: ReplayFactory
) -> None:
    win, controller = hang_window, hang_window.controller
    pid, seen = stop_engine_mid_reply(qtbot, win, replay, steps=400)
    try:
        assert "not responding" in win.silence_bar.label.text()
        shown = "".join(seen)

        started = time.monotonic()
        with qtbot.waitSignal(controller.reply_finished, timeout=2000) as done:
            qtbot.mouseClick(win.silence_bar.stop_button, Qt.MouseButton.LeftButton)
        assert time.monotonic() - started < 2.0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    row = done.args[0]
    assert row.state == "stopped"
    assert row.reasoning.startswith(shown[:40]) and len(row.reasoning) >= len(shown) - 1
    assert not win.silence_bar.isVisible()
    qtbot.waitUntil(lambda: controller.worker.client.pid != pid, timeout=5000)

    # The next message is answered by a fresh engine.
    controller.set_model(replay(tokens_per_s=None))
    with qtbot.waitSignal(controller.reply_finished, timeout=20000) as again:
        controller.send("And now?")
    assert again.args[0].state == "complete"
    assert "Rayleigh" in again.args[0].content


def test_waiting_hides_the_bar_until_the_engine_moves_again(
    qtbot: QtBot, hang_window: MainWindow, replay: ReplayFactory
) -> None:
    win, controller = hang_window, hang_window.controller
    pid, _ = stop_engine_mid_reply(qtbot, win, replay, steps=200)
    try:
        qtbot.mouseClick(win.silence_bar.wait_button, Qt.MouseButton.LeftButton)
        assert not win.silence_bar.isVisible()
    finally:
        os.kill(pid, signal.SIGCONT)
    # Moving again: the reply completes as if nothing happened, the bar stays away.
    with qtbot.waitSignal(controller.reply_finished, timeout=30000) as done:
        pass
    assert done.args[0].state == "complete"
    assert not win.silence_bar.isVisible()
