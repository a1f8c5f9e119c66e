"""Small parts of a chat message: the question bubble, the thinking panel, tool buttons.

``message_widgets.AssistantMessage`` assembles a reply from these; the chat view builds a
``UserMessage`` per question.
"""

from __future__ import annotations

from math import ceil

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.store import MessageRow

PEEK_LINES = 6  # live reasoning shows its last few lines


COPIED_MS = 1500


def confirm_copied(button: QToolButton) -> None:
    """Say "Copied" on the link that was clicked, for a moment (where the user looks)."""
    label = button.property("restText") or button.text()
    button.setProperty("restText", label)
    button.setText("Copied ✓")
    timer = button.findChild(QTimer, "copiedTimer")
    if timer is None:
        timer = QTimer(button, singleShot=True, interval=COPIED_MS)
        timer.setObjectName("copiedTimer")
        timer.timeout.connect(lambda: button.setText(str(button.property("restText"))))
    timer.start()


def tool_button(text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class WrappedText(QLabel):
    """A word-wrapped label that lays its text out once per width.

    Qt's layouts ask a word-wrapped label for its height at a width over and over (a box
    layout's minimum height for a width is not cached for its items), and each time a
    selectable label lays its whole text out again; in a long chat that was most of the
    time a scroll step took.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._heights: dict[int, int] = {}
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        self._heights.clear()
        super().setText(text)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        height = self._heights.get(width)
        if height is None:
            if len(self._heights) > 8:
                self._heights.clear()
            height = self._heights[width] = super().heightForWidth(width)
        return height

    def changeEvent(self, e: QEvent) -> None:  # noqa: N802 (Qt API)
        if e.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._heights.clear()
        super().changeEvent(e)


class UserMessage(QFrame):
    """The user's question, with copy and edit-and-resend."""

    edit_submitted = Signal(int, str)  # position, new text
    copied = Signal(str)

    def __init__(self, row: MessageRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self.setObjectName("userMessage")
        self.setAccessibleName("Your message")
        self.text = WrappedText()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setText(row.content)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setObjectName("userText")
        self.text.setAccessibleName("Your message text")
        self._editor: QPlainTextEdit | None = None  # built when the user first edits
        self.copy_button = tool_button("Copy", "Copy message", "Copy this message")
        self.edit_button = tool_button("Edit", "Edit message", "Edit and send again")
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
        """False while a reply runs: an edit could not be sent then."""
        self.edit_button.setEnabled(editable)
        self.resend_button.setEnabled(editable)

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
        # The editor stays open: a sent edit replaces this message (and this widget); one
        # that is refused (cancelled, no model, a full disk) keeps what was typed.
        text = self.editor.toPlainText().strip()
        if text:
            self.edit_submitted.emit(self.row.position, text)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.row.content)
        confirm_copied(self.copy_button)
        self.copied.emit(self.row.content)


class ThoughtText(QTextEdit):
    """The reasoning's text, with no scroll bar of its own once the thought is finished.

    Live, it is a peek of ``PEEK_LINES`` lines that follows the end. Finished, it is as tall
    as its text at the current width (like an answer), so the chat scrolls and nothing
    scrolls inside it; its height follows the document's, which Qt lays out again when the
    width changes.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingBody")
        self.setAccessibleName("Reasoning")
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)  # the panel's background shows through
        self.document().setUndoRedoEnabled(False)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.peek = False

    def set_peek(self, peek: bool) -> None:
        self.peek = peek
        self._fit()
        if peek:
            self.follow_end()

    def follow_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def full_height(self) -> int:
        margins = self.contentsMargins()
        return ceil(self.document().size().height()) + margins.top() + margins.bottom()

    def _fit(self) -> None:
        if self.peek:
            margins = self.contentsMargins()
            doc = self.document()
            height = PEEK_LINES * self.fontMetrics().lineSpacing() + 2 * doc.documentMargin()
            height = min(ceil(height) + margins.top() + margins.bottom(), self.full_height())
        else:
            height = self.full_height()
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)
        if not self.peek:
            self.verticalScrollBar().setValue(0)

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        e.ignore()  # the chat scrolls, not the thought


class ThinkingPanel(QFrame):
    """The chain of thought: a live peek while the model reasons, then folded away; opened
    again, the whole thought in place, with a "Collapse" at its end as well.

    Signals:
        answer_now(): the user asked to stop thinking and answer.
        folding(bool): the user is opening (True) or closing (False) the panel; sent before
            it changes, so that the chat can keep the header where it is on screen.
    """

    answer_now = Signal()
    folding = Signal(bool)

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
        self._body: ThoughtText | None = None
        self._foot: ThoughtFoot | None = None
        self._chunks: list[str] = []

    @property
    def body(self) -> ThoughtText:
        if self._body is None:
            body = ThoughtText()
            body.setPlainText("".join(self._chunks))
            self._layout.addWidget(body)  # parent first: a parentless show() opens a window
            body.setVisible(self.is_open())
            self._body = body
            self._apply_live()
        return self._body

    @property
    def foot(self) -> ThoughtFoot:
        """The line at the end of an opened thought: its size, and "Collapse"."""
        if self._foot is None:
            self._foot = ThoughtFoot(self)
            self._layout.addWidget(self._foot)
            self._foot.collapse_button.clicked.connect(lambda: self.toggle.setChecked(False))
            self._foot.hide()
        return self._foot

    def set_text(self, text: str) -> None:
        self._chunks = [text] if text else []
        if self._body is not None:
            self._body.setPlainText(text)
        if self._foot is not None:
            self._foot.describe(text)

    def append(self, text: str) -> None:
        if not text:
            return
        self._chunks.append(text)
        if self._body is None:
            return
        cursor = QTextCursor(self._body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if self._live:
            self._body.follow_end()

    def has_text(self) -> bool:
        return bool(self._chunks)  # only non-empty text is kept

    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def set_live(self, live: bool, open_: bool) -> None:
        self._live = live
        self.answer_now_button.setVisible(live)
        self.toggle.blockSignals(True)  # the program folds it, not the user
        self.toggle.setChecked(open_)
        self.toggle.blockSignals(False)
        self._show_open(open_)

    def _apply_live(self) -> None:
        if self._body is not None:
            self._body.set_peek(self._live)
        if self.is_open() and not self._live:
            self.foot.describe(self.text())
            self.foot.show()
        elif self._foot is not None:
            self._foot.hide()

    def set_title(self, text: str) -> None:
        self.toggle.setText(text)

    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def _on_toggled(self, checked: bool) -> None:
        self.folding.emit(checked)
        self._show_open(checked)

    def _show_open(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        if open_:
            self.body.show()  # built on first use
        elif self._body is not None:
            self._body.hide()
        self._apply_live()


class ThoughtFoot(QWidget):
    """Under an opened thought: how long it is, and a way to fold it from its end."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingFoot")
        self.outline = QLabel()
        self.outline.setObjectName("thinkingOutline")
        self.outline.setAccessibleName("Reasoning length")
        self.collapse_button = tool_button(
            "Collapse", "Collapse the reasoning", "Fold the reasoning away"
        )
        self.collapse_button.setObjectName("thinkingCollapse")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.outline, 1)
        row.addWidget(self.collapse_button)
        self._described: str | None = None

    def describe(self, text: str) -> None:
        if text is self._described:
            return
        self._described = text
        words = len(text.split())
        steps = sum(1 for part in text.split("\n\n") if part.strip())
        parts = [f"{words:,} word" + ("" if words == 1 else "s")]
        if steps > 1:
            parts.append(f"{steps:,} steps")
        self.outline.setText(" · ".join(parts))
