"""The sidebar's list of chats as it looks: date headings, roomy rows, a rounded highlight.

A date section's heading ("Today", "Previous 7 days", "November 2026") is drawn by the row
delegate in a band above the section's first row, as ChatGPT, LM Studio and Jan show them.
The band belongs to that row's rectangle but not to the row: ``indexAt`` finds no chat there,
so a click on a heading selects nothing and hovering it lights nothing. The keyboard never
stops on a heading because a heading is no row of the model.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.gui.theme import blend
from app.gui.viewmodels.conversation_list import ConversationListModel

_Index = QModelIndex | QPersistentModelIndex

ROW_PADDING = 18  # a row is the text's height plus this, as roomy as LM Studio's
PILL_MARGIN = 0  # the highlight spans the list, as wide as the buttons above it
TEXT_INSET = 10  # between the highlight's edge and the title
HEADING_GAP = 14  # above a heading that follows another section
HEADING_SCALE = 0.86  # the heading's size against the titles'


def heading_font(font: QFont) -> QFont:
    """A section heading: smaller than the titles and semi-bold, as the references use."""
    heading = QFont(font)
    if font.pointSizeF() > 0:
        heading.setPointSizeF(font.pointSizeF() * HEADING_SCALE)
    elif font.pixelSize() > 0:
        heading.setPixelSize(max(8, round(font.pixelSize() * HEADING_SCALE)))
    heading.setWeight(QFont.Weight.DemiBold)
    return heading


class ChatRowDelegate(QStyledItemDelegate):
    """Draws a chat row (rounded highlight, untitled chats in italics) and, above the first
    row of a date section, the section's heading; a labelled rename editor."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self._heading: tuple[str, int] | None = None  # (font key, the heading's line height)

    # -- geometry ------------------------------------------------------------------------

    def heading_height(self, index: _Index) -> int:
        """The height of the heading band above ``index`` (0 when no section starts there)."""
        model = index.model()
        if not isinstance(model, ConversationListModel) or not model.starts_section(index.row()):
            return 0
        gap = 4 if index.row() == 0 else HEADING_GAP
        return gap + self._heading_line() + 4

    def _heading_line(self) -> int:
        """The heading font's line height (kept: every row's size asks for it)."""
        font = self._view.font()
        if self._heading is None or self._heading[0] != font.key():
            self._heading = (font.key(), QFontMetrics(heading_font(font)).height())
        return self._heading[1]

    def row_rect(self, rect: QRect, index: _Index) -> QRect:
        """The part of an item's ``rect`` that is the chat's row (below any heading)."""
        return rect.adjusted(0, self.heading_height(index), 0, 0)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:  # noqa: N802
        size = super().sizeHint(option, index)
        height = QFontMetrics(option.font).height() + ROW_PADDING
        return QSize(size.width(), height + self.heading_height(index))

    # -- painting ------------------------------------------------------------------------

    def initStyleOption(self, option: QStyleOptionViewItem, index: _Index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        if not index.data(Qt.ItemDataRole.EditRole):
            option.font.setItalic(True)  # "New chat" is a placeholder, not a title

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        heading = self.heading_height(index)
        palette = option.palette
        if heading:
            self._paint_heading(painter, option, index, heading)
        row = option.rect.adjusted(0, heading, 0, 0)
        pill = row.adjusted(PILL_MARGIN, 1, -PILL_MARGIN, -1)
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        focused = bool(state & QStyle.StateFlag.State_HasFocus)
        behind = palette.color(QPalette.ColorRole.Window)
        accent = palette.color(QPalette.ColorRole.Highlight)
        text = palette.color(QPalette.ColorRole.Text)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        fill: QColor | None = None
        if selected:
            # A soft accent, the title in its usual colour: readable in both themes, and
            # calmer than Qt's solid highlight bar (LM Studio and Jan light the row the same).
            dark = behind.lightnessF() < 0.5
            fill = blend(behind, accent, 0.42 if dark else 0.2)
        elif hovered:
            fill = blend(behind, text, 0.07)
        if fill is not None:
            painter.setBrush(fill)
            painter.drawRoundedRect(pill, 6, 6)
        if focused and self._view.hasFocus():
            # The keyboard's place, also on a row not (yet) selected.
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(accent)
            painter.drawRoundedRect(pill.adjusted(0, 0, -1, -1), 6, 6)
        painter.restore()
        title = QStyleOptionViewItem(option)
        self.initStyleOption(title, index)
        title.rect = pill.adjusted(TEXT_INSET, 0, -TEXT_INSET, 0)
        title.state &= ~(
            QStyle.StateFlag.State_Selected
            | QStyle.StateFlag.State_MouseOver
            | QStyle.StateFlag.State_HasFocus
        )
        style = self._view.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, title, painter, self._view)

    def _paint_heading(
        self, painter: QPainter, option: QStyleOptionViewItem, index: _Index, height: int
    ) -> None:
        band = QRect(option.rect.left(), option.rect.top(), option.rect.width(), height)
        text_area = band.adjusted(PILL_MARGIN + TEXT_INSET, 0, -PILL_MARGIN, -4)
        font = heading_font(option.font)
        label = QFontMetrics(font).elidedText(
            str(index.data(ConversationListModel.SectionRole) or ""),
            Qt.TextElideMode.ElideRight,
            text_area.width(),
        )
        painter.save()
        painter.setFont(font)
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            text_area, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, label
        )
        painter.restore()

    # -- editing -------------------------------------------------------------------------

    def createEditor(  # noqa: N802
        self, parent: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> QWidget:
        editor = super().createEditor(parent, option, index)
        if isinstance(editor, QLineEdit):
            editor.setPlaceholderText("Chat title")
            editor.setAccessibleName("Chat title")
        return editor

    def updateEditorGeometry(  # noqa: N802
        self, editor: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> None:
        row = self.row_rect(option.rect, index)
        editor.setGeometry(row.adjusted(PILL_MARGIN, 1, -PILL_MARGIN, -1))


class ChatListView(QListView):
    """A list that says why it is empty, puts headings above date sections, and opens its
    context menu from the keyboard too.

    Signals:
        menu_requested(QModelIndex, QPoint): the row and the global position for its menu.
    """

    menu_requested = Signal(QModelIndex, QPoint)

    def __init__(self, model: ConversationListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._list = model
        self.setModel(model)
        self.rows = ChatRowDelegate(self)
        self.setItemDelegate(self.rows)
        # No box around the list, the sidebar's own background behind it, as in the
        # references: the rows' rounded highlight is the only shape.
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().setAutoFillBackground(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.setUniformItemSizes(False)  # a row with a heading above it is taller
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Which row starts a section changes with data too (a chat moves from "Yesterday"
        # to "Today" without moving): measure the rows again, once per burst of changes.
        model.dataChanged.connect(self.regroup)

    def regroup(self) -> None:
        """Measure every row again: a section started or ended (new data, a new day)."""
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def sections(self) -> list[tuple[str, QRect]]:
        """The date headings this list shows, top to bottom, each with its band's rectangle
        in viewport coordinates (also those scrolled out of view)."""
        found = []
        for row in range(self._list.rowCount()):
            index = self._list.index(row)
            height = self.rows.heading_height(index)
            if height:
                band = QRect(self.visualRect(index))
                band.setHeight(height)
                found.append((self._list.section(row), band))
        return found

    def empty_text(self) -> str:
        if self._list.rowCount() > 0:
            return ""
        return "No chats match" if self._list.query else "No chats yet"

    def indexAt(self, point: QPoint) -> QModelIndex:  # noqa: N802
        # A heading is no chat: a click there selects nothing, hovering it lights nothing.
        index = super().indexAt(point)
        if index.isValid() and point.y() < self.rows.row_rect(self.visualRect(index), index).top():
            return QModelIndex()
        return index

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        text = self.empty_text()
        if text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            area = self.viewport().rect().adjusted(8, 24, -8, -8)
            painter.drawText(area, Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, text)
            painter.end()

    def rowsAboutToBeRemoved(self, parent: _Index, start: int, end: int) -> None:  # noqa: N802
        # In single selection Qt would select the neighbour of a removed current row, and
        # the window would open a chat the user never picked (after a delete, or when a
        # search hides the open chat). Nothing selected is the honest state.
        current = self.currentIndex()
        if current.isValid() and current.parent() == parent and start <= current.row() <= end:
            self.selectionModel().clear()
        super().rowsAboutToBeRemoved(parent, start, end)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            index = self.currentIndex()
            where = self.rows.row_rect(self.visualRect(index), index).center()
        else:
            where = event.pos()
            index = self.indexAt(where)
        if index.isValid():
            self.menu_requested.emit(index, self.viewport().mapToGlobal(where))
            event.accept()
