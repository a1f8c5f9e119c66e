"""Why a model was refused stays in the chat column until read: not a status-bar message cut
off under the stats that vanished after a few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.main_window import MainWindow
from tests.gguf_split import giant_gguf
from tests.gui.services import services_for

pytestmark = pytest.mark.gui

WAIT = 30_000


def test_a_model_too_large_to_load_is_explained_until_dismissed(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    giant = giant_gguf(tmp_path / "giant.gguf")  # 400 GB on paper, nothing on disk
    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(giant)
    window.composer.set_text("Hello?")
    with qtbot.waitSignal(window.controller.reply_failed, timeout=WAIT) as failed:
        qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    reason = failed.args[0]
    assert "Giant needs about" in reason and "free" in reason and "smaller" in reason
    assert window.problem.isVisibleTo(window)
    assert window.problem.text() == reason  # all of it, not cut under the stats
    assert window.problem.label.wordWrap()
    assert reason not in window.statusBar().currentMessage()  # said once, where it stays
    qtbot.mouseClick(window.problem.dismiss_button, Qt.MouseButton.LeftButton)
    assert not window.problem.isVisibleTo(window) and window.problem.text() == ""


def test_a_refusal_goes_when_a_model_is_opened(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, gemma_path: Path
) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with qtbot.waitSignal(window.picker.check_failed, timeout=WAIT) as refused:
        window.picker.choose(bad)
    assert window.problem.text() == refused.args[1] and "broken.gguf" in refused.args[1]
    assert window.problem.isVisibleTo(window)
    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(gemma_path)
    assert not window.problem.isVisibleTo(window)


def test_a_file_refused_from_the_first_run_page_is_explained_there(
    qtbot: QtBot, controller: ChatController, home: Path, tmp_path: Path
) -> None:
    win = MainWindow(controller, services_for(controller), welcome=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.welcome is not None and win.pages.currentWidget() is win.welcome
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with qtbot.waitSignal(win.picker.check_failed, timeout=WAIT) as refused:
        win.welcome.model_ready.emit(str(bad))
    assert win.pages.currentWidget() is win.welcome  # still the page the user acted on
    assert win.problem.isVisibleTo(win) and win.problem.text() == refused.args[1]
