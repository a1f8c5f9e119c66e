"""Regenerate keeps the earlier replies: each is a version of the reply, and the one shown
is the one the conversation carries on with (as "< 2/3 >" does in ChatGPT)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.views.main_window import MainWindow
from tests.gui.conftest import ReplayFactory
from tests.gui.test_chat_window import finish, replies, send

pytestmark = pytest.mark.gui


def test_regenerate_keeps_the_old_reply_as_a_version_and_either_can_be_the_reply(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    controller = window.controller
    controller.set_model(replay(answer="first answer"))
    send(qtbot, window, "q")
    finish(qtbot, window)
    controller.set_model(replay(answer="second answer"))
    qtbot.mouseClick(replies(window)[0].regenerate_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    (reply,) = replies(window)
    assert "second answer" in reply.answer_view.toPlainText()
    row = controller.rows[1]
    assert (row.version, row.version_count) == (1, 2)

    with qtbot.waitSignal(controller.reply_changed, timeout=5_000):
        controller.show_version(row.id, 0)
    assert "first answer" in replies(window)[0].answer_view.toPlainText()
    assert controller.rows[1].content == "first answer"  # what the next question builds on
    saved = store.messages(controller.cid)[1]
    assert saved.content == "first answer" and saved.version == 0

    # A third try: three versions, the new one shown last.
    controller.set_model(replay(answer="third answer"))
    qtbot.mouseClick(replies(window)[0].regenerate_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    row = controller.rows[1]
    assert (row.content, row.version, row.version_count) == ("third answer", 2, 3)
    assert [v.content for v in row.others] == ["first answer", "second answer"]
