"""What a table shows of its cells: whether a cell's text fits its column or is cut."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView


def fits(view: QTableView, index: QModelIndex | QPersistentModelIndex) -> bool:
    """True when the cell's text (icon, font and margins included) fits its column, so the
    view paints it whole instead of eliding it; in a view that wraps, when its lines fit
    the column's width and the row's height."""
    option = QStyleOptionViewItem()
    option.initFrom(view)
    width = view.columnWidth(index.column())
    if view.itemDelegateForIndex(index).sizeHint(option, index).width() <= width:
        return True
    if not view.wordWrap():
        return False
    font = index.data(Qt.ItemDataRole.FontRole)
    metrics = QFontMetrics(font if isinstance(font, QFont) else view.font())
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    room = width - 2 * margin
    flags = int(Qt.TextFlag.TextWordWrap)
    lines = metrics.boundingRect(QRect(0, 0, room, 10_000), flags, str(index.data()))
    return lines.width() <= room and lines.height() <= view.rowHeight(index.row())


def cut_cells(view: QTableView, columns: list[int]) -> list[str]:
    """The texts of ``columns`` the view cuts, over every row."""
    model = view.model()
    return [
        str(model.index(row, col).data())
        for row in range(model.rowCount())
        for col in columns
        if not fits(view, model.index(row, col))
    ]
