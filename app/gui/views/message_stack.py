"""A vertical layout for a few consecutive messages of the chat that keeps its heights.

Qt's box layouts keep the height they computed for one width only, and a long chat's layout
is asked at two widths over and over: the width the messages have, and the width of its
size hint (``QLayout::totalSizeHint`` asks the height for that one). Each change of width
went down through every layout of every message of the chat, on every scroll step; the
work grew with the length of the chat. ``StackLayout`` keeps its height for each width it
is asked, so the question stops at it; it forgets them when Qt invalidates it (one of its
messages changed: shown, hidden, a new height).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget

_WIDTHS_KEPT = 6  # heights remembered (for this many widths) until the layout changes


class StackLayout(QLayout):
    """Widgets one under the other at the full width, ``spacing`` apart, each as tall as
    its height for that width (a ``QVBoxLayout`` of items that neither stretch nor
    shrink, with its heights kept)."""

    def __init__(self, parent: QWidget, spacing: int) -> None:
        self._gap = spacing
        self._items: list[QLayoutItem] = []
        self._heights: dict[int, int] = {}
        self._min_width: int | None = None
        super().__init__(parent)  # (calls invalidate)
        self.setContentsMargins(0, 0, 0, 0)

    # -- items (QLayout's API) ----------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)
        self.invalidate()

    def insert_widget(self, index: int, widget: QWidget) -> None:
        self.addWidget(widget)  # (Qt makes it a child, to be shown, and calls addItem)
        self._items.insert(index, self._items.pop())
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self.invalidate()
        return item

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt API)
        return Qt.Orientation(0)

    def invalidate(self) -> None:
        self._heights.clear()
        self._min_width = None
        super().invalidate()

    # -- size ---------------------------------------------------------------------------

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        height = self._heights.get(width)
        if height is None:
            if len(self._heights) >= _WIDTHS_KEPT:
                self._heights.clear()
            shown = [item for item in self._items if not item.isEmpty()]
            height = sum(_height(item, width) for item in shown)
            height += self._gap * max(0, len(shown) - 1)
            self._heights[width] = height
        return height

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        width = self._minimum_width()
        return QSize(width, self.heightForWidth(width))

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self._minimum_width(), 0)

    def _minimum_width(self) -> int:
        if self._min_width is None:
            self._min_width = max(
                (item.minimumSize().width() for item in self._items if not item.isEmpty()),
                default=0,
            )
        return self._min_width

    # -- placing ------------------------------------------------------------------------

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt API)
        super().setGeometry(rect)
        y = rect.y()
        for item in self._items:
            if item.isEmpty():
                continue
            height = _height(item, rect.width())
            item.setGeometry(QRect(rect.x(), y, rect.width(), height))
            y += height + self._gap


def _height(item: QLayoutItem, width: int) -> int:
    height = item.heightForWidth(width) if item.hasHeightForWidth() else item.sizeHint().height()
    return max(item.minimumSize().height(), min(height, item.maximumSize().height()))
