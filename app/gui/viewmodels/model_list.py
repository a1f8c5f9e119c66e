"""One table of models for the model manager: what is on disk and what can be downloaded.

Installed rows (Ponder's folder, the Hugging Face cache, LM Studio, Ollama, ... as found
by ``discovery``) and Available rows (each catalog model x quant) live in one model, so a
download that finishes changes one row's status and adds one installed row without the
two views disagreeing; two ``ModelFilter`` proxies show them as separate lists. Every
change is the smallest set of row insertions, removals and ``dataChanged`` (never a reset),
so selection and scroll position survive rescans and progress updates. GUI thread only:
workers report through signals and the dialog applies their results here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from app.core.model_names import short_names
from app.core.units import format_bytes
from app.gui.theme import verdict_dot
from app.gui.viewmodels.model_rows import OPENED, ModelRow, RowKind, RowState
from app.modelhub.catalog import Catalog
from app.modelhub.discovery import FoundModel
from app.modelhub.progress import Progress

_Index = QModelIndex | QPersistentModelIndex


class ModelListModel(QAbstractTableModel):
    """Installed and available models in one table; GUI thread only.

    Rows: the catalog's (model x quant) first, then what discovery found. The custom roles
    let views and proxies read a row without parsing display text.
    """

    # "From": the app or folder an installed file is in, the publisher of one to download.
    COLUMNS: ClassVar[tuple[str, ...]] = ("Name", "Quant", "Size", "From", "Fit", "Status")
    NAME, QUANT, SIZE, WHERE, FIT, STATUS = range(6)

    KeyRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1
    KindRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 2
    StateRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 3
    ProgressRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 4  # 0..1, or None
    SortRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 5
    SearchRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 6
    PathRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 7

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ModelRow] = []
        # The start every catalog name shares ("DeepSeek-R1"), the Available tab's heading.
        self.catalog_prefix = ""

    # -- reading ---------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt API)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(  # noqa: N802 (Qt API)
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == Qt.ItemDataRole.DecorationRole and col == self.FIT and row.verdict:
            # A coloured dot, as in the toolbar: coloured text would look like a link.
            return verdict_dot(row.verdict)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self._custom(row, col, role)

    def _custom(self, row: ModelRow, col: int, role: int) -> Any:
        if role == self.KeyRole:
            return row.key
        if role == self.KindRole:
            return row.kind.value
        if role == self.StateRole:
            return row.state.value
        if role == self.ProgressRole:
            return row.fraction
        if role == self.PathRole:
            return str(row.path) if row.path else None
        if role == self.SearchRole:
            return f"{row.name} {row.quant} {row.where} {row.repo_id}".lower()
        if role == self.SortRole:
            if col == self.SIZE:
                return row.size_bytes
            if col == self.NAME:  # the catalog's ladder order, 1.5B before 14B
                return f"{row.order:05d} {row.name.lower()}"
            return self._display(row, col).lower()
        return None

    def _display(self, row: ModelRow, col: int) -> str:
        if col == self.NAME:
            return row.short_name or row.name
        if col == self.QUANT:
            return row.quant or "?"
        if col == self.SIZE:
            return format_bytes(row.size_bytes) if row.size_bytes else "?"
        if col == self.WHERE:
            return row.where
        if col == self.FIT:
            if row.fit:
                return row.fit
            return "" if row.state is RowState.UNUSABLE else "…"
        return row.status_text()

    def _tooltip(self, row: ModelRow, col: int) -> str:
        if col == self.WHERE and row.path is not None:
            return "\n".join([str(row.path), *row.also_at])
        if col == self.WHERE and row.repo_id:
            return f"huggingface.co/{row.repo_id}"
        if col == self.NAME:
            name = f"{row.name} {row.quant}" if row.kind is RowKind.AVAILABLE else row.name
            return f"{name}\nLicence: {row.licence}" if row.licence else name
        if col == self.FIT:
            return row.fit or "Working out whether it fits this machine…"
        if col == self.STATUS:
            return row.status_text()
        return self._display(row, col)

    def row_at(self, row: int) -> ModelRow:
        return self._rows[row]

    def find(self, key: str) -> int:
        """The row holding ``key``, or -1."""
        for i, r in enumerate(self._rows):
            if r.key == key:
                return i
        return -1

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    # -- changing (GUI thread) --------------------------------------------------------------

    def set_catalog(self, catalog: Catalog) -> None:
        """Add a row per catalog model x quant (once; later calls are ignored)."""
        if any(r.kind is RowKind.AVAILABLE for r in self._rows):
            return
        names = short_names([m.name for m in catalog.models])
        self.catalog_prefix = names.prefix
        short = dict(zip((m.id for m in catalog.models), names.names, strict=True))
        new = [
            ModelRow(
                key=f"{m.id}/{q.name}",
                kind=RowKind.AVAILABLE,
                name=m.name,
                short_name=short[m.id],
                quant=q.name,
                size_bytes=q.best_size(m.parameters),
                where=q.repo_id.split("/")[0],
                repo_id=q.repo_id,
                order=order,
                state=RowState.NOT_DOWNLOADED,
                catalog_id=m.id,
                file_name=q.first_file.name,
                licence=m.license,
            )
            for order, (m, q) in enumerate((m, q) for m in catalog.models for q in m.quants)
        ]
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self._rows[0:0] = new
        self.endInsertRows()
        self._mark_on_disk()

    def set_installed(self, models: list[FoundModel], removable: set[str]) -> None:
        """Mirror a discovery scan: rows gone from disk are removed, new ones appended,
        kept ones keep their validation and fit. ``removable``: paths Ponder may delete. A
        model listed only for being in use (``set_in_use``) stays."""
        wanted = {str(m.path): m for m in models}

        def vanished(row: ModelRow) -> bool:
            return row.kind is RowKind.INSTALLED and not row.opened and row.key not in wanted

        i = len(self._rows) - 1
        while i >= 0:  # remove runs of vanished rows from the bottom up
            if vanished(self._rows[i]):
                end = i
                while i - 1 >= 0 and vanished(self._rows[i - 1]):
                    i -= 1
                self.beginRemoveRows(QModelIndex(), i, end)
                del self._rows[i : end + 1]
                self.endRemoveRows()
            i -= 1
        have = {r.key for r in self._rows if r.kind is RowKind.INSTALLED}
        for key, m in wanted.items():
            if key in have:
                # A part that appeared (or vanished) since: Delete must see today's files.
                found = _installed_row(m, key in removable)
                kept = {"state": found.state, "problem": found.problem} if m.problem else {}
                self._update(
                    key,
                    removable=found.removable,
                    size_bytes=found.size_bytes,
                    files=found.files,
                    also_at=found.also_at,
                    where=found.where,
                    opened=False,  # found where it lives now: listed as any other
                    **kept,
                )
        new = [
            _installed_row(m, str(m.path) in removable) for m in models if str(m.path) not in have
        ]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows += new
            self.endInsertRows()
        self._mark_on_disk()

    def set_in_use(self, path: str | None, opened: FoundModel | None = None) -> None:
        """Mark the chat's model (None: no model). One that no scan lists, a file opened
        by its path, is listed from ``opened``, its From saying so; the row an earlier
        model in use had for that reason goes."""
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].opened and self._rows[i].key != path:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        for r in self._rows:
            if r.kind is RowKind.INSTALLED:
                self._update(r.key, in_use=r.key == path)
        if path is not None and self.find(path) < 0 and opened is not None:
            row = _installed_row(opened, removable=False)
            row.where, row.opened, row.in_use = OPENED, True, True
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
            self._rows.append(row)
            self.endInsertRows()
            self._mark_on_disk()

    def set_checked(self, key: str, problem: str | None, quant: str | None) -> None:
        """An installed file's header was read: usable, or why not."""
        row = self._get(key)
        if row is None:
            return
        self._update(
            key,
            state=RowState.UNUSABLE if problem else RowState.READY,
            problem=problem,
            quant=quant or row.quant,
        )
        self._mark_on_disk()  # an unusable copy does not count as the model being here

    def set_fit(self, key: str, summary: str | None, verdict: str | None) -> None:
        if self._get(key) is not None:
            self._update(key, fit=summary or "Fit unknown for this architecture", verdict=verdict)

    def set_download(
        self,
        key: str,
        state: RowState,
        *,
        progress: Progress | None = None,
        error: str | None = None,
    ) -> None:
        """A download's state for an available row (progress kept when not given)."""
        row = self._get(key)
        if row is None:
            return
        if state is RowState.NOT_DOWNLOADED and row.where_found:
            state = RowState.ON_DISK
        self._update(
            key, state=state, progress=progress or row.progress, error=error if error else None
        )

    def _get(self, key: str) -> ModelRow | None:
        i = self.find(key)
        return self._rows[i] if i >= 0 else None

    def _update(self, key: str, **changes: Any) -> None:
        i = self.find(key)
        if i < 0:
            return
        row = self._rows[i]
        if all(getattr(row, k) == v for k, v in changes.items()):
            return
        for k, v in changes.items():
            setattr(row, k, v)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))

    def _mark_on_disk(self) -> None:
        """Available rows say when a copy of their file is on disk (any app's)."""
        by_name: dict[str, ModelRow] = {}
        for r in self._rows:
            # Another app's copy counts only if it loads (a half-finished LM Studio file
            # must not block Ponder's download); Ponder's own is the download's target.
            if (
                r.kind is RowKind.INSTALLED
                and r.path is not None
                and (r.removable or not r.problem)
            ):
                by_name.setdefault(r.path.name.lower(), r)
        for r in self._rows:
            if r.kind is not RowKind.AVAILABLE or r.file_name is None:
                continue
            found = by_name.get(r.file_name.lower())
            where = found.where if found else ""
            state = r.state
            if state in (RowState.NOT_DOWNLOADED, RowState.ON_DISK):
                state = RowState.ON_DISK if found else RowState.NOT_DOWNLOADED
            self._update(r.key, where_found=where, state=state)


