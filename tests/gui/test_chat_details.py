"""Small things a user of the chat notices: which chat is lit in the sidebar, where the
focus goes, what the status bar says after a switch, and the message box's width."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
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


def test_a_new_chat_leaves_the_old_one_unlit(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay())
    chat_once(qtbot, window, "cats?")
    assert lit_rows(window) == [0]  # the chat on screen is the one lit
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat._widgets == []
    assert lit_rows(window) == []
    chat_once(qtbot, window, "dogs?")  # the new chat, once saved, is lit in its turn
    assert window.conversations.rowCount() == 2
    [row] = lit_rows(window)
    assert window.conversations.conversation_id(row) == window.controller.cid


def test_opening_a_model_puts_the_focus_in_the_message_box(
    qtbot: QtBot, window: MainWindow, gemma_path: Path
) -> None:
    window.sidebar.focus_search()
    assert window.focusWidget() is window.sidebar.search
    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(gemma_path)
    assert window.focusWidget() is window.composer.input


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


def test_the_message_box_lines_up_with_the_messages_on_a_wide_screen(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.resize(1920, 1080)
    window.controller.set_model(replay())
    chat_once(qtbot, window, "hi")
    column, body = window.chat.column, window.composer.body
    qtbot.waitUntil(lambda: body.width() < window.composer.width() - 100)

    def edges(widget: object) -> tuple[int, int]:
        assert hasattr(widget, "mapTo") and hasattr(widget, "width")
        left = widget.mapTo(window, QPoint(0, 0)).x()
        return left, left + widget.width()

    (col_left, col_right), (box_left, box_right) = edges(column), edges(body)
    assert body.width() <= column.width()
    # Centred as the column is (the chat's scroll bar may shift it by half its width).
    slack = window.chat.verticalScrollBar().sizeHint().width()
    assert abs(box_left - col_left) <= slack and abs(box_right - col_right) <= slack
    assert window.composer.input.width() < column.width()
