"""One message in the chat: the user's question, or the assistant's thinking and answer.

A live reply is fed with ``add_reasoning`` / ``add_answer`` (buffering only) and painted by
``flush``, which the chat view calls on its ~30 Hz clock. Nothing here does work per token
that grows with the message: reasoning is appended at the end of a plain-text document, the
answer view renders only newly completed Markdown blocks.

A "Think N ways" reply adds a ``GroupPanel`` above: N live lanes while the samples think,
then the vote, the chart and the samples; the thinking panel and the answer below it are
the chosen sample's.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import stats_text
from app.core.events import GenerationStats, LiveStats
from app.core.group_reply import GroupReply
from app.core.store import MessageRow
from app.gui.render.math import MathRenderer
from app.gui.views.group_panel import GroupPanel
from app.gui.views.markdown_view import MarkdownView
from app.gui.views.message_parts import ThinkingPanel, confirm_copied, tool_button
from app.gui.views.question import UserMessage
from app.gui.views.version_switch import VersionSwitch

__all__ = ["AssistantMessage", "ThinkingPanel", "UserMessage"]


class AssistantMessage(QFrame):
    """A reply: thinking panel, rendered answer, and a footer with stats and actions.

    Signals:
        regenerate(), answer_now(): the user asked for them.
        copied(str): text put on the clipboard.
        use_sample_requested(int): "Use this answer" on a sample of a group reply.
        version_requested(int): show this version of a regenerated reply ("< 2/3 >").
        vote_requested(int, object): thumbs up (True), down (False) or none (None) for a
            sample of a group reply.
    """

    regenerate = Signal()
    answer_now = Signal()
    copied = Signal(str)
    use_sample_requested = Signal(int)
    vote_requested = Signal(int, object)
    version_requested = Signal(int)

    def __init__(
        self,
        row: MessageRow,
        math: MathRenderer | None,
        *,
        thinking_open: bool = True,
        live: bool = False,
        samples: int = 1,
        later: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        """``samples``: how many ways a live reply thinks (a stored one's row says).
        ``later``: a stored answer is rendered when ``show_answer`` is called (the chat
        builds the messages above the screen in small steps)."""
        super().__init__(parent)
        self.row = row
        self._answer_later = later and not live
        self.setObjectName("assistantMessage")
        self.setAccessibleName("Assistant reply")
        self.thinking_open = thinking_open
        self.thinking = ThinkingPanel()
        self.answer_view = MarkdownView(math=math)
        self.answer_view.setAccessibleName("Answer")
        # The note, the version switch and Regenerate are built the first time a reply
        # needs them: most stored replies never do, and a long chat builds its replies as
        # the user scrolls (fewer widgets, less to build, style and lay out).
        self._note: QLabel | None = None
        self._versions: VersionSwitch | None = None
        self._regenerate: QToolButton | None = None
        self.stats_label = QLabel()
        self.stats_label.setObjectName("messageStats")
        self.stats_label.setMinimumWidth(40)  # long model names are cut, not the buttons
        small = self.stats_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self._small = small
        self.stats_label.setFont(small)
        self.stats_label.setAccessibleName("Reply statistics")
        self.copy_button = tool_button("Copy", "Copy answer", "Copy the answer as Markdown")
        self.copy_reasoning_button = tool_button(
            "Copy reasoning", "Copy reasoning", "Copy the model's chain of thought"
        )
        footer = self._footer_row = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.stats_label, 1)
        for b in (self.copy_button, self.copy_reasoning_button):
            b.setFont(small)
            footer.addWidget(b)
        self.footer = QWidget()
        self.footer.setLayout(footer)

        # A reply reopened mid-stream started when its row was saved, not now.
        age = time.time() - row.created_at if live and row.created_at > 0 else 0.0
        self._started = time.monotonic() - min(max(age, 0.0), 86400.0)
        group = GroupReply.from_stats(row.stats)
        self._math = math
        self.group_panel: GroupPanel | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        if samples > 1 or group is not None:
            self._add_group_panel(group.asked if group is not None else samples)
        layout.addWidget(self.thinking)
        layout.addWidget(self.answer_view)
        layout.addWidget(self.footer)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.thinking.answer_now.connect(self.answer_now)
        self.copy_button.clicked.connect(self._copy_answer)
        self.copy_reasoning_button.clicked.connect(self._copy_reasoning)
        self.answer_view.copy_requested.connect(self.copied)

        self._live = live
        self._reasoning_pending: list[str] = []
        self._answer_started = False
        self._answer_pending = False
        self._thinking_s: float | None = None
        self._thought_from: float | None = None  # when the first reasoning arrived
        self._tokens = 0
        if live:
            self._start_live()
        else:
            self._show_stored()

    def _add_group_panel(self, asked: int) -> GroupPanel:
        panel = GroupPanel(asked, self._started, self._math)
        panel.use_requested.connect(self.use_sample_requested)
        panel.vote_requested.connect(self.vote_requested)
        panel.answer_now.connect(self.answer_now)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(0, panel)
        self.group_panel = panel
        return panel

    # -- stored messages ----------------------------------------------------------------

    def _show_stored(self) -> None:
        row = self.row
        group = GroupReply.from_stats(row.stats)
        # Another version of a regenerated reply may be a group where this one was not,
        # or the other way round.
        if group is not None:
            (self.group_panel or self._add_group_panel(group.asked)).show_group(group)
        if self.group_panel is not None:  # a version that is no group has no samples
            self.group_panel.setVisible(group is not None)
        self.thinking.setVisible(bool(row.reasoning))
        if row.reasoning != self.thinking.text():  # a version without one keeps none
            self.thinking.set_text(row.reasoning)
        if row.reasoning:
            # A group's chosen sample has figures of its own (the row's are the group's).
            own = group.reply.stats if group is not None else row.reply_stats.figures
            own = own or GenerationStats()
            self.thinking.set_title(
                stats_text.thinking_done(own.reasoning_s, own.reasoning_tokens, own.decode_tok_s)
            )
            self.thinking.set_live(False, False)
        if self._answer_later:
            self.answer_view.hide()
        else:
            self.answer_view.setVisible(bool(row.content))
            if row.content:
                self.answer_view.set_markdown(row.content)
        self._show_footer(row)

    def show_answer(self) -> None:
        """Render a stored answer built ``later``."""
        if self._answer_later:
            self._answer_later = False
            self.answer_view.setVisible(bool(self.row.content))
            if self.row.content:
                self.answer_view.set_markdown(self.row.content)

    # -- live ---------------------------------------------------------------------------

    def _start_live(self) -> None:
        self.thinking.hide()
        self.answer_view.hide()
        self.footer.hide()
        self.thinking.set_live(True, self.thinking_open)
        self.thinking.set_title(stats_text.thinking_live(0.0, 0))
        if self.group_panel is not None:
            group = GroupReply.from_stats(self.row.stats)
            if group is not None:  # reopened mid-stream: what each sample wrote so far
                self.group_panel.seed(group)
            return
        if self.row.reasoning:  # reopened mid-stream: what came so far
            self._reasoning_pending.append(self.row.reasoning)
            self._thought_from = self._started
        if self.row.content:
            self.add_answer(self.row.content)

    def add_reasoning(self, text: str) -> None:
        if self._thought_from is None:
            self._thought_from = time.monotonic()
        self._reasoning_pending.append(text)

    def add_answer(self, text: str) -> None:
        if not self._answer_started:
            self._answer_started = True
            # Thinking time from its first token, as the final figures count it (the wait
            # for the prompt is not thinking).
            if self._thought_from is not None:
                self._thinking_s = time.monotonic() - self._thought_from
        self.answer_view.append(text)
        self._answer_pending = True

    def set_live_stats(self, stats: LiveStats) -> None:
        if stats.reasoning:
            self._tokens = stats.generated_tokens

    # A group reply's samples (the panel buffers them; it paints on ``flush``).

    def add_sample_reasoning(self, sample: int, text: str) -> None:
        if self.group_panel is not None:
            self.group_panel.add_reasoning(sample, text)

    def add_sample_answer(self, sample: int, text: str) -> None:
        if self.group_panel is not None:
            self.group_panel.add_answer(sample, text)

    def set_sample_progress(self, stats: LiveStats) -> None:
        if self.group_panel is not None:
            self.group_panel.set_progress(stats)

    def finish_sample(self, sample: int, stats: GenerationStats) -> None:
        if self.group_panel is not None:
            self.group_panel.finish_sample(sample, stats)

    def flush(self) -> None:
        """Paint what arrived since the last flush (called ~30 times a second)."""
        if not self._live:
            return
        if self.group_panel is not None:
            self.group_panel.flush()
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
                # No count until the final figures: the live count is sampled a few times
                # a second, so the last one taken while thinking can be short of the total
                # by the tokens since (243 shown, 249 in the end).
                self.thinking.set_title(stats_text.thinking_done(self._thinking_s, 0, None))
            else:
                elapsed = time.monotonic() - self._started
                self.thinking.set_title(stats_text.thinking_live(elapsed, self._tokens))

    def finish(self, row: MessageRow) -> None:
        """The reply ended (complete, stopped or failed): show it as stored."""
        self.flush()
        self._live = False
        self.row = row
        if self.group_panel is not None:  # the chosen sample's thinking and answer
            self._show_stored()
            return
        figures = row.reply_stats.figures
        if self.thinking.has_text():
            self.thinking.set_title(
                stats_text.thinking_done(self._thinking_s, self._tokens, None)
                if figures is None  # failed: what the live reply counted
                else stats_text.thinking_done(
                    figures.reasoning_s, figures.reasoning_tokens, figures.decode_tok_s
                )
            )
            self.thinking.set_live(False, self.thinking.is_open() and not row.content)
        self.answer_view.finish()
        self.answer_view.setVisible(bool(row.content))
        self._show_footer(row)

    def update_row(self, row: MessageRow) -> None:
        """The saved reply changed (another sample or version chosen, a vote): show it as
        it is now."""
        self.row = row
        self._answer_later = False
        self._show_stored()

    @property
    def live(self) -> bool:
        return self._live

    def reasoning_text(self) -> str:
        return self.thinking.text()

    # -- footer -------------------------------------------------------------------------

    @property
    def note(self) -> QLabel:
        """Why a reply ended as it did (stopped, failed, cut short), above its footer."""
        if self._note is None:
            note = self._note = QLabel()
            note.setObjectName("messageNote")
            note.setWordWrap(True)
            note.setAccessibleName("Message status")
            note.hide()
            layout = self.layout()
            assert isinstance(layout, QVBoxLayout)
            layout.insertWidget(layout.indexOf(self.footer), note)
        return self._note

    @property
    def versions(self) -> VersionSwitch:
        """ "< 2/3 >": the versions of a regenerated reply, first in the footer."""
        if self._versions is None:
            versions = self._versions = VersionSwitch()
            versions.setFont(self._small)
            versions.version_requested.connect(self.version_requested)
            self._footer_row.insertWidget(0, versions)
        return self._versions

    @property
    def regenerate_button(self) -> QToolButton:
        """Regenerate, last in the footer (only the last reply shows it)."""
        if self._regenerate is None:
            button = self._regenerate = tool_button(
                "Regenerate", "Regenerate reply", "Answer this again"
            )
            button.setFont(self._small)
            button.hide()
            button.clicked.connect(self.regenerate)
            self._footer_row.addWidget(button)
        return self._regenerate

    def _show_footer(self, row: MessageRow) -> None:
        self.footer.show()
        if row.version_count > 1 or self._versions is not None:
            self.versions.show_row(row)
        state, reply = row.state, row.reply_stats
        self.stats_label.setText(
            stats_text.footer(reply.figures, row.model) if state != "error" else row.model
        )
        note = stats_text.state_note(state, reply)
        if note or self._note is not None:
            self.note.setText(note)
            self.note.setVisible(bool(note))
            self.note.setProperty("error", state == "error")
        self.copy_button.setEnabled(bool(self.row.content))
        self.copy_reasoning_button.setVisible(self.thinking.has_text())

    def set_can_regenerate(self, can: bool) -> None:
        if can or self._regenerate is not None:
            self.regenerate_button.setVisible(can)

    def _copy_answer(self) -> None:
        self.show_answer()
        text = self.answer_view.markdown()
        QGuiApplication.clipboard().setText(text)
        confirm_copied(self.copy_button)
        self.copied.emit(text)

    def _copy_reasoning(self) -> None:
        text = self.reasoning_text()
        QGuiApplication.clipboard().setText(text)
        confirm_copied(self.copy_reasoning_button)
        self.copied.emit(text)
