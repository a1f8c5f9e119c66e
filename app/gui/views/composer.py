"""Where the user writes: Enter sends, Shift+Enter starts a new line, Stop while generating.

"Think N ways" beside Send (or Ctrl+Enter) sends the message as a group: N answers sampled
together, then voted on. Its menu picks N (2 to 8), which is remembered.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QActionGroup, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.group_reply import MAX_WAYS, MIN_WAYS

HINT = "Ask directly; the model thinks on its own  (Enter sends, Shift+Enter: new line)"
MAX_LINES = 8


class _Input(QPlainTextEdit):
    submitted = Signal()
    think_submitted = Signal()  # Ctrl+Enter

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        mods = event.modifiers()
        if enter and mods & Qt.KeyboardModifier.ControlModifier:
            self.think_submitted.emit()
            return
        if enter and not mods & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        lines = int(self.document().documentLayout().documentSize().height())
        lines = max(2, min(MAX_LINES, lines))
        height = lines * self.fontMetrics().lineSpacing() + 2 * self.frameWidth() + 12
        return QSize(super().sizeHint().width(), height)


class Composer(QWidget):
    """The message box with Send / Think N ways / Stop and the \\boxed{} toggle.

    Signals:
        send_requested(str): the text to send (the box is cleared by ``accept``).
        think_requested(str, int): the text to send as a group of that many answers.
        ways_changed(int): the user picked another N for "Think N ways".
        stop_requested(): stop the reply being generated.
        boxed_toggled(bool): the "final answer in \\boxed{}" option changed.
    """

    send_requested = Signal(str)
    think_requested = Signal(str, int)
    ways_changed = Signal(int)
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
        self.think_button = QToolButton()
        self.think_button.setObjectName("thinkButton")
        self.think_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.think_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.think_button.setAccessibleName("Think N ways")
        self.think_button.setToolTip(
            "Send, and have the model answer several times at once; the answers are grouped "
            "and the majority's becomes the reply (Ctrl+Enter). The arrow picks how many."
        )
        self.ways_menu = QMenu(self.think_button)
        self.ways_menu.setAccessibleName("How many ways to think")
        choices = QActionGroup(self.ways_menu)
        for n in range(MIN_WAYS, MAX_WAYS + 1):
            action = self.ways_menu.addAction(f"{n} ways")
            action.setCheckable(True)
            action.setData(n)
            choices.addAction(action)
        choices.triggered.connect(lambda action: self._pick_ways(int(action.data())))
        self.think_button.setMenu(self.ways_menu)
        self.ways = 0
        self.set_ways(MIN_WAYS)
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
        buttons.addWidget(self.think_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        # The box and its buttons, as wide as the message column at most and centred as it
        # is: on a wide screen a box spanning the window reads as belonging to no message.
        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(4)
        body.addLayout(row)
        body.addWidget(self.boxed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 8)
        layout.addStretch(0)
        layout.addWidget(self.body, 1)
        layout.addStretch(0)

        self.input.submitted.connect(self._submit)
        self.input.think_submitted.connect(self._think)
        self.think_button.clicked.connect(self._think)
        self.input.textChanged.connect(self.input.updateGeometry)
        self.send_button.clicked.connect(self._submit)
        self.stop_button.clicked.connect(self.stop_requested)
        self.boxed.toggled.connect(self.boxed_toggled)
        self._busy = False

    def _submit(self) -> None:
        text = self.input.toPlainText().strip()
        if text and not self._busy:
            self.send_requested.emit(text)

    def _think(self) -> None:
        text = self.input.toPlainText().strip()
        if text and not self._busy:
            self.think_requested.emit(text, self.ways)

    def set_ways(self, n: int) -> None:
        """Show N on the button and in its menu (no signal: the caller knows)."""
        self.ways = max(MIN_WAYS, min(MAX_WAYS, n))
        self.think_button.setText(f"Think {self.ways} ways")
        for action in self.ways_menu.actions():
            action.setChecked(action.data() == self.ways)

    def _pick_ways(self, n: int) -> None:
        if n != self.ways:
            self.set_ways(n)
            self.ways_changed.emit(n)

    def accept(self) -> None:
        """The message was sent: empty the box."""
        self.input.clear()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setVisible(not busy)
        self.think_button.setVisible(not busy)
        self.stop_button.setVisible(busy)

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)

    def text(self) -> str:
        return self.input.toPlainText()

    def set_max_width(self, width: int) -> None:
        """Keep the box and its buttons within ``width`` pixels (the message column's)."""
        self.body.setMaximumWidth(width)

    def focus(self) -> None:
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)
