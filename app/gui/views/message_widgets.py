"""One message in the chat: the user's question, or the assistant's thinking and answer.

A live reply is fed with ``add_reasoning`` / ``add_answer`` (buffering only) and painted by
``flush``, which the chat view calls on its ~30 Hz clock. Nothing here does work per token
that grows with the message: reasoning is appended at the end of a plain-text document, the
answer view renders only newly completed Markdown blocks.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import stats_text
from app.core.events import LiveStats
from app.core.store import MessageRow
from app.gui.render.math import MathRenderer
from app.gui.views.markdown_view import MarkdownView

PEEK_LINES = 6  # live reasoning shows its last few lines
OPEN_MAX_LINES = 24  # an opened finished reasoning panel scrolls beyond this


def _tool(text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class UserMessage(QFrame):
    """The user's question, with copy and edit-and-resend."""

    edit_submitted = Signal(int, str)  # position, new text
    copied = Signal(str)

    def __init__(self, row: MessageRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self.setObjectName("userMessage")
        self.setAccessibleName("Your message")
        self.text = QLabel(row.content)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setObjectName("userText")
        self.text.setAccessibleName("Your message text")
        self._editor: QPlainTextEdit | None = None  # built when the user first edits
        self.copy_button = _tool("Copy", "Copy message", "Copy this message")
        self.edit_button = _tool("Edit", "Edit message", "Edit and send again")
        self.resend_button = QPushButton("Send")
        self.resend_button.setAccessibleName("Send edited message")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel editing")
        self.resend_button.hide()
        self.cancel_button.hide()

        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addStretch(1)
        for w in (self.copy_button, self.edit_button, self.cancel_button, self.resend_button):
            actions.addWidget(w)
        small = self.copy_button.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        for b in (self.copy_button, self.edit_button):
            b.setFont(small)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(14, 10, 10, 2)
        self._layout.setSpacing(2)
        self._layout.addWidget(self.text)
        self._layout.addLayout(actions)

        self.copy_button.clicked.connect(self._copy)
        self.edit_button.clicked.connect(self.start_edit)
        self.cancel_button.clicked.connect(self._end_edit)
        self.resend_button.clicked.connect(self._resend)

    @property
    def editor(self) -> QPlainTextEdit:
        if self._editor is None:
            self._editor = QPlainTextEdit(self.row.content)
            self._editor.setAccessibleName("Edit your message")
            self._editor.setTabChangesFocus(True)
            self._editor.hide()
            self._layout.insertWidget(1, self._editor)
        return self._editor

    def set_editable(self, editable: bool) -> None:
        self.edit_button.setEnabled(editable)

    def start_edit(self) -> None:
        self.editor.setPlainText(self.row.content)
        self._set_editing(True)
        self.editor.setFocus()

    def _set_editing(self, editing: bool) -> None:
        self.text.setVisible(not editing)
        self.editor.setVisible(editing)
        self.copy_button.setVisible(not editing)
        self.edit_button.setVisible(not editing)
        self.resend_button.setVisible(editing)
        self.cancel_button.setVisible(editing)

    def _end_edit(self) -> None:
        self._set_editing(False)

    def _resend(self) -> None:
        text = self.editor.toPlainText().strip()
        if text:
            self._set_editing(False)
            self.edit_submitted.emit(self.row.position, text)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.row.content)
        self.copied.emit(self.row.content)


