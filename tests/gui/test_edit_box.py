"""Editing a question has the message box's keys: Enter sends, Shift+Enter starts a new
line, Esc cancels (and does not stop the reply being written, as Esc elsewhere does)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.gui.views.edit_box import EditBox, edit_box
from app.gui.views.main_window import MainWindow
from tests.gui.conftest import ReplayFactory

pytestmark = pytest.mark.gui


def test_enter_sends_the_edit_and_shift_enter_starts_a_new_line(qtbot: QtBot) -> None:
    sent: list[str] = []
    box = edit_box("first line", send=lambda: sent.append(box.toPlainText()), cancel=list)
    qtbot.addWidget(box)
    box.moveCursor(box.textCursor().MoveOperation.End)
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(box, "second line")
    assert box.toPlainText() == "first line\nsecond line" and sent == []
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert sent == ["first line\nsecond line"]
    qtbot.keyClick(box, Qt.Key.Key_Enter)  # the keypad's Enter too
    assert len(sent) == 2 and box.toPlainText() == "first line\nsecond line"


def test_esc_cancels_the_edit_and_leaves_the_reply_running(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    """In the chat, Esc stops the reply (a window shortcut): in the edit box it is the
    edit's own key."""
    window.controller.set_model(replay(reasoning="slowly " * 400, tokens_per_s=50))
    assert window.controller.send("a question")
    box = EditBox("a question", window.chat.column)
    cancelled: list[bool] = []
    box.cancelled.connect(lambda: cancelled.append(True))
    box.show()
    window.activateWindow()
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=5_000)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert cancelled == [True]
    assert window.controller.busy  # the reply goes on
    # Outside the box, Esc still stops it.
    window.composer.focus()
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30_000)