def _installed_row(m: FoundModel, removable: bool) -> ModelRow:
    return ModelRow(
        key=str(m.path),
        kind=RowKind.INSTALLED,
        name=m.name,
        quant=m.quantization,
        size_bytes=m.size_bytes,
        where=m.source.label,
        state=RowState.UNUSABLE if m.problem else RowState.CHECKING,
        path=m.path,
        files=m.files,
        removable=removable,
        problem=m.problem,
        also_at=tuple(f"Also at {a.path} ({a.source.label})" for a in m.also_at),
    )


class ModelFilter(QSortFilterProxyModel):
    """One kind of row (installed or available) matching every word of the search text.
    The Available tab's Name heading says the start every catalog name shares, once."""

    def __init__(self, kind: RowKind, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._kind = kind
        self._words: list[str] = []
        self.setSortRole(ModelListModel.SortRole)
        self.setDynamicSortFilter(True)

    def set_search(self, text: str) -> None:
        words = text.lower().split()
        if words != self._words:
            self.beginFilterChange()
            self._words = words
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def headerData(  # noqa: N802 (Qt API)
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        model = self.sourceModel()
        if (
            self._kind is RowKind.AVAILABLE
            and isinstance(model, ModelListModel)
            and model.catalog_prefix
            and orientation == Qt.Orientation.Horizontal
            and section == ModelListModel.NAME
            and role == Qt.ItemDataRole.DisplayRole
        ):
            return f"{model.catalog_prefix} model"
        return super().headerData(section, orientation, role)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        if model.data(index, ModelListModel.KindRole) != self._kind.value:
            return False
        text = str(model.data(index, ModelListModel.SearchRole) or "")
        return all(w in text for w in self._words)
