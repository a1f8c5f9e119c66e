"""The chat's messages in chunks: a few consecutive messages each, in a layout that keeps
its heights, shown near the screen and hidden far from it.

Messages are built at the top as the user scrolls up, and a message's height changes when
its formulas arrive; in one flat column either moves every message below it (hundreds of
widgets in a long chat). Grouped, only the chunks below move, and their messages move with
them for free. A chunk far from the screen is hidden, keeping its place (``show_near``):
Qt then neither moves, lays out nor paints its messages.

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

CHUNK = 16  # messages per chunk
SHOWN_PX = 900  # chunks within this distance of the screen are shown (see show_near)
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


class MessageChunk(QWidget):
    """Up to ``CHUNK`` consecutive messages in a ``StackLayout`` (``box``)."""

    def __init__(self, parent: QWidget, spacing: int) -> None:
        super().__init__(parent)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.box = StackLayout(self, spacing)

    def full(self) -> bool:
        return self.box.count() >= CHUNK


def show_near(chunks: list[MessageChunk], top: int, bottom: int, focus: QWidget | None) -> bool:
    """Show the chunks near the screen (``top``..``bottom`` of their column) and hide those
    far from it; are hidden chunks left to show ahead (``show_nearest_ahead``)?

    Within ``SHOWN_PX`` of the screen a chunk is shown at once; within twice that, by the
    caller in a job of its own, so that a scroll step seldom has a chunk of messages to show
    (polish, lay out) on top of its painting; beyond three times that, it is hidden (between
    the two it stays as it is, so that scrolling back and forth does not show and hide the
    same chunk again and again). The chunk holding ``focus`` stays shown.
    """
    ahead = False
    for chunk in chunks:
        away = 0 if focus is not None and chunk.isAncestorOf(focus) else _away(chunk, top, bottom)
        if away <= SHOWN_PX:
            if chunk.isHidden():
                chunk.show()
        elif away <= 2 * SHOWN_PX:
            ahead = ahead or chunk.isHidden()
        elif away > 3 * SHOWN_PX and not chunk.isHidden():
            chunk.hide()
    return ahead


def show_nearest_ahead(chunks: list[MessageChunk], top: int, bottom: int) -> bool:
    """Show the nearest hidden chunk within twice ``SHOWN_PX`` of the screen; any more?"""
    near = sorted(
        (away, i)
        for i, chunk in enumerate(chunks)
        if chunk.isHidden() and (away := _away(chunk, top, bottom)) <= 2 * SHOWN_PX
    )
    if near:
        chunks[near[0][1]].show()
    return len(near) > 1


def _away(chunk: QWidget, top: int, bottom: int) -> int:
    """How far ``chunk`` is from the screen, in pixels (0: on it)."""
    box = chunk.geometry()
    return max(top - box.bottom(), box.top() - bottom, 0)
