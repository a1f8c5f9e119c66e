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

    switch = reply.versions
    assert switch.isVisible() and switch.label.text() == "2/2"
    assert switch.previous.isEnabled() and not switch.next.isEnabled()
    with qtbot.waitSignal(controller.reply_changed, timeout=5_000):
        qtbot.mouseClick(switch.previous, Qt.MouseButton.LeftButton)  # "‹"
    assert "first answer" in replies(window)[0].answer_view.toPlainText()
    assert switch.label.text() == "1/2" and switch.next.isEnabled()
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
    assert replies(window)[0].versions.label.text() == "3/3"


def test_a_reply_never_regenerated_shows_no_version_switch(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay(answer="only answer"))
    send(qtbot, window, "q")
    finish(qtbot, window)
    assert not replies(window)[0].versions.isVisible()


def test_a_version_without_thinking_shows_none_of_the_others(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    """Stepping from a version that thought to one that did not: no thought is left over
    (nor offered to copy)."""
    controller = window.controller
    controller.set_model(replay(reasoning="Let me think about it.", answer="thought"))
    send(qtbot, window, "q")
    finish(qtbot, window)
    controller.set_model(replay(reasoning="", answer="direct"))
    qtbot.mouseClick(replies(window)[0].regenerate_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    reply = replies(window)[0]
    for ordinal in (0, 1):
        with qtbot.waitSignal(controller.reply_changed, timeout=5_000):
            controller.show_version(controller.rows[1].id, ordinal)
    assert "direct" in reply.answer_view.toPlainText()
    assert reply.reasoning_text() == "" and not reply.copy_reasoning_button.isVisibleTo(reply)
    assert not reply.thinking.isVisibleTo(reply)
