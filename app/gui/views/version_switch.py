""" "< 2/3 >" under a reply that was regenerated: step through its versions; the one shown
is the reply the conversation carries on with (ChatGPT's and DeepSeek's switch)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.core.store import MessageRow
from app.gui.views.message_parts import tool_button


class VersionSwitch(QWidget):
    """Signals:
    version_requested(int): show this version (its ordinal, from 0).
    """

    version_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.previous = tool_button("‹", "Previous version", "The earlier answer to this")
        self.next = tool_button("›", "Next version", "The later answer to this")
        self.label = QLabel()
        self.label.setAccessibleName("Reply version")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(0)
        for w in (self.previous, self.label, self.next):
            layout.addWidget(w)
        self._at = 0
        self.previous.clicked.connect(lambda: self.version_requested.emit(self._at - 1))
        self.next.clicked.connect(lambda: self.version_requested.emit(self._at + 1))
        self.hide()

    def show_row(self, row: MessageRow) -> None:
        """Shown only for a reply with more than one version."""
        count = row.version_count
        self._at = row.version
        self.label.setText(f"{self._at + 1}/{count}")
        self.label.setToolTip(f"Version {self._at + 1} of {count} of this reply")
        self.previous.setEnabled(self._at > 0)
        self.next.setEnabled(self._at < count - 1)
        self.setVisible(count > 1)
