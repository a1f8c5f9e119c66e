"""The sidebar's list of conversations: newest activity first, filtered by a search query.

The store is the source of truth; this model mirrors one query's result. Every change is
applied as the smallest set of row removals, moves and insertions (never a model reset), so
the view keeps its selection, current row, scroll position and any open rename editor while
replies arrive and the user searches.

Rows fall into date sections by their last activity ("Today", "Yesterday", "Previous 7
days", "Previous 30 days", then "November 2026"), as ChatGPT, LM Studio and Jan group their
chats. The sections are labels on the conversation rows (``SectionRole``, ``starts_section``),
not rows of their own: every row is a chat, so selection, keys, search and undo need not know
about them; the view draws a section's heading above its first row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractListModel,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from app.core.store import ChatStore, ConversationRow

UNTITLED = "New chat"

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def date_section(timestamp: float, today: date) -> str:
    """The sidebar section of a chat last active at ``timestamp`` (local time) on ``today``.

    English month names whatever the locale: the rest of the app is in English too. A time
    in the future (a clock set back since) counts as today.
    """
    day = datetime.fromtimestamp(timestamp).date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day >= today - timedelta(days=7):
        return "Previous 7 days"
    if day >= today - timedelta(days=30):
        return "Previous 30 days"
    return f"{MONTHS[day.month - 1]} {day.year}"


_Index = QModelIndex | QPersistentModelIndex


def _order_key(row: ConversationRow) -> tuple[float, int]:
    # The store's own order (updated_at DESC, id DESC), so refresh() and touch() agree.
    return (row.updated_at, row.id)


class ConversationListModel(QAbstractListModel):
    """Conversations, newest activity first, filtered by a search query. GUI thread only."""

    IdRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1
    UpdatedRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 2
    SectionRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 3

    def __init__(
        self,
        store: ChatStore,
        parent: QObject | None = None,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        """``today``: the date the sections count from (tests give a fixed one)."""
        super().__init__(parent)
        self.store = store
        self._today = today
        self._query = ""
        self._rows: list[ConversationRow] = []
        # Each row's section, worked out once per change of the rows (or of the day): the
        # list's delegate asks for every row's size and on every paint.
        self._sections: tuple[date, list[str]] | None = None
        for changed in (self.modelReset, self.rowsInserted, self.rowsRemoved, self.rowsMoved,
                        self.layoutChanged, self.dataChanged):  # fmt: skip
            changed.connect(self._forget_sections)
        self.refresh()

    # -- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.checkIndex(index, QAbstractListModel.CheckIndexOption.IndexIsValid):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.title or UNTITLED
        if role == Qt.ItemDataRole.EditRole:
            return row.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.title or UNTITLED}\nLast activity: {_when(row.updated_at)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return row.title or UNTITLED
        if role in (self.SectionRole, Qt.ItemDataRole.AccessibleDescriptionRole):
            return date_section(row.updated_at, self._today())
        if role == self.IdRole:
            return row.id
        if role == self.UpdatedRole:
            return row.updated_at
        return None

    def setData(  # noqa: N802
        self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        """Rename through the store; a blank title is refused so a slip never erases one."""
        if role != Qt.ItemDataRole.EditRole or not self.checkIndex(
            index, QAbstractListModel.CheckIndexOption.IndexIsValid
        ):
            return False
        title = " ".join(str(value).split())
        if not title:
            return False
        row = self._rows[index.row()]
        if title != row.title:
            self.store.rename(row.id, title)
            self._rows[index.row()] = replace(row, title=title)
            self.dataChanged.emit(index, index)
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    # -- what the sidebar and the chat window call -------------------------------------

    @property
    def query(self) -> str:
        return self._query

    def set_query(self, text: str) -> None:
        """Show only conversations whose title or message text contains ``text``."""
        text = text.strip()
        if text != self._query:
            self._query = text
            self.refresh()

    def refresh(self) -> None:
        """Reload from the store: one query, then a diff against what is shown."""
        self._apply(self.store.conversations(self._query))

    def row_of(self, cid: int) -> int:
        """The row showing conversation ``cid``, or -1 when it is not in the list."""
        for n, row in enumerate(self._rows):
            if row.id == cid:
                return n
        return -1

    def conversation_id(self, row: int) -> int:
        return self._rows[row].id

    def section(self, row: int) -> str:
        """The date section ``row`` belongs to ("Today", "Previous 7 days", "May 2026")."""
        return self._section_list()[row]

    def starts_section(self, row: int) -> bool:
        """Whether ``row`` is the first of its section (its heading goes above it)."""
        if not 0 <= row < len(self._rows):
            return False
        sections = self._section_list()
        return row == 0 or sections[row - 1] != sections[row]

    def _section_list(self) -> list[str]:
        today = self._today()
        if self._sections is None or self._sections[0] != today:
            self._sections = (today, [date_section(r.updated_at, today) for r in self._rows])
        return self._sections[1]

    def _forget_sections(self) -> None:
        self._sections = None

    def touch(self, cid: int, title: str | None = None) -> None:
        """Conversation ``cid`` got a message or a title: move it to its place and repaint.

        A new message makes it the most recent, so it goes to the top. A ``title`` that
        differs from the stored one is saved first (an automatic title is a rename); a blank
        one never erases a title, as in ``setData``.
        """
        stored = self.store.conversation(cid)
        if stored is None:
            return
        if title is not None and title.strip() and title != stored.title:
            self.store.rename(cid, title)
            stored = replace(stored, title=title)
        n = self.row_of(cid)
        if n < 0:
            # Not shown: it may be new, or may only now match the search. Let the store say.
            self.refresh()
            return
        self._rows.pop(n)
        target = self._insertion_row(stored)
        self._rows.insert(n, stored)
        if target != n:
            self._move(n, target)
        index = self.index(target)
        self.dataChanged.emit(index, index)

    def delete(self, cid: int) -> ConversationRow | None:
        """Hide ``cid`` (soft delete in the store) and drop its row; returns what was hidden."""
        n = self.row_of(cid)
        row = self._rows[n] if n >= 0 else self.store.conversation(cid)
        if row is None:
            return None
        self.store.delete(cid)
        if n >= 0:
            self.beginRemoveRows(QModelIndex(), n, n)
            del self._rows[n]
            self.endRemoveRows()
        return row

    def undelete(self, cid: int) -> None:
        """Bring a deleted conversation back, messages and all, in its old place."""
        self.store.undelete(cid)
        self.refresh()

    # -- diffing -----------------------------------------------------------------------

    def _insertion_row(self, row: ConversationRow) -> int:
        key = _order_key(row)
        for n, shown in enumerate(self._rows):
            if _order_key(shown) < key:
                return n
        return len(self._rows)

    def _move(self, source: int, target: int) -> None:
        """Move one row from ``source`` to end up at index ``target``."""
        # beginMoveRows wants the destination as "insert before this row" in the old layout.
        destination = target if target < source else target + 1
        if not self.beginMoveRows(QModelIndex(), source, source, QModelIndex(), destination):
            return
        self._rows.insert(target, self._rows.pop(source))
        self.endMoveRows()

    def _apply(self, new: list[ConversationRow]) -> None:
        wanted = {row.id for row in new}
        # 1. Remove rows that left, bottom-up in contiguous runs.
        n = len(self._rows) - 1
        while n >= 0:
            if self._rows[n].id in wanted:
                n -= 1
                continue
            last = n
            while n >= 0 and self._rows[n].id not in wanted:
                n -= 1
            self.beginRemoveRows(QModelIndex(), n + 1, last)
            del self._rows[n + 1 : last + 1]
            self.endRemoveRows()
        # 2. Walk the new order: keep, move up, or insert. Rows before i already match.
        present = {row.id for row in self._rows}
        for i, row in enumerate(new):
            shown = self._rows[i] if i < len(self._rows) else None
            if shown is not None and shown.id == row.id:
                if shown != row:
                    self._rows[i] = row
                    self.dataChanged.emit(self.index(i), self.index(i))
                continue
            if row.id in present:
                j = next(k for k in range(i + 1, len(self._rows)) if self._rows[k].id == row.id)
                self._move(j, i)
                if self._rows[i] != row:
                    self._rows[i] = row
                    self.dataChanged.emit(self.index(i), self.index(i))
            else:
                self.beginInsertRows(QModelIndex(), i, i)
                self._rows.insert(i, row)
                self.endInsertRows()


def _when(timestamp: float) -> str:
    moment = QDateTime.fromMSecsSinceEpoch(round(timestamp * 1000))
    return QLocale.system().toString(moment, QLocale.FormatType.ShortFormat)
