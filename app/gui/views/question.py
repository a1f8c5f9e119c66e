"""The user's question in the chat: its text, Copy, and Edit to send it again."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.store import MessageRow
from app.gui.views.edit_box import edit_box
from app.gui.views.message_parts import confirm_copied, tool_button


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
        self._editor: QPlainTextEdit | None = None  # built when the user first edits,
        self._cancel: QPushButton | None = None  # with its Cancel
        self._send: QPushButton | None = None  # and Send
        self.copy_button = tool_button("Copy", "Copy message", "Copy this message")
        self.edit_button = tool_button("Edit", "Edit message", "Edit and send again")
        self._editable = True
        actions = self._actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addStretch(1)
        for w in (self.copy_button, self.edit_button):
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

    @property
    def editor(self) -> QPlainTextEdit:
        """The box the question is edited in (built on first use, with its Cancel and
        Send: most questions are never edited)."""
        if self._editor is None:
            self._build_editing()
        assert self._editor is not None
        return self._editor

    @property
    def cancel_button(self) -> QPushButton:
        if self._cancel is None:
            self._build_editing()
        assert self._cancel is not None
        return self._cancel

    @property
    def resend_button(self) -> QPushButton:
        if self._send is None:
            self._build_editing()
        assert self._send is not None
        return self._send

    def _build_editing(self) -> None:
        # The message box's keys: Enter sends the edit, Esc cancels it.
        self._editor = edit_box(self.row.content, send=self._resend, cancel=self._end_edit)
        self._editor.hide()
        self._layout.insertWidget(1, self._editor)
        cancel = self._cancel = QPushButton("Cancel")
        cancel.setAccessibleName("Cancel editing")
        resend = self._send = QPushButton("Send")
        resend.setAccessibleName("Send edited message")
        resend.setEnabled(self._editable)
        for button in (cancel, resend):
            button.hide()
            self._actions.addWidget(button)
        cancel.clicked.connect(self._end_edit)
        resend.clicked.connect(self._resend)

    def set_editable(self, editable: bool) -> None:
        """False while a reply runs: an edit could not be sent then."""
        self._editable = editable
        self.edit_button.setEnabled(editable)
        if self._send is not None:
            self._send.setEnabled(editable)

    def start_edit(self) -> None:
        self.editor.setPlainText(self.row.content)
        self._set_editing(True)
        self.editor.setFocus()

    def _set_editing(self, editing: bool) -> None:
        self.text.setVisible(not editing)
        self.editor.setVisible(editing)  # (builds Cancel and Send too)
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
        if text and self.resend_button.isEnabled():  # Enter too waits for the reply to end
            self.edit_submitted.emit(self.row.position, text)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.row.content)
        confirm_copied(self.copy_button)
        self.copied.emit(self.row.content)
