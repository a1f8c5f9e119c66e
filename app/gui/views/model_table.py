"""The model manager's tables: one filtered view per tab, a download's progress drawn as
a bar in its Status cell."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
)

from app.gui.viewmodels.model_list import ModelFilter, ModelListModel

_Index = QModelIndex | QPersistentModelIndex


class ProgressDelegate(QStyledItemDelegate):
    """Draws a download's progress as a bar behind its status text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        fraction = index.data(ModelListModel.ProgressRole)
        if index.column() != ModelListModel.STATUS or fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 2, -2, -2)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(float(fraction) * 1000)
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)


def model_table(model: ModelListModel, proxy: ModelFilter, name: str) -> QTableView:
    """A sortable, single-row-selection table of ``proxy`` over ``model``."""
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setSortingEnabled(True)
    view.sortByColumn(ModelListModel.NAME, Qt.SortOrder.AscendingOrder)
    view.verticalHeader().hide()
    view.setWordWrap(False)
    # An installed file's name is cut in the middle, where it keeps its quantization.
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.setItemDelegateForColumn(ModelListModel.STATUS, ProgressDelegate(view))
    header = view.horizontalHeader()
    # The name (short for catalog rows: "Distill Qwen 7B") takes the room left; the
    # verdict is never cut ("Too large: needs 154.66 GB, has 24.57 GB"). The status keeps
    # one width, so that a download's changing text does not shift the columns.
    header.setSectionResizeMode(ModelListModel.NAME, QHeaderView.ResizeMode.Stretch)
    m = ModelListModel
    for col in (m.QUANT, m.SIZE, m.WHERE, m.FIT):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    header.resizeSection(ModelListModel.STATUS, 230)
    return view
