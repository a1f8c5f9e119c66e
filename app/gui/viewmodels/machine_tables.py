"""The Machines window's tables: the workers with what each offers, and every catalog
size with its verdict across them."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from app.core.model_names import ShortNames, short_names
from app.core.units import format_bytes
from app.gui.theme import verdict_dot
from app.gui.workers.machine_jobs import PooledRow, Protocol
from app.hardware.workers import WorkerInfo

_Index = QModelIndex | QPersistentModelIndex


class WorkerTableModel(QAbstractTableModel):
    """The workers added, one row each, with what the last probe found."""

    COLUMNS = ("Worker", "Status", "Memory offered", "llama.cpp", "Round trip")
    AddressRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.addresses: tuple[str, ...] = ()
        self.infos: dict[str, WorkerInfo] = {}
        self.expected: Protocol = None

    def show(self, addresses: tuple[str, ...], infos: dict[str, WorkerInfo]) -> None:
        self.beginResetModel()
        self.addresses, self.infos = addresses, infos
        self.endResetModel()

    def status_text(self, address: str) -> str:
        w = self.infos.get(address)
        if w is None:
            return "Asking…"
        return "Reachable" if w.reachable else w.problem[:1].upper() + w.problem[1:]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.addresses)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.checkIndex(index, QAbstractTableModel.CheckIndexOption.IndexIsValid):
            return None
        address = self.addresses[index.row()]
        w, col = self.infos.get(address), index.column()
        if role == self.AddressRole:
            return address
        if role == Qt.ItemDataRole.DecorationRole and col == 1 and w is not None:
            usable = w.compatible(self.expected)
            return verdict_dot("gpu" if usable else "partial" if w.reachable else "too_large")
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if col == 0:
            return address
        if col == 1:
            return self.status_text(address)
        if w is None or not w.reachable:
            return ""
        if col == 2:
            text = f"{format_bytes(w.free_bytes)} free of {format_bytes(w.total_bytes)}"
            if w.offered_bytes is not None:
                text += f", lends {format_bytes(w.offered_bytes)}"
            return text
        if col == 3:
            if w.compatible(self.expected):
                return "Same build"
            version = ".".join(map(str, w.protocol or ()))
            return f"Another build (RPC {version}): update Ponder there"
        return f"{1000 * w.round_trip_s:.2f} ms" if w.round_trip_s is not None else ""


class PooledLadderModel(QAbstractTableModel):
    """Every catalog size with its verdict across the workers. The Model column shows what
    tells the models apart ("Distill Qwen 7B"), its heading the start they share
    ("DeepSeek-R1 model"); the full name is the tooltip and what a screen reader says."""

    COLUMNS = ("Model", "Size", "Quant", "Across these machines")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[PooledRow] = []
        self._names = ShortNames("", ())

    def show(self, rows: list[PooledRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._names = short_names([r.name for r in rows])
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._names.heading(self.COLUMNS[0]) if section == 0 else self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.checkIndex(index, QAbstractTableModel.CheckIndexOption.IndexIsValid):
            return None
        r, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole and col == 0:
            return self._names.names[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return (r.name, r.size_label, r.quant, r.plan.summary)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            here = format_bytes(r.plan.main_ram)
            lines = [
                f"{r.name} {r.quant}: {r.plan.summary}",
                *r.plan.split_lines(),
                f"This computer: {here} (embeddings, compute buffer, reserve)",
            ]
            return "\n".join(lines)
        if role == Qt.ItemDataRole.DecorationRole and col == 3:
            return verdict_dot("gpu" if r.plan.fits else "too_large")
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
