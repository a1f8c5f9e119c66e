"""A small line chart of recent values with the latest one written beside its title.

Custom painted rather than QtCharts: a chart view per figure costs a scene graph and
several milliseconds per update, while this draws one path over at most 120 points, and
takes its colours from the palette so light and dark themes need nothing special.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.hardware.monitor import HISTORY_SIZE, History

Formatter = Callable[[float], str]

_PAD = 4
_ZOOMS = (0.1, 0.25, 0.5)  # of ``maximum``: the plot's top while the values stay below


def _plain(value: float) -> str:
    return f"{value:.0f}"


class Sparkline(QWidget):
    """The last ``size`` values of one figure, scaled from 0 to ``maximum``.

    ``maximum=None`` scales to the largest value shown (for figures without a natural
    ceiling, such as the engine's memory). With a ``maximum`` the plot zooms in while the
    values stay low (a CPU at 3% would otherwise be a flat line on the floor): its top is
    the next of 10/25/50/100% of ``maximum`` above the values, written in the plot's
    corner. ``add_gap`` records "no value" (say, no engine running): the line breaks
    there and the label says ``gap_text``.
    """

    def __init__(
        self,
        title: str,
        fmt: Formatter = _plain,
        *,
        maximum: float | None = None,
        size: int = HISTORY_SIZE,
        gap_text: str = "—",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self._fmt = fmt
        self._maximum = maximum
        self._gap_text = gap_text
        self._values: History[float | None] = History(size)
        self.setAccessibleName(title)
        self.setAccessibleDescription(f"{title}: no samples yet")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(120)

    # -- data -----------------------------------------------------------------------

    def add(self, value: float) -> None:
        self._values.append(max(float(value), 0.0))
        self._changed()

    def add_gap(self) -> None:
        self._values.append(None)
        self._changed()

    def set_maximum(self, maximum: float | None) -> None:
        if maximum != self._maximum:
            self._maximum = maximum
            self.update()

    def values(self) -> list[float | None]:
        return list(self._values)

    @property
    def latest_text(self) -> str:
        latest = self._values.latest()
        if len(self._values) == 0:
            return ""
        return self._gap_text if latest is None else self._fmt(latest)

    def _changed(self) -> None:
        self.setAccessibleDescription(f"{self.title}: {self.latest_text}")
        self.setToolTip(f"{self.title}: {self.latest_text}")
        self.update()  # coalesced by Qt: at most one repaint per event-loop pass

    def _scale(self) -> float:
        peak = max((v for v in self._values if v is not None), default=0.0)
        if self._maximum:
            return next(
                (f * self._maximum for f in _ZOOMS if peak <= f * self._maximum * 0.9),
                self._maximum,
            )
        return peak * 1.1 or 1.0

    @property
    def scale_text(self) -> str:
        """The plot's top, when it is zoomed in below ``maximum`` ("" otherwise)."""
        scale = self._scale()
        return self._fmt(scale) if self._maximum and scale < self._maximum else ""

    # -- painting -------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        line = self.fontMetrics().height()
        return QSize(200, line + 52)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        accent = pal.color(QPalette.ColorRole.Highlight)
        base = pal.color(QPalette.ColorRole.Base)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        line_h = self.fontMetrics().height()
        p.setPen(text)
        label = QRectF(_PAD, 0, self.width() - 2 * _PAD, line_h)
        p.drawText(label, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title)
        p.drawText(
            label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.latest_text
        )
        plot = QRectF(_PAD, line_h + 2, self.width() - 2 * _PAD, self.height() - line_h - 4)
        faint = QColor(text.red(), text.green(), text.blue(), 50)
        p.setPen(QPen(faint, 1))
        p.setBrush(base)
        p.drawRoundedRect(plot, 3, 3)
        p.setPen(QPen(faint, 1, Qt.PenStyle.DotLine))  # halfway, to read a level against
        p.drawLine(QPointF(plot.left() + 2, plot.center().y()),
                   QPointF(plot.right() - 2, plot.center().y()))  # fmt: skip
        if zoom := self.scale_text:
            small = self.font()
            small.setPointSizeF(small.pointSizeF() * 0.8)
            p.setFont(small)
            p.setPen(QColor(text.red(), text.green(), text.blue(), 140))
            corner = plot.adjusted(0, 1, -4, 0)
            p.drawText(corner, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, zoom)
        self._draw_line(p, plot.adjusted(1, 2, -1, -1), accent)
        p.end()

    def _draw_line(self, p: QPainter, plot: QRectF, colour: QColor) -> None:
        values = self.values()
        if not values:
            return
        n = self._values.size
        step = plot.width() / max(n - 1, 1)
        x0 = plot.right() - (len(values) - 1) * step  # newest value at the right edge
        scale = self._scale()
        segments: list[list[QPointF]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                if segments[-1]:
                    segments.append([])
                continue
            y = plot.bottom() - min(v / scale, 1.0) * plot.height()
            segments[-1].append(QPointF(x0 + i * step, y))
        fill = QColor(colour)
        fill.setAlpha(90)
        for points in segments:
            if not points:
                continue
            path = QPainterPath(points[0])
            for pt in points[1:]:
                path.lineTo(pt)
            area = QPainterPath(path)
            area.lineTo(points[-1].x(), plot.bottom())
            area.lineTo(points[0].x(), plot.bottom())
            area.closeSubpath()
            p.fillPath(area, fill)
            p.setPen(QPen(colour, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            if len(points) == 1:
                p.drawPoint(points[0])
            else:
                p.drawPath(path)
