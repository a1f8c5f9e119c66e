"""Line icons for the toolbar and the sidebar, drawn with QPainter in the theme's text colour.

No SVG plugin is needed (a frozen app may lack Qt's SVG icon engine) and no image files: each
icon is a few strokes on a 24-unit grid, in the style of the outline icons LM Studio and Jan
use, rendered at the sizes a toolbar asks for (and twice that for high-DPI screens).
``ThemedIcons`` draws them again in the new colour when the palette changes (light <-> dark,
or the desktop's own switch under the "system" theme).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QWidget

SIZES = (16, 18, 20, 24, 32, 36, 40, 48)  # toolbar and button sizes, and high-DPI doubles
STROKE = 1.8  # in grid units (24 a side): a line that holds at 16 px and at 48

Draw = Callable[[QPainter], None]


def _models(p: QPainter) -> None:
    """A box: the model file, a package one downloads."""
    top, bottom, centre = QPointF(12, 2.5), QPointF(12, 21.5), QPointF(12, 11.5)
    left, right = QPointF(3.5, 7), QPointF(20.5, 7)
    path = QPainterPath(top)
    for point in (right, QPointF(20.5, 17), bottom, QPointF(3.5, 17), left):
        path.lineTo(point)
    path.closeSubpath()
    p.drawPath(path)
    p.drawPolyline([left, centre, right])
    p.drawLine(centre, bottom)


def _hardware(p: QPainter) -> None:
    """A chip with its pins."""
    p.drawRoundedRect(QRectF(5.5, 5.5, 13, 13), 2, 2)
    p.drawRect(QRectF(9.5, 9.5, 5, 5))
    for at in (9.5, 14.5):
        p.drawLine(QLineF(at, 2, at, 5.5))
        p.drawLine(QLineF(at, 18.5, at, 22))
        p.drawLine(QLineF(2, at, 5.5, at))
        p.drawLine(QLineF(18.5, at, 22, at))


def _compare(p: QPainter) -> None:
    """Bars side by side: models measured against each other."""
    p.drawLine(QLineF(3, 21, 21, 21))
    for left, top in ((4.5, 12), (10, 4), (15.5, 8.5)):
        p.drawRoundedRect(QRectF(left, top, 4, 21 - top), 1, 1)


def _machines(p: QPainter) -> None:
    """Two stacked servers: other computers that lend their memory."""
    for top in (3, 13.5):
        p.drawRoundedRect(QRectF(3, top, 18, 7.5), 2, 2)
        p.drawLine(QLineF(7, top + 3.75, 8, top + 3.75))
        p.drawLine(QLineF(11, top + 3.75, 12, top + 3.75))


def _settings(p: QPainter) -> None:
    """A gear: eight teeth around a hub."""
    path = QPainterPath()
    teeth = 8
    for k in range(teeth):
        angle = k * 360 / teeth
        for offset, radius in ((-17, 7.2), (-9, 9.8), (9, 9.8), (17, 7.2)):
            a = math.radians(angle + offset)
            point = QPointF(12 + radius * math.cos(a), 12 + radius * math.sin(a))
            if path.elementCount() == 0:
                path.moveTo(point)
            else:
                path.lineTo(point)
    path.closeSubpath()
    p.drawPath(path)
    p.drawEllipse(QPointF(12, 12), 3, 3)


def _new_chat(p: QPainter) -> None:
    """A plus."""
    p.drawLine(QLineF(12, 5, 12, 19))
    p.drawLine(QLineF(5, 12, 19, 12))


def _search(p: QPainter) -> None:
    """A magnifying glass."""
    p.drawEllipse(QPointF(10.5, 10.5), 6.5, 6.5)
    p.drawLine(QLineF(15.5, 15.5, 20.5, 20.5))


def _folder(p: QPainter) -> None:
    """A folder: open a file."""
    path = QPainterPath(QPointF(3, 18.5))
    for x, y in ((3, 5), (9.5, 5), (11.5, 7.5), (21, 7.5), (21, 18.5)):
        path.lineTo(x, y)
    path.closeSubpath()
    p.drawPath(path)


DRAWINGS: dict[str, Draw] = {
    "models": _models,
    "hardware": _hardware,
    "compare": _compare,
    "machines": _machines,
    "settings": _settings,
    "new_chat": _new_chat,
    "search": _search,
    "folder": _folder,
}


def _pixmap(draw: Draw, size: int, colour: QColor) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 24, size / 24)
    pen = QPen(colour, STROKE)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    draw(painter)
    painter.end()
    return pixmap


def line_icon(name: str, palette: QPalette, role: QPalette.ColorRole) -> QIcon:
    """Icon ``name`` (a key of ``DRAWINGS``) in ``palette``'s ``role`` colour, with a
    disabled form in the palette's disabled colour for that role."""
    draw = DRAWINGS[name]
    icon = QIcon()
    normal = palette.color(QPalette.ColorGroup.Active, role)
    disabled = palette.color(QPalette.ColorGroup.Disabled, role)
    for size in SIZES:
        icon.addPixmap(_pixmap(draw, size, normal), QIcon.Mode.Normal)
        icon.addPixmap(_pixmap(draw, size, disabled), QIcon.Mode.Disabled)
    return icon


class ThemedIcons(QObject):
    """Keeps actions' and buttons' line icons in ``watched``'s text colour: drawn when
    added, drawn again when its palette changes."""

    def __init__(
        self, watched: QWidget, role: QPalette.ColorRole = QPalette.ColorRole.ButtonText
    ) -> None:
        super().__init__(watched)
        self._watched = watched
        self._role = role
        self._targets: list[tuple[QAction | QAbstractButton, str]] = []
        watched.installEventFilter(self)

    def add(self, target: QAction | QAbstractButton, name: str) -> None:
        self._targets.append((target, name))
        target.setIcon(line_icon(name, self._watched.palette(), self._role))

    def refresh(self) -> None:
        palette = self._watched.palette()
        for target, name in self._targets:
            target.setIcon(line_icon(name, palette, self._role))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self._watched and event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.StyleChange,
        ):
            self.refresh()
        return False
