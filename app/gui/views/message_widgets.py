"""One message in the chat: the user's question, or the assistant's thinking and answer.

A live reply is fed with ``add_reasoning`` / ``add_answer`` (buffering only) and painted by
``flush``, which the chat view calls on its ~30 Hz clock. Nothing here does work per token
that grows with the message: reasoning is appended at the end of a plain-text document, the
answer view renders only newly completed Markdown blocks.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.core import stats_text
from app.core.events import LiveStats
from app.core.store import MessageRow
from app.gui.render.math import MathRenderer
from app.gui.views.markdown_view import MarkdownView
from app.gui.views.message_parts import ThinkingPanel, UserMessage, tool_button

__all__ = ["AssistantMessage", "ThinkingPanel", "UserMessage"]


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
        self.copy_button = tool_button("Copy", "Copy answer", "Copy the answer as Markdown")
        self.copy_reasoning_button = tool_button(
            "Copy reasoning", "Copy reasoning", "Copy the model's chain of thought"
        )
        self.regenerate_button = tool_button("Regenerate", "Regenerate reply", "Answer this again")
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
        self._reasoning_pending: list[str] = []
        self._answer_started = False
        self._answer_pending = False
        # A reply reopened mid-stream started when its row was saved, not now.
        age = time.time() - row.created_at if live and row.created_at > 0 else 0.0
        self._started = time.monotonic() - min(max(age, 0.0), 86400.0)
        self._thinking_s: float | None = None
        self._tokens = 0
        if live:
            self._start_live()
        else:
            self._show_stored()

    # -- stored messages ----------------------------------------------------------------

    def _show_stored(self) -> None:
        row = self.row
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
            if not self.thinking.isVisible():
                self.thinking.show()
            self.thinking.append(text)
        if self._answer_pending:
            self._answer_pending = False
            if not self.answer_view.isVisible():
                self.answer_view.show()
                if self.thinking.is_open() and self.thinking.has_text():
                    self.thinking.set_live(False, False)  # fold away when the answer starts
                self.thinking.answer_now_button.hide()
            self.answer_view.flush()
        if self.thinking.has_text():
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
        if self.thinking.has_text():
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
        return self.thinking.text()

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
        self.copy_reasoning_button.setVisible(self.thinking.has_text())

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