class ThinkingPanel(QFrame):
    """The chain of thought: a live peek while the model reasons, then folded away."""

    answer_now = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingPanel")
        self.toggle = QToolButton()
        self.toggle.setObjectName("thinkingToggle")
        self.toggle.setAccessibleName("Show or hide the reasoning")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.answer_now_button = QPushButton("Answer now")
        self.answer_now_button.setAccessibleName("Answer now")
        self.answer_now_button.setToolTip("Stop thinking and write the answer from here")
        self.answer_now_button.hide()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.toggle)
        head.addStretch(1)
        head.addWidget(self.answer_now_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.setSpacing(2)
        self._layout.addLayout(head)
        self.toggle.toggled.connect(self._on_toggled)
        self.answer_now_button.clicked.connect(self.answer_now)
        self._live = False
        # The text view is built the first time the panel opens: most stored replies are
        # never unfolded, and a chat opens faster without them.
        self._body: QPlainTextEdit | None = None
        self._chunks: list[str] = []

    @property
    def body(self) -> QPlainTextEdit:
        if self._body is None:
            body = QPlainTextEdit()
            body.setObjectName("thinkingBody")
            body.setAccessibleName("Reasoning")
            body.setReadOnly(True)
            body.setFrameShape(QFrame.Shape.NoFrame)
            body.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
                | Qt.TextInteractionFlag.TextSelectableByKeyboard
            )
            body.document().setUndoRedoEnabled(False)
            body.setPlainText("".join(self._chunks))
            self._layout.addWidget(body)  # parent first: a parentless show() opens a window
            body.setVisible(self.is_open())
            self._body = body
            self._apply_live()
        return self._body

    def set_text(self, text: str) -> None:
        self._chunks = [text]
        if self._body is not None:
            self._body.setPlainText(text)

    def append(self, text: str) -> None:
        self._chunks.append(text)
        if self._body is None:
            return
        cursor = QTextCursor(self._body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if self._live:
            bar = self._body.verticalScrollBar()
            bar.setValue(bar.maximum())

    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def set_live(self, live: bool, open_: bool) -> None:
        self._live = live
        self.answer_now_button.setVisible(live)
        self.toggle.setChecked(open_)
        self._apply_live()

    def _apply_live(self) -> None:
        if self._body is None:
            return
        self._body.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff
            if self._live
            else Qt.ScrollBarPolicy.ScrollBarAsNeeded
        )
        self._fit_height()

    def set_title(self, text: str) -> None:
        self.toggle.setText(text)

    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def _on_toggled(self, checked: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        if checked:
            self.body.show()  # built on first use
        elif self._body is not None:
            self._body.hide()
        self._apply_live()

    def _fit_height(self) -> None:
        body = self._body
        if body is None or not self.is_open():
            return  # folded: nothing to size (and no layout of a long text)
        line = body.fontMetrics().lineSpacing()
        margins = 2 * int(body.document().documentMargin()) + 4
        if self._live:
            lines = PEEK_LINES
        elif len(self.text()) > OPEN_MAX_LINES * 400:
            lines = OPEN_MAX_LINES  # surely longer than the panel: skip laying it all out
        else:
            # QPlainTextEdit's layout counts wrapped lines as its document height.
            body.document().adjustSize()
            lines = int(body.document().documentLayout().documentSize().height())
            lines = max(1, min(lines, OPEN_MAX_LINES))
        body.setFixedHeight(lines * line + margins)


class AssistantMessage(QFrame):
    """A reply: thinking panel, rendered answer, and a footer with stats and actions."""

    regenerate = Signal()
    answer_now = Signal()
    copied = Signal(str)

    def __init__(
        self,
        row: MessageRow,
        math: MathRenderer | None,
        *,
        thinking_open: bool = True,
        live: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.row = row
        self.setObjectName("assistantMessage")
        self.setAccessibleName("Assistant reply")
        self.thinking_open = thinking_open
        self.thinking = ThinkingPanel()
        self.answer_view = MarkdownView(math=math)
        self.answer_view.setAccessibleName("Answer")
        self.note = QLabel()
        self.note.setObjectName("messageNote")
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Message status")
        self.note.hide()
        self.stats_label = QLabel()
        self.stats_label.setObjectName("messageStats")
        self.stats_label.setMinimumWidth(40)  # long model names are cut, not the buttons
        small = self.stats_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.stats_label.setFont(small)
        self.stats_label.setAccessibleName("Reply statistics")
        self.copy_button = _tool("Copy", "Copy answer", "Copy the answer as Markdown")
        self.copy_reasoning_button = _tool(
            "Copy reasoning", "Copy reasoning", "Copy the model's chain of thought"
        )
        self.regenerate_button = _tool("Regenerate", "Regenerate reply", "Answer this again")
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.stats_label, 1)
        for b in (self.copy_button, self.copy_reasoning_button, self.regenerate_button):
            b.setFont(small)
            footer.addWidget(b)
        self.footer = QWidget()
        self.footer.setLayout(footer)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.thinking)
        layout.addWidget(self.answer_view)
        layout.addWidget(self.note)
        layout.addWidget(self.footer)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.thinking.answer_now.connect(self.answer_now)
        self.copy_button.clicked.connect(self._copy_answer)
        self.copy_reasoning_button.clicked.connect(self._copy_reasoning)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.answer_view.copy_requested.connect(self.copied)

        self._live = live
        self._reasoning_parts: list[str] = []
        self._reasoning_pending: list[str] = []
        self._answer_started = False
        self._answer_pending = False
        self._started = time.monotonic()
        self._thinking_s: float | None = None
        self._tokens = 0
        if live:
            self._start_live()
        else:
            self._show_stored()

    # -- stored messages ----------------------------------------------------------------

    def _show_stored(self) -> None:
        row = self.row
        self._reasoning_parts = [row.reasoning] if row.reasoning else []
        self.thinking.setVisible(bool(row.reasoning))
        if row.reasoning:
            self.thinking.set_text(row.reasoning)
            stats = row.stats or {}
            self.thinking.set_title(
                stats_text.thinking_done(
                    stats.get("reasoning_s"),
                    int(stats.get("reasoning_tokens", 0)),
                    stats.get("decode_tok_s"),
                )
            )
            self.thinking.set_live(False, False)
        self.answer_view.setVisible(bool(row.content))
        if row.content:
            self.answer_view.set_markdown(row.content)
        self._show_footer(row.stats, row.state)

    # -- live ---------------------------------------------------------------------------

    def _start_live(self) -> None:
        self.thinking.hide()
        self.answer_view.hide()
        self.footer.hide()
        self.thinking.set_live(True, self.thinking_open)
        self.thinking.set_title(stats_text.thinking_live(0.0, 0))
        if self.row.reasoning:  # reopened mid-stream: what came so far
            self._reasoning_pending.append(self.row.reasoning)
        if self.row.content:
            self.add_answer(self.row.content)

    def add_reasoning(self, text: str) -> None:
        self._reasoning_pending.append(text)

    def add_answer(self, text: str) -> None:
        if not self._answer_started:
            self._answer_started = True
            self._thinking_s = time.monotonic() - self._started
        self.answer_view.append(text)
        self._answer_pending = True

    def set_live_stats(self, stats: LiveStats) -> None:
        if stats.reasoning:
            self._tokens = stats.generated_tokens

    def flush(self) -> None:
        """Paint what arrived since the last flush (called ~30 times a second)."""
        if not self._live:
            return
        if self._reasoning_pending:
            text = "".join(self._reasoning_pending)
            self._reasoning_pending.clear()
            self._reasoning_parts.append(text)
            if not self.thinking.isVisible():
                self.thinking.show()
            self.thinking.append(text)
        if self._answer_pending:
            self._answer_pending = False
            if not self.answer_view.isVisible():
                self.answer_view.show()
                if self.thinking.is_open() and self._reasoning_parts:
                    self.thinking.set_live(False, False)  # fold away when the answer starts
                self.thinking.answer_now_button.hide()
            self.answer_view.flush()
        if self._reasoning_parts:
            if self._answer_started:
                self.thinking.set_title(
                    stats_text.thinking_done(self._thinking_s, self._tokens, None)
                )
            else:
                elapsed = time.monotonic() - self._started
                self.thinking.set_title(stats_text.thinking_live(elapsed, self._tokens))

    def finish(self, row: MessageRow) -> None:
        """The reply ended (complete, stopped or failed): show it as stored."""
        self.flush()
        self._live = False
        self.row = row
        stats = row.stats or {}
        if self._reasoning_parts:
            self.thinking.set_title(
                stats_text.thinking_done(
                    stats.get("reasoning_s", self._thinking_s),
                    int(stats.get("reasoning_tokens", self._tokens)),
                    stats.get("decode_tok_s"),
                )
            )
            self.thinking.set_live(False, self.thinking.is_open() and not row.content)
        self.answer_view.finish()
        self.answer_view.setVisible(bool(row.content))
        self._show_footer(row.stats, row.state)

    @property
    def live(self) -> bool:
        return self._live

    def reasoning_text(self) -> str:
        return "".join(self._reasoning_parts)

    # -- footer -------------------------------------------------------------------------

    def _show_footer(self, stats: dict[str, Any] | None, state: str) -> None:
        self.footer.show()
        self.stats_label.setText(
            stats_text.footer(stats, self.row.model) if state != "error" else self.row.model
        )
        note = stats_text.state_note(state, stats)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.note.setProperty("error", state == "error")
        self.copy_button.setEnabled(bool(self.row.content))
        self.copy_reasoning_button.setVisible(bool(self._reasoning_parts))

    def set_can_regenerate(self, can: bool) -> None:
        self.regenerate_button.setVisible(can)

    def _copy_answer(self) -> None:
        text = self.answer_view.markdown()
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)

    def _copy_reasoning(self) -> None:
        text = self.reasoning_text()
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)
