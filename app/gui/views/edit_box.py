"""The box a question is edited in, with the message box's keys: Enter saves and sends,
Shift+Enter starts a new line, Esc cancels the edit.

A plain text edit took Enter as a new line and ignored Esc, so editing a question felt
unlike writing one. Esc is claimed before the window's shortcuts see it: in the chat, Esc
otherwise means "stop the reply".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class EditBox(QPlainTextEdit):
    """Signals:
    submitted(): Enter (without Shift): save the edit and send it.
    cancelled(): Esc: leave the edit.
    """

    submitted = Signal()
    cancelled = Signal()

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAccessibleName("Edit your message")
        self.setToolTip("Enter sends the edit, Shift+Enter starts a new line, Esc cancels")
        self.setTabChangesFocus(True)

    def event(self, event: QEvent) -> bool:
        # A window shortcut on Esc (stop the reply) would take the key before keyPressEvent.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Escape and not mods:
            self.cancelled.emit()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


def edit_box(text: str, *, send: Callable[[], object], cancel: Callable[[], object]) -> EditBox:
    """An ``EditBox`` holding ``text`` whose Enter calls ``send`` and Esc ``cancel``."""
    box = EditBox(text)
    box.submitted.connect(send)
    box.cancelled.connect(cancel)
    return box
