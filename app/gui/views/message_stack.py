"""A vertical layout for a few consecutive messages of the chat that keeps its heights.

Qt's box layouts keep the height they computed for one width only, and a long chat's layout
is asked at two widths over and over: the width the messages have, and the width of its
size hint (``QLayout::totalSizeHint`` asks the height for that one). Each change of width
went down through every layout of every message of the chat, on every scroll step; the
work grew with the length of the chat. ``StackLayout`` keeps its height for each width it
is asked, so the question stops at it; it forgets them whenever Qt invalidates it (one of
its messages changed: added, removed, shown, hidden, a new height). It adds its messages'
heights up from their items, which keep theirs for a few widths (a box layout's minimum
height asks each message's own layout again, whose one width is then the wrong one). Qt
places the messages (the layout is a ``QVBoxLayout``), and does so at once when a message
changes, as it does for any layout.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

_WIDTHS_KEPT = 6  # heights remembered (for this many widths) until the layout changes


class StackLayout(QVBoxLayout):
    """A ``QVBoxLayout`` without margins that remembers its heights for several widths."""

    def __init__(self, parent: QWidget, spacing: int) -> None:
        self._heights: dict[int, int] = {}
        super().__init__(parent)  # (may call invalidate)
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def invalidate(self) -> None:
        self._heights.clear()
        super().invalidate()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        height = self._heights.get(width)
        if height is None:
            if len(self._heights) >= _WIDTHS_KEPT:
                self._heights.clear()
            height = self._heights[width] = self._add_up(width)
        return height

    def minimumHeightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        # A message is never squeezed below its height for the width (as in a
        # QVBoxLayout, which gives an item with a height for width exactly that).
        return self.heightForWidth(width)

    def _add_up(self, width: int) -> int:
        heights = []
        for i in range(self.count()):
            item = self.itemAt(i)
            if item is None or item.isEmpty():
                continue
            hfw = item.hasHeightForWidth()
            heights.append(item.heightForWidth(width) if hfw else item.sizeHint().height())
        return sum(heights) + self.spacing() * max(0, len(heights) - 1)
