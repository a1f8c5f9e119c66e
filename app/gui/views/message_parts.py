"""Small parts of a chat message: the question bubble, the thinking panel, tool buttons.

``message_widgets.AssistantMessage`` assembles a reply from these; the chat view builds a
``UserMessage`` per question.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.store import MessageRow

PEEK_LINES = 6  # live reasoning shows its last few lines
OPEN_MAX_LINES = 24  # an opened finished reasoning panel scrolls beyond this


def tool_button(text: str, name: str, tip: str) -> QToolButton:
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
        self._chunks = [text] if text else []
        if self._body is not None:
            self._body.setPlainText(text)

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
            bar = self._body.verticalScrollBar()
            bar.setValue(bar.maximum())

    def has_text(self) -> bool:
        return bool(self._chunks)  # only non-empty text is kept

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
        if checked and not self._live and self._body is not None:
            # Opened to read: from the start (a live peek left it scrolled to the end).
            self._body.verticalScrollBar().setValue(0)

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
