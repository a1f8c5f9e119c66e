"""The "Deleted “title”. [Undo]" bar: delete at once, offer it back for a few seconds.

A toast rather than a confirmation dialog: the deletion has already happened and the user is
never interrupted, yet a slip of the Delete key costs one click to repair. The bar only says
what happened and reports the user's choice; what "undo" means belongs to its owner.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QEnterEvent, QGuiApplication, QPalette, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

UNDO_TIMEOUT_MS = 8000


class DeletedLabel(QLabel):
    """One line, "Deleted “title”.": a long title is shortened, never the sentence around it.

    The label would otherwise widen the sidebar to fit the longest title ever deleted. The
    whole sentence stays available as the tooltip and the accessible name.
    """

    TEMPLATE = "Deleted “{}”."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_title(self, title: str) -> None:
        self._title = title
        self.setAccessibleName(self.full_text())
        self.setToolTip(self.full_text())
        self._elide()

    def full_text(self) -> str:
        """The sentence with the title in full, whatever the label has room to show."""
        return self.TEMPLATE.format(self._title)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        room = self.width() - metrics.horizontalAdvance(self.TEMPLATE.format(""))
        title = metrics.elidedText(self._title, Qt.TextElideMode.ElideRight, max(room, 0))
        self.setText(self.TEMPLATE.format(title))


class UndoBar(QFrame):
    """Shows "Deleted “title”. [Undo]" for a few seconds; the countdown pauses under the mouse.

    Hidden until ``show_deleted``; it hides itself when Undo is pressed or the time runs out,
    and its owner hides it early with ``dismiss`` (an undo from the keyboard, say).

    Signals:
        undo_requested(): the user pressed Undo.
        expired(): the time ran out; the deletion stands.
    """

    undo_requested = Signal()
    expired = Signal()

    def __init__(self, timeout_ms: int = UNDO_TIMEOUT_MS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setAccessibleName("Undo delete")
        self.message = DeletedLabel(self)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setAccessibleName("Undo delete")
        self.undo_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.undo_button.clicked.connect(self.undo_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.undo_button)
        self.restyle()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self._on_timeout)
        self.hide()

    def show_deleted(self, title: str) -> None:
        """Say that ``title`` was deleted and start (or restart) the countdown."""
        self.restyle()
        self.message.set_title(title)
        self.show()
        self.timer.start()

    def restyle(self) -> None:
        """Follow the application palette (light or dark theme).

        A widget with a style sheet no longer hears of palette changes, so the owner calls
        this when the theme changes, and the bar checks again each time it shows.
        """
        # Inverted colours, like a toast: noticeable without a dialog, in either theme.
        # From the application's palette: the style sheet has taken over this widget's own.
        palette = QGuiApplication.palette()
        back = palette.color(QPalette.ColorRole.WindowText).name()
        fore = palette.color(QPalette.ColorRole.Window).name()
        sheet = (
            f"#undoBar {{ background: {back}; border-radius: 6px; }}"
            f"#undoBar QLabel {{ color: {fore}; }}"
            f"#undoBar QPushButton {{ color: {fore}; background: transparent;"
            " border: 1px solid transparent; border-radius: 4px; padding: 4px 10px;"
            " font-weight: bold; }"
            "#undoBar QPushButton:hover { text-decoration: underline; }"
            f"#undoBar QPushButton:focus {{ border-color: {fore}; }}"
        )
        if sheet != self.styleSheet():  # each new sheet re-polishes the bar and its children
            self.setStyleSheet(sheet)

    def dismiss(self) -> None:
        """Hide the bar without emitting anything: the owner already knows why."""
        self.timer.stop()
        self.hide()

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802
        super().enterEvent(event)
        self.timer.stop()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        super().leaveEvent(event)
        if self.isVisible():
            self.timer.start()

    def _on_timeout(self) -> None:
        self.hide()
        self.expired.emit()
