"""The scrolling list of messages of the open conversation.

Opening a long chat builds widgets only for its last ``OPEN_BATCH`` messages; earlier ones
are built as the user scrolls up, a message per job of ``pacing.TurnWork`` (a few
milliseconds of work per event-loop turn), so a 500-message chat opens as fast as a short
one and scrolling up through it never waits for a batch of messages built in one frame.
Messages sit in chunks (``message_stack.MessageChunk``). While a reply streams, one timer at
``FLUSH_MS`` paints the live message (and only it), and the view follows the end unless
the user scrolled away from it.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.events import GenerationStats, LiveStats
from app.core.store import MessageRow
from app.gui.render.math import MathRenderer
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.message_stack import (
    MessageChunk,
    show_near,
    show_nearest_ahead,
)
from app.gui.views.message_widgets import AssistantMessage, UserMessage
from app.gui.views.pacing import TurnWork

OPEN_BATCH = 6  # messages built when a chat opens (more follow if the screen is not full)
FLUSH_MS = 33  # at most ~30 repaints a second while streaming
STICK_PX = 48  # "at the end" tolerance for following a streaming reply
COLUMN_MAX_WIDTH = 900
MESSAGE_SPACING = 14
LOAD_EARLIER_PX = 1200  # build earlier messages when the view gets this close to the top

MessageWidget = UserMessage | AssistantMessage


NO_MODEL = (
    "No model is chosen yet: open a GGUF file from the toolbar, or download one in Models (Ctrl+M)."
)


class ChatView(QScrollArea):
    """Messages of one conversation; follows the live reply.

    Signals:
        edit_requested(int, str): the user edited the question at a position.
        copied(str): something was put on the clipboard (for a status-bar note).
    """

    edit_requested = Signal(int, str)
    copied = Signal(str)

    def __init__(
        self,
        controller: ChatController,
        math: MathRenderer | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.math = math
        self.thinking_open = True
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        outer = QWidget()
        outer.setObjectName("chatCanvas")
        row = QHBoxLayout(outer)
        row.setContentsMargins(16, 12, 16, 12)
        self.column = QWidget()
        self.column.setMaximumWidth(COLUMN_MAX_WIDTH)
        self.column_layout = QVBoxLayout(self.column)
        self.column_layout.setContentsMargins(0, 0, 0, 0)
        self.column_layout.setSpacing(MESSAGE_SPACING)
        self.column_layout.addStretch(1)  # messages sit at the top; stays last
        row.addStretch(0)
        row.addWidget(self.column, 1)
        row.addStretch(0)
        self.setWidget(outer)
        self.canvas, self.canvas_layout = outer, row

        self.empty = QLabel()
        self.empty.setObjectName("emptyChat")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.column_layout.insertWidget(0, self.empty)

        self._cid = 0
        self._rows: list[MessageRow] = []
        self._first = 0  # index in _rows of the first message with a widget
        self._widgets: list[MessageWidget] = []
        self._chunks: list[MessageChunk] = []  # in order, after the (hidden) empty label
        self._live: AssistantMessage | None = None
        self._stick = True
        self._adjusting = False  # True while the view itself moves the scroll bar
        self._anchor: tuple[QWidget, int] | None = None
        self._flush = QTimer(self, interval=FLUSH_MS)
        self._flush.timeout.connect(self.flush)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

        c = controller
        c.conversation_opened.connect(self.show_conversation)
        c.message_added.connect(self._on_message_added)
        c.messages_removed.connect(self._on_messages_removed)
        c.reasoning.connect(self._on_reasoning)
        c.answer.connect(self._on_answer)
        c.live.connect(self._on_live)
        c.sample_reasoning.connect(self._on_sample_reasoning)
        c.sample_answer.connect(self._on_sample_answer)
        c.sample_progress.connect(self._on_sample_progress)
        c.sample_finished.connect(self._on_sample_finished)
        c.reply_finished.connect(self._on_reply_finished)
        c.reply_changed.connect(self._on_reply_changed)
        c.busy_changed.connect(self._on_busy_changed)
        self.set_empty_text(NO_MODEL)

    # -- opening ------------------------------------------------------------------------

    def set_empty_text(self, model_line: str) -> None:
        """What an empty chat says: how to ask, and which model answers (or that none is
        chosen yet, and where to choose one)."""
        hint = "Ask directly; the model thinks on its own."
        self.empty.setText(f"{hint}\n\n{model_line}" if model_line else hint)

    def show_conversation(self, cid: int, rows: list[MessageRow]) -> None:
        self._cid = cid
        for chunk in self._chunks:
            chunk.setParent(None)
            chunk.deleteLater()  # and its messages with it
        self._chunks.clear()
        self._widgets.clear()
        self._live = None
        self._flush.stop()
        self._rows = list(rows)
        self._first = len(rows)
        self._stick = True
        self._anchor = None
        self._build_before(OPEN_BATCH)
        self.empty.setVisible(not rows)
        QTimer.singleShot(0, self.scroll_to_end)
        TurnWork.of().add(self, self._fill)

    def _build_before(self, count: int, later: bool = False) -> None:
        """Build widgets for up to ``count`` rows before the first built one."""
        start = max(0, self._first - count)
        new: list[MessageWidget] = []
        for row in reversed(self._rows[start : self._first]):
            if not self._chunks or self._chunks[0].full():
                self._chunks.insert(0, MessageChunk(self.column, MESSAGE_SPACING))
                self.column_layout.insertWidget(1, self._chunks[0])  # after the empty label
            chunk = self._chunks[0]
            widget = self._make(row, chunk, later=later)
            chunk.box.insertWidget(0, widget)
            new.insert(0, widget)
        self._widgets[0:0] = new
        self._first = start
        self._update_actions(new)

    def _make(self, row: MessageRow, parent: QWidget, *, later: bool = False) -> MessageWidget:
        """``later``: a stored answer is rendered in a job of its own (``TurnWork``)."""
        if row.role == "user":
            user = UserMessage(row, parent)  # born in place: no reparenting later
            user.edit_submitted.connect(self.edit_requested)
            user.copied.connect(self.copied)
            return user
        live = row.state == "streaming" and self.controller.live_in_view
        reply = AssistantMessage(
            row,
            self.math,
            thinking_open=self.thinking_open,
            live=live,
            samples=self.controller.live_samples if live else 1,
            later=later,
            parent=parent,
        )
        if later:
            TurnWork.of().add(reply, reply.show_answer)
        reply.thinking.folding.connect(partial(self._hold_header, reply.thinking.toggle))
        reply.regenerate.connect(self.controller.regenerate)
        reply.answer_now.connect(self.controller.answer_now)
        reply.copied.connect(self.copied)
        reply.use_sample_requested.connect(partial(self.controller.use_sample, row.id))
        reply.vote_requested.connect(partial(self.controller.vote_sample, row.id))
        reply.version_requested.connect(partial(self.controller.show_version, row.id))
        if live:
            self._live = reply
            self._flush.start()
        return reply

    def load_earlier(self, count: int = 1, *, later: bool = False) -> bool:
        """Build the ``count`` messages before the first built one, keeping what is on
        screen where it is (``later``: their answers rendered in jobs of their own)."""
        if self._first == 0:
            return False
        if self._widgets and not self._stick and self._anchor is None:
            first = self._widgets[0]
            self._anchor = (first, self._canvas_y(first) - self.verticalScrollBar().value())
        self._build_before(count, later)
        QTimer.singleShot(0, self._keep_anchor)
        return True

    def _canvas_y(self, widget: QWidget) -> int:
        return widget.mapTo(self.canvas, QPoint(0, 0)).y()

    def _keep_anchor(self) -> None:
        """Put the anchored message back where the user saw it (content grew above it);
        not while the view follows the end."""
        if self._anchor is None or self._stick:
            return
        widget, offset = self._anchor
        self._adjusting = True
        self.verticalScrollBar().setValue(self._canvas_y(widget) - offset)
        self._adjusting = False

    def _fill(self) -> None:
        """Build the message before the first built one while what is built does not fill
        the screen or the view is near the top: one message per job of the app's
        ``TurnWork``, which runs a few milliseconds of jobs per event-loop turn (painting,
        input and formulas being put in place share the turns)."""
        if self._first == 0:
            return
        full = self._fills_screen()
        if full and self.verticalScrollBar().value() >= LOAD_EARLIER_PX:
            return
        self.load_earlier(later=full)  # ahead of the user: a reply in two jobs
        TurnWork.of().add(self, self._fill)

    def _fills_screen(self) -> bool:
        """Do the built messages fill the viewport? (Adds up only as many as it takes.)"""
        need, built = self.viewport().height(), 0
        for w in reversed(self._widgets):
            built += w.sizeHint().height()
            if built >= need:
                return True
        return False

    def built_count(self) -> int:
        return len(self._widgets)

    # -- streaming ----------------------------------------------------------------------

    def _on_message_added(self, row: MessageRow) -> None:
        if row.conversation_id != self._cid:
            return
        self._rows.append(row)
        self.empty.hide()
        if not self._chunks or self._chunks[-1].full():
            self._chunks.append(MessageChunk(self.column, MESSAGE_SPACING))
            self.column_layout.insertWidget(self.column_layout.count() - 1, self._chunks[-1])
        chunk = self._chunks[-1]
        widget = self._make(row, chunk)
        chunk.box.addWidget(widget)
        self._widgets.append(widget)
        self._stick = True  # a new message: the view follows the end again
        self._anchor = None
        self._update_actions()

    def _on_messages_removed(self, position: int) -> None:
        keep = [w for w in self._widgets if w.row.position <= position]
        for w in self._widgets:
            if w.row.position > position:
                if self._anchor is not None and (
                    w is self._anchor[0] or w.isAncestorOf(self._anchor[0])
                ):
                    self._anchor = None  # (what it held in place goes)
                w.setParent(None)
                w.deleteLater()
        self._widgets = keep
        for chunk in [c for c in self._chunks if c.box.count() == 0]:
            self._chunks.remove(chunk)
            chunk.setParent(None)
            chunk.deleteLater()
        self._rows = [r for r in self._rows if r.position <= position]
        self._first = min(self._first, len(self._rows))
        self._update_actions()

    def _on_reasoning(self, text: str) -> None:
        if self._live is not None:
            self._live.add_reasoning(text)

    def _on_answer(self, text: str) -> None:
        if self._live is not None:
            self._live.add_answer(text)

    def _on_live(self, stats: LiveStats) -> None:
        if self._live is not None:
            self._live.set_live_stats(stats)

    def _on_sample_reasoning(self, sample: int, text: str) -> None:
        if self._live is not None:
            self._live.add_sample_reasoning(sample, text)

    def _on_sample_answer(self, sample: int, text: str) -> None:
        if self._live is not None:
            self._live.add_sample_answer(sample, text)

    def _on_sample_progress(self, stats: LiveStats) -> None:
        if self._live is not None:
            self._live.set_sample_progress(stats)

    def _on_sample_finished(self, sample: int, stats: GenerationStats) -> None:
        if self._live is not None:
            self._live.finish_sample(sample, stats)

    def flush(self) -> None:
        if self._live is not None:
            self._live.flush()

    def _on_reply_finished(self, row: MessageRow) -> None:
        self._flush.stop()
        live, self._live = self._live, None
        if live is not None and live.row.id == row.id:
            live.finish(row)
        for i, r in enumerate(self._rows):
            if r.id == row.id:
                self._rows[i] = row
        self._update_actions()

    def _on_reply_changed(self, row: MessageRow) -> None:
        self._rows = [row if r.id == row.id else r for r in self._rows]
        for w in self._widgets:
            if isinstance(w, AssistantMessage) and w.row.id == row.id:
                w.update_row(row)

    def _on_busy_changed(self, busy: bool) -> None:
        self._update_actions()

    def _update_actions(self, widgets: list[MessageWidget] | None = None) -> None:
        """Regenerate only on the last reply, editing only when not generating (for
        ``widgets``, or all)."""
        busy = self.controller.busy
        last_reply = next(
            (w for w in reversed(self._widgets) if isinstance(w, AssistantMessage)), None
        )
        for w in self._widgets if widgets is None else widgets:
            if isinstance(w, AssistantMessage):
                w.set_can_regenerate(w is last_reply and not busy)
            else:
                w.set_editable(not busy)

    # -- scrolling ----------------------------------------------------------------------

    def scroll_to_end(self) -> None:
        self._stick = True
        self._anchor = None
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _sync_chunks(self) -> None:
        """Show the chunks on or near the screen, hide those far from it (``show_near``),
        and show those a little further ahead in jobs of their own. A chunk shown again
        above the screen may have changed height while hidden (its formulas were drawn,
        the window was resized): the anchor (``_on_scrolled``) keeps what the user looks
        at where it is."""
        top, bottom = self._screen_span()
        if show_near(self._chunks, top, bottom, QApplication.focusWidget()):
            TurnWork.of().add(self, self._show_ahead)

    def _screen_span(self) -> tuple[int, int]:
        """The part of the message column on screen (its own coordinates)."""
        value = self.verticalScrollBar().value()
        offset = self._canvas_y(self.column)
        return value - offset, value - offset + self.viewport().height()

    def _show_ahead(self) -> None:
        """Show the nearest hidden chunk ahead of the screen (a job)."""
        if show_nearest_ahead(self._chunks, *self._screen_span()):
            TurnWork.of().add(self, self._show_ahead)

    def resizeEvent(self, e: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(e)
        self._sync_chunks()

    def _on_scrolled(self, value: int) -> None:
        self._sync_chunks()
        if self._adjusting:
            return
        bar = self.verticalScrollBar()
        self._stick = value >= bar.maximum() - STICK_PX
        # What the user now looks at stays put when something above changes height (a
        # message built, its formulas drawn, the window narrowed): it is the anchor.
        self._anchor = None if self._stick else self._top_anchor(value)
        if value < LOAD_EARLIER_PX and self._first > 0:
            TurnWork.of().add(self, self._fill)

    def _top_anchor(self, value: int) -> tuple[QWidget, int] | None:
        """The first message whose bottom is on screen, and its offset from the top."""
        lo, hi = 0, len(self._widgets) - 1
        found: QWidget | None = None
        while lo <= hi:
            mid = (lo + hi) // 2
            w = self._widgets[mid]
            if self._canvas_y(w) + w.height() > value:
                found, hi = w, mid - 1
            else:
                lo = mid + 1
        return None if found is None else (found, self._canvas_y(found) - value)

    def _hold_header(self, header: QWidget, opening: bool) -> None:
        """A thought opens or folds: its header stays where it is on screen (the chat does
        not jump, nor follow the end); folded from the "Collapse" at its end, a header
        above the view comes down to its top."""
        y = self._canvas_y(header) - self.verticalScrollBar().value()
        if not opening:
            y = max(y, 0)
        self._stick = False
        self._anchor = (header, y)
        QTimer.singleShot(0, self._keep_anchor)

    def _on_range_changed(self, _min: int, maximum: int) -> None:
        if self._stick:
            self._adjusting = True
            self.verticalScrollBar().setValue(maximum)
            self._adjusting = False
        elif self._anchor is not None:
            self._keep_anchor()
        self._sync_chunks()
