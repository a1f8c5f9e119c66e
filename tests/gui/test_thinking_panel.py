"""Reading a reply's thinking afterwards: it opens in place to its full length, the chat
does not jump, it folds from its end too, and every line shows in light and dark."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QTextCursor
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.theme import apply_theme
from app.gui.views.main_window import MainWindow
from app.gui.views.message_parts import ThinkingPanel
from app.gui.views.message_widgets import AssistantMessage
from tests.gui.conftest import ReplayFactory

pytestmark = pytest.mark.gui

WAIT = 30_000
STEPS = "\n\n".join(
    f"Step {i}: compare case {i} with the one before and check the remainder again."
    for i in range(40)
)


def replies(window: MainWindow) -> list[AssistantMessage]:
    return [w for w in window.chat._widgets if isinstance(w, AssistantMessage)]


def ask(qtbot: QtBot, window: MainWindow, text: str) -> AssistantMessage:
    count = len(replies(window))
    window.composer.set_text(text)
    window.composer.send_button.click()
    qtbot.waitUntil(lambda: len(replies(window)) > count, timeout=WAIT)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT)
    return replies(window)[-1]


def settle(qtbot: QtBot) -> None:
    """Let posted layout requests and the chat's own adjustments run."""
    for _ in range(5):
        qtbot.wait(20)


def header_y(window: MainWindow, panel: ThinkingPanel) -> int:
    return panel.toggle.mapTo(window.chat.viewport(), QPoint(0, 0)).y()


@pytest.fixture
def themed(qapp: QApplication) -> Iterator[QApplication]:
    """The QApplication is shared by every test: put its look back afterwards."""
    font = qapp.font()
    yield qapp
    apply_theme(qapp, "system", font.pointSize())
    qapp.setFont(font)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_opened_thought_shows_every_line_in_place_without_a_box_of_its_own(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, themed: QApplication, theme: str
) -> None:
    apply_theme(themed, theme, 11)
    window.restyle()
    window.controller.set_model(replay(reasoning=STEPS, words_per_chunk=20))
    reply = ask(qtbot, window, "Which case is left?")
    panel = reply.thinking
    assert not panel.is_open()
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)

    body = panel.body
    assert body.toPlainText().strip() == STEPS
    # Nothing scrolls inside it: the chat scrolls, the thought is as tall as its text.
    assert body.verticalScrollBar().maximum() == 0
    assert not body.verticalScrollBar().isVisible()
    doc = body.document()
    first, last = QTextCursor(doc), QTextCursor(doc)
    last.movePosition(QTextCursor.MoveOperation.End)
    assert body.cursorRect(first).top() >= 0  # from its first line
    assert body.cursorRect(last).bottom() <= body.viewport().height()  # to its last, whole

    # The last line is not cut: the panel's bottom edge is below it, in the window.
    last_line = body.cursorRect(last)
    bottom = body.viewport().mapTo(panel, QPoint(0, last_line.bottom())).y()
    assert bottom < panel.foot.geometry().top() <= panel.height()

    # No dark band (a black scroll-bar track) across a light panel.
    if theme == "light":
        image = panel.grab().toImage()
        dark_rows = sum(
            1
            for y in range(image.height())
            if sum(QColor(image.pixel(x, y)).lightness() < 40 for x in range(image.width()))
            > image.width() // 3
        )
        assert dark_rows == 0


