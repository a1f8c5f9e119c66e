"""Scrolling a long chat: what the user reads stays where it is while messages above it
change, and every message near the screen is there to be seen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.views.main_window import MainWindow
from app.gui.views.message_widgets import AssistantMessage, UserMessage
from app.gui.views.question import WrappedText
from tests.gui.conftest import ReplayFactory

pytestmark = pytest.mark.gui

PAIRS = 40
ANSWER = (
    "The tank is a box, so its volume is the base times the height; the base is the "
    "length times the width, and a litre is a thousand cubic centimetres. "
) * 4


RICH_ANSWER = (
    "## The volume\n\nThe tank is a box: $V = a \\cdot b \\cdot c$.\n\n"
    "| quantity | value |\n|---|---|\n| base | 2000 |\n| volume | 60000 |\n\n"
    "```python\ndef volume(a, b, c):\n    return a * b * c\n```\n\n"
)


def open_long_chat(
    qtbot: QtBot,
    window: MainWindow,
    store: ChatStore,
    answer: str = ANSWER,
    *,
    build_all: bool = True,
) -> None:
    cid = store.create_conversation("long")
    for i in range(PAIRS):
        store.add_message(cid, "user", f"Question {i}: how much does tank {i} hold?")
        mid = store.add_message(cid, "assistant", "", model="Replay")
        store.finish_message(mid, f"Answer {i}. {answer}", "", "complete", {})
    window.controller.open_conversation(cid)
    chat = window.chat
    bar = chat.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    while build_all and chat.load_earlier():
        pass
    settle(qtbot)


def settle(qtbot: QtBot) -> None:
    for _ in range(6):
        qtbot.wait(20)


def screen_y(window: MainWindow, widget: QWidget) -> int:
    return widget.mapTo(window.chat.viewport(), QPoint(0, 0)).y()


def message_at_top(window: MainWindow) -> UserMessage | AssistantMessage:
    """The first message whose bottom is on screen."""
    return next(w for w in window.chat._widgets if screen_y(window, w) + w.height() > 0)


def test_the_message_being_read_stays_put_when_the_messages_above_grow(
    qtbot: QtBot, window: MainWindow, store: ChatStore
) -> None:
    """Messages above the one being read get taller (here: the window is narrowed, so
    every answer wraps to more lines); the one being read does not move on screen."""
    window.resize(1200, 700)
    open_long_chat(qtbot, window, store)
    bar = window.chat.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)  # the user scrolls to the middle and reads
    settle(qtbot)
    reading = message_at_top(window)
    y = screen_y(window, reading)
    height = window.chat.viewport().height()

    window.resize(760, 700)
    settle(qtbot)
    assert window.chat.viewport().height() == height
    assert screen_y(window, reading) == y


def test_every_message_near_the_screen_is_shown_all_the_way_up_and_back(
    qtbot: QtBot, window: MainWindow, store: ChatStore
) -> None:
    open_long_chat(qtbot, window, store)
    chat = window.chat
    bar = chat.verticalScrollBar()
    height = chat.viewport().height()

    def check_screen() -> None:
        on_screen = [
            w
            for w in chat._widgets
            if screen_y(window, w) < height and screen_y(window, w) + w.height() > 0
        ]
        assert on_screen, "a blank screen"
        assert all(w.isVisible() for w in on_screen)
        tops = [screen_y(window, w) for w in on_screen]
        assert tops == sorted(tops)  # in order, none over another

    seen: set[int] = set()
    while bar.value() > 0:
        bar.setValue(bar.value() - bar.pageStep())
        settle(qtbot)
        check_screen()
        seen.update(id(w) for w in chat._widgets if w.isVisible())
    assert isinstance(chat._widgets[0], UserMessage) and chat._widgets[0].isVisible()
    while bar.value() < bar.maximum():
        bar.setValue(bar.value() + bar.pageStep())
        settle(qtbot)
        check_screen()
    last = chat._widgets[-1]
    assert isinstance(last, AssistantMessage) and last.isVisible()
    assert len(seen) == 2 * PAIRS  # every message was shown on the way


def test_scrolling_up_a_long_chat_asks_only_the_messages_near_the_screen_their_height(
    qtbot: QtBot, window: MainWindow, store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work per scroll step must not grow with the chat. Scrolling up builds the earlier
    messages and draws their formulas, so messages change height on most steps; Qt's box
    layouts keep one width's height each and a long chat's layout is asked at two, so each
    change went down through every message's layout (hundreds in a long chat, most of a
    step's time: 186 to 790 questions a step here). Counted with the questions' own height
    query: per step, only questions in the part of the chat that changed or came into view
    may be asked, a width or two each (14 to 55 here), far fewer than the chat holds."""
    asked: list[int] = []

    class Counting(dict[int, int]):
        def get(self, width: int, default: int | None = None) -> int | None:  # type: ignore[override]
            asked.append(width)
            return super().get(width, default)

    # (Counted through each question's own store of heights: replacing a Qt virtual such
    # as heightForWidth on the class left PySide calling a stale override later.)
    build = WrappedText.__init__

    def counting(self: WrappedText, *args: object, **kwargs: object) -> None:
        build(self, *args, **kwargs)  # type: ignore[arg-type]
        self._heights = Counting()

    monkeypatch.setattr(WrappedText, "__init__", counting)
    open_long_chat(qtbot, window, store, answer=RICH_ANSWER, build_all=False)
    chat = window.chat
    bar = chat.verticalScrollBar()
    per_step: list[int] = []
    while bar.value() > 0 or chat.built_count() < 2 * PAIRS:
        asked.clear()
        bar.setValue(bar.value() - bar.pageStep())
        settle(qtbot)
        per_step.append(len(asked))
        assert len(per_step) < 400, "the top of the chat was never reached"
    assert max(per_step) <= 2 * PAIRS, per_step


def test_a_question_edited_while_scrolled_up_leaves_nothing_pulling_the_view_back(
    qtbot: QtBot, window: MainWindow, store: ChatStore, replay: ReplayFactory
) -> None:
    """The user scrolled up (the message they read holds the view in place), then edited
    a question above it and sent it again: that message is gone, and earlier messages
    still being built above (a job queued while scrolled up) must neither reach for it nor
    pull the view away from the new reply."""
    open_long_chat(qtbot, window, store, build_all=False)
    chat = window.chat
    bar = chat.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)  # the user scrolls up and reads
    settle(qtbot)
    reading = message_at_top(window)
    above = max(
        w.row.position
        for w in chat._widgets
        if isinstance(w, UserMessage) and w.row.position < reading.row.position
    )
    window.controller.set_model(replay(answer="Done."))
    assert window.controller.edit_and_resend(above, "Question, asked again")
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=20_000)
    settle(qtbot)  # (the messages after the edited one are deleted)
    chat.load_earlier()  # as the job queued while scrolled up does
    settle(qtbot)
    assert bar.value() == bar.maximum()
