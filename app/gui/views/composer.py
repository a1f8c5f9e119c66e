"""Where the user writes: Enter sends, Shift+Enter starts a new line, Stop while generating."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

HINT = "Ask directly; the model thinks on its own  (Enter sends, Shift+Enter: new line)"
MAX_LINES = 8


class _Input(QPlainTextEdit):
    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        plain_enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )
        if plain_enter:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        lines = int(self.document().documentLayout().documentSize().height())
        lines = max(2, min(MAX_LINES, lines))
        height = lines * self.fontMetrics().lineSpacing() + 2 * self.frameWidth() + 12
        return QSize(super().sizeHint().width(), height)


class Composer(QWidget):
    """The message box with Send / Stop and the \\boxed{} toggle.

    Signals:
        send_requested(str): the text to send (the box is cleared by ``accept``).
        stop_requested(): stop the reply being generated.
        boxed_toggled(bool): the "final answer in \\boxed{}" option changed.
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    boxed_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.input = _Input()
        self.input.setObjectName("composerInput")
        self.input.setAccessibleName("Message")
        self.input.setPlaceholderText(HINT)
        self.input.setTabChangesFocus(True)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send message")
        self.send_button.setToolTip("Send (Enter)")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.hide()
        self.boxed = QCheckBox("Final answer in \\boxed{}")
        self.boxed.setAccessibleName("Ask for the final answer in a box")
        self.boxed.setToolTip(
            "Adds DeepSeek's math instruction to your questions: reason step by step and put "
            "the final answer within \\boxed{}."
        )

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 8)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.boxed)

        self.input.submitted.connect(self._submit)
        self.input.textChanged.connect(self.input.updateGeometry)
        self.send_button.clicked.connect(self._submit)
        self.stop_button.clicked.connect(self.stop_requested)
        self.boxed.toggled.connect(self.boxed_toggled)
        self._busy = False

    def _submit(self) -> None:
        text = self.input.toPlainText().strip()
        if text and not self._busy:
            self.send_requested.emit(text)

    def accept(self) -> None:
        """The message was sent: empty the box."""
        self.input.clear()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)

    def text(self) -> str:
        return self.input.toPlainText()

    def focus(self) -> None:
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)
