""" "The engine is not responding. [Stop] [Wait]": shown in the chat while a reply is stuck.

A reply that stops moving (the engine stopped by a signal, deadlocked, stuck in a driver
call) used to look like a slow one until the user gave up and pressed Stop, which then waited
out a grace period. The engine client notices that no progress has been made for a few
seconds (``app.inference.client.SILENCE_S``); this bar says so where the user is looking and
offers the two honest choices. Stop ends the engine process at once (the next message starts
a fresh one); Wait hides the bar until the silence has lasted twice as long.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget


class EngineSilenceBar(QFrame):
    """Hidden until ``show_silence``; ``clear`` hides it when the engine moves again.

    Signals:
        stop_requested(): the user chose Stop.
    """

    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engineSilenceBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the engine now; your next message starts a new one")
        self.wait_button = QPushButton("Wait")
        self.wait_button.setToolTip("Keep waiting for this reply")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.stop_button)
        row.addWidget(self.wait_button)
        self.stop_button.clicked.connect(self._on_stop)
        self.wait_button.clicked.connect(self._on_wait)
        self._shown_s = 0.0  # the silence the bar reports
        self._waited_at = 0.0  # the silence when the user chose Wait
        self.hide()

    def show_silence(self, seconds: float) -> None:
        """The engine has been silent this long; 0 clears the bar."""
        if seconds <= 0:
            self.clear()
            return
        if self._waited_at and seconds < 2 * self._waited_at:
            return  # the user chose to wait; ask again only after twice as long
        self.label.setText(
            f"The engine is not responding: no progress for {seconds:.0f} s. "
            "Stop ends it (the reply so far is kept), or wait for it."
        )
        self.setAccessibleName(self.label.text())
        self._shown_s = seconds
        self.show()

    def clear(self) -> None:
        self._waited_at = 0.0
        self.hide()

    def _on_stop(self) -> None:
        self.clear()
        self.stop_requested.emit()

    def _on_wait(self) -> None:
        self._waited_at = self._shown_s
        self.hide()
