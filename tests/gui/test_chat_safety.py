"""Chats survive what goes wrong around them: a full disk, deleting a chat mid-reply, an edit
that is not sent. Real widgets, real SQLite, the real engine
process running replay models.

The full disk is SQLite's own: ``PRAGMA max_page_count`` caps the database at its current
size, so a write that needs more room fails with "database or disk is full" (SQLITE_FULL),
exactly as on a full disk, without filling this machine's disk.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.viewmodels import chat_controller
from app.gui.views.main_window import MainWindow
from tests.gui.conftest import ReplayFactory
from tests.gui.test_chat_window import WAIT, finish, questions, replies, send

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused saves are retried every 200 ms, not 5 s (set before the controller exists)."""
    monkeypatch.setattr(chat_controller, "RETRY_SAVE_MS", 200)


def fill_disk(store: ChatStore) -> None:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")


def free_disk(store: ChatStore) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_when_a_reply_ends_keeps_it_on_screen_and_saves_it_later(
    qtbot: QtBot,
    window: MainWindow,
    replay: ReplayFactory,
    store: ChatStore,
) -> None:
    long_answer = "A long answer that needs more room than the disk has. " * 200
    window.controller.set_model(replay(answer=long_answer, tokens_per_s=400, words_per_chunk=20))
    send(qtbot, window, "Tell me a lot")
    qtbot.waitUntil(lambda: len(store.messages(store.conversations()[0].id)) == 2, timeout=WAIT)
    fill_disk(store)
    finish(qtbot, window)

    # The user can go on: Send is back, the answer is on screen, and they were told.
    assert window.composer.send_button.isVisibleTo(window)
    assert "long answer" in replies(window)[0].answer_view.toPlainText()
    assert "could not be saved" in window.statusBar().currentMessage()
    cid = store.conversations()[0].id
    assert store.messages(cid)[-1].state == "streaming"  # not yet saved

    free_disk(store)
    qtbot.waitUntil(lambda: store.messages(cid)[-1].state == "complete", timeout=WAIT)
    assert store.messages(cid)[-1].content.strip() == long_answer.strip()


def test_a_message_the_disk_cannot_hold_is_not_sent_and_stays_in_the_box(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay())
    send(qtbot, window, "first")
    finish(qtbot, window)
    fill_disk(store)
    big = "a question with a lot of pasted text " * 500
    send(qtbot, window, big)
    assert window.composer.text() == big
    assert not window.controller.busy
    assert "not sent" in window.statusBar().currentMessage()
    assert "disk is full" in window.statusBar().currentMessage()
    assert [r.content for r in store.messages(store.conversations()[0].id)][:1] == ["first"]
    assert len(store.messages(store.conversations()[0].id)) == 2


def test_deleting_a_chat_while_it_answers_stops_the_reply(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(reasoning="word " * 2000, tokens_per_s=50))
    send(qtbot, window, "think for a long time")
    qtbot.waitUntil(lambda: "word" in replies(window)[0].thinking.body.toPlainText(), timeout=WAIT)
    cid = store.conversations()[0].id
    window.sidebar.select(cid)
    window.sidebar.list_view.setFocus()
    qtbot.keyClick(window.sidebar.list_view, Qt.Key.Key_Delete)
    # The reply stops (in well under the 40 s it would take), and the new chat can send.
    finish(qtbot, window)
    assert window.composer.send_button.isVisibleTo(window)
    assert store.conversations() == []


def test_an_edit_that_is_not_sent_keeps_what_was_typed(
    qtbot: QtBot,
    window: MainWindow,
    replay: ReplayFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The confirmation is a modal QMessageBox; the test answers Cancel by patching
    QMessageBox.question (a modal loop cannot be clicked from the test thread)."""
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: QMessageBox.StandardButton.Cancel)
    window.controller.set_model(replay(answer="one"))
    for text in ("first question", "second question"):
        send(qtbot, window, text)
        finish(qtbot, window)
    first = questions(window)[0]
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    first.editor.setPlainText("first question, carefully reworded")
    qtbot.mouseClick(first.resend_button, Qt.MouseButton.LeftButton)
    assert first.editor.isVisible()
    assert first.editor.toPlainText() == "first question, carefully reworded"
    assert [w.row.content for w in questions(window)] == ["first question", "second question"]


def test_an_open_edit_cannot_be_sent_while_a_reply_runs(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay(answer="one"))
    send(qtbot, window, "first question")
    finish(qtbot, window)
    first = questions(window)[0]
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    window.controller.set_model(replay(reasoning="word " * 500, tokens_per_s=50))
    qtbot.mouseClick(replies(window)[0].regenerate_button, Qt.MouseButton.LeftButton)
    assert window.controller.busy
    assert not first.resend_button.isEnabled()
    window.controller.stop()
    finish(qtbot, window)


def test_the_status_clears_when_a_reply_ends_in_a_chat_not_shown(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay(reasoning="word " * 150, tokens_per_s=100))
    send(qtbot, window, "take a moment")
    qtbot.waitUntil(lambda: "Thinking" in window.rate_label.text(), timeout=WAIT)
    window.new_chat()
    finish(qtbot, window)
    assert "Thinking" not in window.rate_label.text()
