"""A problem that stays until read: "Cannot use big.gguf: it needs 40 GB … [Dismiss]".

The status bar is the wrong place for why a model was refused: it cut the sentence off under
the stats, and its message vanished after a few seconds, leaving the full text only in a
tooltip. This bar sits at the top of the chat column, under the toolbar where the model was
chosen (and over the first-run page when that is shown), shows the whole sentence (wrapped,
selectable to copy into a bug report) and stays until the user dismisses it or the problem is
gone (its owner calls ``dismiss`` when a model loads).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.gui.style import mix
from app.gui.theme import verdict_colour


class ProblemBanner(QFrame):
    """Hidden until ``show_problem``; hidden again by Dismiss or ``dismiss``.

    Signals:
        dismissed(): the user closed the banner.
    """

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problemBanner")
        self.setAccessibleName("Problem")
        self.label = QLabel()
        self.label.setObjectName("problemText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setAccessibleName("Dismiss the problem")
        self.dismiss_button.setToolTip("Hide this message")
        self.dismiss_button.clicked.connect(self._on_dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 8, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_problem(self, text: str) -> None:
        """Say ``text`` in full (replacing an earlier problem) until dismissed."""
        self.restyle()
        self.label.setText(text)
        self.setAccessibleDescription(text)
        self.show()

    def text(self) -> str:
        """The problem shown ("" when the banner is hidden)."""
        return self.label.text() if not self.isHidden() else ""

    def dismiss(self) -> None:
        """Hide the banner without a signal: the owner knows the problem has gone."""
        self.hide()

    def restyle(self) -> None:
        """Follow the palette (a widget with its own style sheet hears of no theme change,
        so the owner calls this after one, and the banner checks again each time it shows)."""
        palette = QGuiApplication.palette()
        red = verdict_colour("too_large")
        base = palette.color(QPalette.ColorRole.Base)
        back = mix(base, palette.color(QPalette.ColorRole.Text), 0.05)
        sheet = (
            f"#problemBanner {{ background: {back}; border-left: 4px solid {red}; }}"
            "#problemBanner QLabel { background: transparent; }"
        )
        if sheet != self.styleSheet():
            self.setStyleSheet(sheet)

    def _on_dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
