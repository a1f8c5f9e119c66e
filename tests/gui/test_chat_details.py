"""Small things a user of the chat notices: which chat is lit in the sidebar, where the
focus goes, what the status bar says after a switch, and the message box's width."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.gui.views.main_window import MainWindow
from tests.gui.conftest import ReplayFactory

pytestmark = pytest.mark.gui

WAIT = 30_000


def chat_once(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT)


def lit_rows(window: MainWindow) -> list[int]:
    return [i.row() for i in window.sidebar.list_view.selectionModel().selectedRows()]


def test_switching_chats_clears_the_last_replys_figures(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay())
    chat_once(qtbot, window, "first")
    first = window.controller.cid
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.rate_label.text() == ""  # they were the other chat's reply's
    chat_once(qtbot, window, "second")
    assert "tok/s" in window.rate_label.text()
    window.sidebar.conversation_selected.emit(first)
    assert window.rate_label.text() == ""
