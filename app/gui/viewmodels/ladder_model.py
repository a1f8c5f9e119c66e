"""The verdict ladder: every catalog model (1.5B to 671B) planned for this machine.

Probing the machine (and, once per machine, measuring its memory bandwidth) and planning
eight models takes from a few milliseconds to a second, so ``LadderModel.refresh`` does it
on Qt's thread pool and swaps the rows in on the GUI thread when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from app.core.model_names import ShortNames, short_names
from app.core.units import format_bytes
from app.gui.style import mix
from app.gui.workers.background import BackgroundJobs
from app.hardware.calibration import Calibration, Measurement
from app.hardware.planner import FitPlan, plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import default_quant, load_catalog, shape_from_catalog
from app.hardware.speed import format_rate
from app.inference.system import machine_snapshot
from app.modelhub.catalog import CatalogQuant
from app.modelhub.catalog import load_catalog as load_typed_catalog

USABLE_TOK_S = 5.0  # below this a reasoning model's thousands of tokens take too long
RECOMMENDED = "Recommended"
# The model column shows what tells the models apart ("Distill Qwen 7B": family and size),
# its heading the start they share ("DeepSeek-R1 model"), the tooltip the full name.
COLUMNS = ("Model", "Quant", "Download", "Verdict", "Speed", "Memory needed")
NAME, QUANT, DOWNLOAD, VERDICT, SPEED, MEMORY = range(len(COLUMNS))
_VERDICT_WORDS = {"gpu": "Fits on GPU", "cpu": "CPU only", "too_large": "Too large"}

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class LadderRow:
    """One catalog model at its default quantization, and its plan on this machine."""

    id: str
    name: str
    size_label: str
    quant: str
    parameters: int
    download_bytes: int
    download_exact: bool
    plan: FitPlan

    @property
    def verdict_text(self) -> str:
        p = self.plan
        if p.verdict == "partial":
            text = f"Partial offload {p.n_gpu_layers}/{p.n_layers + 1} layers"
        else:
            text = _VERDICT_WORDS[p.verdict]
        if p.verdict != "too_large" and p.n_ctx < p.wanted_ctx:
            text += f" (context {p.n_ctx:,})"
        return text

    @property
    def speed_text(self) -> str:
        if self.plan.verdict == "too_large":
            return "—"
        if self.plan.measurement is not None:
            return f"{format_rate(self.plan.measurement.tok_s)} measured"
        return str(self.plan.speed) if self.plan.speed else "unknown"

    @property
    def expected_tok_s(self) -> float | None:
        """What a user will see: the rate `ponder bench` measured here, else the middle of
        the predicted range."""
        if self.plan.measured is not None:
            return self.plan.measured
        return self.plan.speed.mid if self.plan.speed is not None else None

    @property
    def memory_text(self) -> str:
        m = self.plan.memory
        if self.plan.verdict == "too_large":
            return format_bytes(m.ram + m.vram)
        if m.vram:
            return f"VRAM {format_bytes(m.vram)} + RAM {format_bytes(m.ram)}"
        return f"RAM {format_bytes(m.ram)}"

    @property
    def download_text(self) -> str:
        return ("" if self.download_exact else "~") + format_bytes(self.download_bytes)


def _download_size(quant: CatalogQuant, parameters: int) -> tuple[int, bool]:
    """The bytes to download, and whether that figure is exact (not a listing or estimate)."""
    exact = (
        quant.size_source == "exact" if quant.size_bytes else all(f.size_bytes for f in quant.files)
    )
    return quant.best_size(parameters), exact


def build_ladder(hw: HardwareSnapshot, calibration: Calibration | None = None) -> list[LadderRow]:
    """Every catalog model at its default quantization, planned for ``hw`` (no Qt)."""
    rows = []
    catalog = load_typed_catalog()
    # Read once for the eight plans, not once per plan.
    calibration = calibration if calibration is not None else Calibration.load()
    for entry in load_catalog()["models"]:
        quant = default_quant(entry)
        size, exact = _download_size(
            catalog.get(entry["id"]).quant(quant), int(entry["parameters"])
        )
        rows.append(
            LadderRow(
                id=entry["id"],
                name=entry["name"],
                size_label=entry["size_label"],
                quant=quant,
                parameters=int(entry["parameters"]),
                download_bytes=size,
                download_exact=exact,
                plan=plan(shape_from_catalog(entry, quant), hw, calibration=calibration),
            )
        )
    return rows


def recommend(rows: list[LadderRow], floor_tok_s: float = USABLE_TOK_S) -> int | None:
    """The row to recommend, or None when nothing fits.

    Rule: the largest model (by parameters) that runs entirely on one device, "Fits on GPU"
    or "CPU only", and decodes at ``floor_tok_s`` or faster: measured here by `ponder bench`,
    else the middle of the predicted range (an unknown speed does not count as fast
    enough). If none is that fast, the smallest model that fits at all, partial offload
    included: slow beats none.
    """
    usable = [
        i
        for i, r in enumerate(rows)
        if r.plan.verdict in ("gpu", "cpu") and (r.expected_tok_s or 0.0) >= floor_tok_s
    ]
    if usable:
        return max(usable, key=lambda i: rows[i].parameters)
    fits = [i for i, r in enumerate(rows) if r.plan.verdict != "too_large"]
    return min(fits, key=lambda i: rows[i].parameters) if fits else None


class _Ladder(NamedTuple):
    """What a refresh found: the machine, its ladder, the speeds measured on it."""

    hardware: HardwareSnapshot
    rows: list[LadderRow]
    measurements: list[Measurement]


class LadderModel(QAbstractTableModel):
    """The ladder as a table, one row per catalog model. GUI thread only.

    Signals:
        ready(object): the rows arrived; carries the ``HardwareSnapshot`` they were planned
            for (the panel shows it as the machine summary).
        failed(str): the machine could not be probed or the catalog read; one sentence.
    """

    ready = Signal(object)
    failed = Signal(str)

    RecommendedRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1
    VerdictRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 2
    IdRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 3

    def __init__(
        self,
        parent: QObject | None = None,
        snapshot: Callable[[], HardwareSnapshot] = machine_snapshot,
    ) -> None:
        super().__init__(parent)
        self._snapshot = snapshot
        self._rows: list[LadderRow] = []
        self._names = ShortNames("", ())
        self._recommended: int | None = None
        self.hardware: HardwareSnapshot | None = None
        self.measurements: list[Measurement] = []  # the speeds benchmarks measured here
        self.loading = False
        self._plan_again = False
        self._jobs = BackgroundJobs(self)

    # -- loading --------------------------------------------------------------------

    def refresh(self) -> None:
        """Probe and plan again off the GUI thread (``ready`` or ``failed`` follows)."""
        if self.loading:
            return
        self.loading = True
        snapshot = self._snapshot

        def work() -> _Ladder:
            hw = snapshot()
            calibration = Calibration.load()
            return _Ladder(hw, build_ladder(hw, calibration), calibration.on_machine(hw))

        self._jobs.run(work, self._on_done, self._on_failed, what="Computing the model ladder")

    def reset_measurements(self) -> None:
        """Forget the speeds benchmarks measured (Compare, `ponder bench`) and plan again
        from the predictions (``ready`` follows).

        Raises:
            AppError: the stored measurements could not be removed.
        """
        Calibration.load().reset()
        # A plan already under way may have read the measurements before they went.
        self._plan_again = self.loading
        self.refresh()

    def _on_done(self, ladder: _Ladder) -> None:
        hw, rows, measurements = ladder
        self.loading = False
        if self._plan_again:  # planned with measurements that are gone since
            self._plan_again = False
            self.refresh()
            return
        self.beginResetModel()
        self.hardware, self._rows, self._recommended = hw, rows, recommend(rows)
        self._names = short_names([r.name for r in rows])
        self.measurements = measurements
        self.endResetModel()
        self.ready.emit(hw)

    def _on_failed(self, message: str) -> None:
        self.loading = False
        self._plan_again = False
        self.failed.emit(message)

    # -- queries --------------------------------------------------------------------

    @property
    def recommended_row(self) -> int | None:
        return self._recommended

    def row_at(self, row: int) -> LadderRow:
        return self._rows[row]

    def short_name(self, row: int) -> str:
        """The row's name without the start every row shares ("Distill Qwen 7B")."""
        return self._names.names[row]

    # -- Qt model interface ---------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return self._names.heading(COLUMNS[NAME]) if section == NAME else COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.checkIndex(index, QAbstractTableModel.CheckIndexOption.IndexIsValid):
            return None
        r = self._rows[index.row()]
        is_pick = index.row() == self._recommended
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == NAME:
                return self._names.names[index.row()]
            return self._cell(r, index.column(), is_pick)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            if index.column() == NAME:  # a screen reader says the whole name
                return r.name + (f", {RECOMMENDED.lower()}" if is_pick else "")
            return self._cell(r, index.column(), is_pick)
        if role == Qt.ItemDataRole.ToolTipRole:
            note = f"\n{RECOMMENDED} for this machine." if is_pick else ""
            return f"{r.name} {r.quant}: {r.plan.summary}{note}"
        if role == Qt.ItemDataRole.FontRole and is_pick:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and is_pick:
            pal = QApplication.palette()
            return QColor(
                mix(
                    pal.color(QPalette.ColorRole.Base),
                    pal.color(QPalette.ColorRole.Highlight),
                    0.22,
                )
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (DOWNLOAD, SPEED):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.RecommendedRole:
            return is_pick
        if role == self.VerdictRole:
            return r.plan.verdict
        if role == self.IdRole:
            return r.id
        return None

    @staticmethod
    def _cell(r: LadderRow, column: int, is_pick: bool) -> str:
        if column == NAME:
            return r.name
        if column == QUANT:
            return r.quant
        if column == DOWNLOAD:
            return r.download_text
        if column == VERDICT:
            return f"{r.verdict_text} · {RECOMMENDED}" if is_pick else r.verdict_text
        if column == SPEED:
            return r.speed_text
        return r.memory_text
