"""The conversation sidebar: new chat, search, the list, and delete with undo.

Deleting never asks "are you sure?": the conversation disappears at once and an undo bar
offers it back for a few seconds (the store only hides it; the app purges hidden rows at the
next start). Only a user's pick emits ``conversation_selected``: rows that move, vanish from
a search or are highlighted by the window never open a chat on their own. The list is grouped
by date ("Today", "Yesterday", ...), regrouped at midnight.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QModelIndex,
    QObject,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QIcon, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.viewmodels.conversation_list import UNTITLED, ConversationListModel
from app.gui.views.chat_list_view import ChatListView
from app.gui.views.icons import ThemedIcons
from app.gui.views.undo_bar import UNDO_TIMEOUT_MS, UndoBar

SEARCH_DELAY_MS = 150


class Sidebar(QWidget):
    """New chat button, search field and conversation list, with undoable delete.

    Window-wide shortcuts (Ctrl+N for ``new_requested``, Ctrl+F for ``focus_search``) belong
    to the window: two shortcuts on one key would cancel each other. The sidebar's own keys
    only act while it has focus: Delete (list), F2 (rename), Ctrl+Z (undo a delete), Escape
    (clear the search) and Down (from the search into the list).

    Signals:
        conversation_selected(int): the user picked a conversation (id).
        new_requested(): the "New chat" button was pressed.
        conversation_deleted(int): a conversation was deleted (the window clears it if open).
        conversation_restored(int): Undo brought a deleted conversation back.
        export_requested(int): "Export…" from a conversation's context menu.
    """

    conversation_selected = Signal(int)
    new_requested = Signal()
    conversation_deleted = Signal(int)
    conversation_restored = Signal(int)
    export_requested = Signal(int)

    def __init__(
        self,
        model: ConversationListModel,
        parent: QWidget | None = None,
        *,
        undo_timeout_ms: int = UNDO_TIMEOUT_MS,
        search_delay_ms: int = SEARCH_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Conversations")
        self.model = model
        self._quiet = False  # set while the code, not the user, changes the selection
        self._highlighted: int | None = None  # the conversation the window shows
        self._pending_undo: int | None = None

        self.new_button = QPushButton("New chat", self)
        self.new_button.setAccessibleName("New chat")
        self.new_button.clicked.connect(self.new_requested)
        self.icons = ThemedIcons(self)
        self.icons.add(self.new_button, "new_chat")

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search chats")
        self.search.setAccessibleName("Search chats")
        self.search.setClearButtonEnabled(True)
        magnifier = self.search.addAction(QIcon(), QLineEdit.ActionPosition.LeadingPosition)
        self.hint_icons = ThemedIcons(self, QPalette.ColorRole.PlaceholderText)
        self.hint_icons.add(magnifier, "search")
        magnifier.setText("Search chats")
        magnifier.triggered.connect(self.focus_search)
        for button in self.search.findChildren(QToolButton):
            if button.defaultAction() is magnifier:  # the icon's own button, to screen readers
                button.setAccessibleName("Search chats")
        self.search.installEventFilter(self)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(search_delay_ms)
        self._search_timer.timeout.connect(self._on_search_settled)
        self.search.textChanged.connect(self._search_timer.start)

        self.list_view = ChatListView(model, self)
        self.list_view.setAccessibleName("Chats")
        self.list_view.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.list_view.menu_requested.connect(self._on_menu_requested)
        self.list_view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._on_rows_changed)
        # At midnight "Today" becomes "Yesterday": the headings follow the calendar.
        self._day_timer = QTimer(self)
        self._day_timer.setSingleShot(True)
        self._day_timer.timeout.connect(self._on_new_day)
        self._on_new_day()

        self.undo_bar = UndoBar(undo_timeout_ms, self)
        self.undo_bar.undo_requested.connect(self.undo)
        self.undo_bar.expired.connect(self._on_undo_expired)

        # The buttons, the field and the rows' highlight share one left and right edge.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addSpacing(4)
        layout.addWidget(self.list_view, 1)
        layout.addWidget(self.undo_bar)
        self.setTabOrder(self.new_button, self.search)
        self.setTabOrder(self.search, self.list_view)
        self.setTabOrder(self.list_view, self.undo_bar.undo_button)
        self._size_controls()

        self.undo_action = _action(
            self, "Undo delete", [QKeySequence(QKeySequence.StandardKey.Undo)], self.undo
        )
        self.undo_action.setEnabled(False)
        delete_keys = [QKeySequence(QKeySequence.StandardKey.Delete)]
        if sys.platform == "darwin":
            delete_keys.append(QKeySequence("Ctrl+Backspace"))  # Cmd+Backspace, as in Finder
        # Only while the list itself has focus: Delete in the search field edits text.
        self.delete_action = _action(self.list_view, "Delete", delete_keys, self.delete_selected)
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.new_button.setToolTip(f"Start a new chat ({_native('Ctrl+N')})")
        self.search.setToolTip(f"Search titles and messages ({_native('Ctrl+F')})")
        self._on_rows_changed()

    # -- what the window calls ---------------------------------------------------------

    def select(self, cid: int) -> None:
        """Highlight ``cid`` (the chat the window shows) without emitting a selection.

        0 or -1 (a new chat, not saved yet) clears the highlight, so a click on the previous
        conversation opens it again. An id the list does not show yet (hidden by the search,
        or not touched yet) is highlighted as soon as its row appears.
        """
        row = self.model.row_of(cid)
        self._highlighted = cid if cid > 0 else None
        selection = self.list_view.selectionModel()
        self._quiet = True
        try:
            if row < 0:
                selection.clearSelection()
                return
            index = self.model.index(row)
            selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
            self.list_view.scrollTo(index)
        finally:
            self._quiet = False

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def delete_selected(self) -> None:
        """Delete the highlighted conversation; with none highlighted, nothing happens."""
        rows = self.list_view.selectionModel().selectedRows()
        if rows:
            self.delete(self.model.conversation_id(rows[0].row()))

    def delete(self, cid: int) -> None:
        """Delete ``cid`` now and offer to undo it until the bar times out."""
        row = self.model.delete(cid)
        if row is None:
            return
        if self._highlighted == cid:
            self._highlighted = None
        self._pending_undo = cid
        self.undo_action.setEnabled(True)
        self.undo_bar.show_deleted(row.title or UNTITLED)
        self.conversation_deleted.emit(cid)

    def undo(self) -> None:
        """Bring back the last deleted conversation and highlight it."""
        cid = self._pending_undo
        if cid is None:
            return
        self._pending_undo = None
        self.undo_action.setEnabled(False)
        self.undo_bar.dismiss()
        self.model.undelete(cid)
        self.select(cid)
        self.list_view.setFocus(Qt.FocusReason.OtherFocusReason)
        self.conversation_restored.emit(cid)

    def rename(self, cid: int) -> None:
        """Open the inline title editor on ``cid``."""
        row = self.model.row_of(cid)
        if row >= 0:
            index = self.model.index(row)
            self.list_view.scrollTo(index)
            self.list_view.edit(index)

    def context_menu(self, cid: int) -> QMenu:
        """The menu a right-click on ``cid`` shows: Rename, Export…, Delete."""
        menu = QMenu(self)
        menu.setAccessibleName("Chat actions")
        menu.addAction("Rename").triggered.connect(lambda: self.rename(cid))
        menu.addAction("Export…").triggered.connect(lambda: self.export_requested.emit(cid))
        menu.addSeparator()
        menu.addAction("Delete").triggered.connect(lambda: self.delete(cid))
        return menu

    # -- slots -------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.undo_bar.restyle()  # the user switched between light and dark
        if event.type() == QEvent.Type.FontChange:
            self._size_controls()

    def _size_controls(self) -> None:
        # As tall as a list row, whatever the font size: targets the size of LM Studio's.
        height = self.fontMetrics().height() + 14
        self.new_button.setMinimumHeight(height)
        self.search.setMinimumHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """In the search field, Escape clears it and Down moves into the list."""
        if watched is self.search and isinstance(event, QKeyEvent):
            key = event.key()
            if key == Qt.Key.Key_Escape and self.search.text():
                # Claim Escape before window shortcuts (such as "stop generating") see it.
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()
                    return True
                if event.type() == QEvent.Type.KeyPress:
                    self.search.clear()
                    return True
            if key == Qt.Key.Key_Down and event.type() == QEvent.Type.KeyPress:
                self._enter_list()
                return True
        return super().eventFilter(watched, event)

    def _enter_list(self) -> None:
        self.list_view.setFocus(Qt.FocusReason.TabFocusReason)
        if not self.list_view.currentIndex().isValid() and self.model.rowCount() > 0:
            self.list_view.selectionModel().setCurrentIndex(
                self.model.index(0), self.list_view.selectionModel().SelectionFlag.NoUpdate
            )

    def _on_search_settled(self) -> None:
        self.model.set_query(self.search.text())
        self._on_rows_changed()  # the empty-state text depends on the query too
        self.list_view.viewport().update()

    def _on_selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        if self._quiet:
            return
        for index in selected.indexes():
            cid = self.model.conversation_id(index.row())
            self._highlighted = cid
            self.conversation_selected.emit(cid)
            return

    def _on_rows_changed(self) -> None:
        self.list_view.setAccessibleDescription(self.list_view.empty_text())
        # The open chat left the list during a search and is back: highlight it again.
        cid = self._highlighted
        if (
            cid is not None
            and self.model.row_of(cid) >= 0
            and not self.list_view.selectionModel().hasSelection()
        ):
            self.select(cid)

    def _on_menu_requested(self, index: QModelIndex, where: QPoint) -> None:
        menu = self.context_menu(self.model.conversation_id(index.row()))
        menu.exec(where)
        menu.deleteLater()  # one menu per right-click; do not let them pile up

    def _on_new_day(self) -> None:
        self.list_view.regroup()
        now = datetime.now()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
        self._day_timer.start(int((midnight - now).total_seconds() * 1000) + 1000)

    def _on_undo_expired(self) -> None:
        self._pending_undo = None
        self.undo_action.setEnabled(False)


def _action(
    owner: QWidget, text: str, keys: list[QKeySequence], slot: Callable[[], object]
) -> QAction:
    action = QAction(text, owner)
    action.setShortcuts(keys)
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.triggered.connect(slot)
    owner.addAction(action)
    return action


def _native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