def test_opening_and_folding_a_thought_keeps_its_header_where_it_was(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.resize(900, 600)
    model = replay(
        reasoning=STEPS, answer="\n\n".join(f"Line {i} of the answer." for i in range(12))
    )
    window.controller.set_model(model)
    ask(qtbot, window, "First question")
    reply = ask(qtbot, window, "Second question")
    settle(qtbot)
    chat, panel = window.chat, reply.thinking
    bar = chat.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # at the end, following it
    before = header_y(window, panel)
    assert 0 <= before < chat.viewport().height()

    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert panel.is_open() and panel.body.isVisible()
    assert header_y(window, panel) == before  # the chat did not jump

    # Read down to the end of the thought, then fold it from there.
    collapse = panel.foot.collapse_button
    chat.ensureWidgetVisible(collapse)
    settle(qtbot)
    assert header_y(window, panel) < 0  # the header has scrolled out of view
    qtbot.mouseClick(collapse, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert not panel.is_open()
    assert 0 <= header_y(window, panel) < chat.viewport().height()  # back in view

    # Folded from its header, the header stays put too.
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)
    at = header_y(window, panel)
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert header_y(window, panel) == at


def test_an_opened_thought_says_how_long_it_is(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay(reasoning=STEPS, words_per_chunk=20))
    panel = ask(qtbot, window, "hi").thinking
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    assert panel.foot.outline.text() == f"{len(STEPS.split()):,} words · 40 steps"


def tokens_in(title: str) -> int | None:
    found = re.search(r"([\d,]+) tokens?", title)
    return int(found.group(1).replace(",", "")) if found else None


def test_the_thought_header_counts_the_same_while_the_answer_streams_and_after(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    """The live count is sampled twice a second; the one taken last while thinking must not
    be shown as the thought's size while the answer streams (243, then 249 at the end)."""
    reasoning = " ".join(f"w{i}" for i in range(330))
    answer = " ".join(f"a{i}" for i in range(150))
    window.controller.set_model(replay(reasoning=reasoning, answer=answer, tokens_per_s=300))
    window.composer.set_text("count")
    window.composer.send_button.click()
    qtbot.waitUntil(lambda: bool(replies(window)), timeout=WAIT)
    reply = replies(window)[-1]
    titles: list[str] = []
    deadline = time.monotonic() + WAIT / 1000
    while window.controller.busy and time.monotonic() < deadline:
        qtbot.wait(10)
        if reply.answer_view.isVisible() and reply.live:
            titles.append(reply.thinking.toggle.text())
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT)
    assert titles, "the answer's streaming was never seen (150 words at 300/s: 0.5 s)"
    saved = store.messages(window.controller.cid)[-1]
    assert saved.stats is not None
    final = reply.thinking.toggle.text()
    assert tokens_in(final) == saved.stats["reasoning_tokens"]
    shown_live = {tokens_in(t) for t in titles} - {None}
    assert shown_live <= {tokens_in(final)}
    assert all(t.startswith("Thought for") for t in titles)


def test_copied_shows_on_the_link_that_was_clicked(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay(answer="Use this:\n\n```python\nprint(42)\n```\n"))
    reply = ask(qtbot, window, "code please")
    qtbot.mouseClick(reply.copy_button, Qt.MouseButton.LeftButton)
    assert reply.copy_button.text() == "Copied ✓"
    assert reply.copy_reasoning_button.text() == "Copy reasoning"
    qtbot.waitUntil(lambda: reply.copy_button.text() == "Copy", timeout=5_000)

    # A code block's own Copy link: the note appears beside that link.
    view = reply.answer_view
    found = view.document().find("Copy")
    assert not found.isNull()
    middle = QTextCursor(view.document())
    middle.setPosition(found.selectionStart() + 2)
    link = view.cursorRect(middle)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=link.center())
    assert QGuiApplication.clipboard().text() == "print(42)"
    notes = [w for w in view.viewport().findChildren(QWidget, "copiedNote") if w.isVisible()]
    assert len(notes) == 1
    note = notes[0].geometry()
    assert abs(note.center().y() - link.center().y()) <= link.height()
    gap = max(note.left() - link.center().x(), link.center().x() - note.right())
    assert 0 < gap <= 60  # beside the link, not on it


def test_ctrl_f_in_an_opened_thought_finds_in_it_and_brings_each_match_into_view(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.resize(900, 600)
    window.controller.set_model(replay(reasoning=STEPS, words_per_chunk=20))
    panel = ask(qtbot, window, "Which case is left?").thinking
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)
    body = panel.body
    qtbot.mouseClick(body.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    qtbot.keyClick(body, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    find = panel.foot.find_field
    assert find.isVisible() and find.hasFocus()

    qtbot.keyClicks(find, "case 3")  # case 3 and case 30-39
    assert panel.foot.found.text() == "11 found"
    assert len(body.extraSelections()) == 11  # every match highlighted

    for _ in range(3):
        qtbot.keyClick(find, Qt.Key.Key_Return)
    settle(qtbot)
    assert body.textCursor().selectedText() == "case 3"
    assert panel.foot.found.text() == "3 of 11"
    match = body.cursorRect(body.textCursor())
    y = body.viewport().mapTo(window.chat.viewport(), match.center()).y()
    assert 0 <= y < window.chat.viewport().height()  # the chat scrolled to it

    qtbot.keyClick(find, Qt.Key.Key_Escape)
    assert not find.isVisible()
    assert body.extraSelections() == []


def test_finding_in_a_thought_follows_its_text_when_another_version_replaces_it(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    """The find field stays open when the thought's text is replaced (another version of
    the reply is shown): its count and highlights are those of the text now shown."""
    window.controller.set_model(replay(reasoning=STEPS, words_per_chunk=20))
    panel = ask(qtbot, window, "Which case is left?").thinking
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    settle(qtbot)
    panel.open_find()
    qtbot.keyClicks(panel.foot.find_field, "case 3")
    assert panel.foot.found.text() == "11 found"

    panel.set_text("Only case 3 is left, and case 3 alone.")
    assert panel.foot.found.text() == "2 found"
    assert len(panel.body.extraSelections()) == 2
