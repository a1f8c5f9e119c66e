"""The hardware panel: this machine, its live load, which R1 sizes it can run, and where
the measured speeds come from (with a button to forget them).

``LadderTable`` (the verdict ladder with the recommended model highlighted) is a widget of
its own so the first-run welcome page can show the same table without the rest.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.units import format_bytes
from app.gui.viewmodels.ladder_model import MEMORY, VERDICT, LadderModel
from app.gui.views.sparkline import Sparkline
from app.gui.workers.monitor_worker import MonitorWorker
from app.hardware.calibration import Measurement, local_date
from app.hardware.monitor import MonitorSample
from app.hardware.probe import HardwareSnapshot


def machine_lines(hw: HardwareSnapshot) -> list[str]:
    """The machine as a few short lines: CPU, RAM, each GPU, llama.cpp's backend, disk."""
    flags = f"; {' '.join(hw.cpu_flags)}" if hw.cpu_flags else ""
    lines = [
        f"CPU: {hw.cpu_model} ({hw.physical_cores} cores, {hw.logical_cores} threads{flags})",
        f"RAM: {format_bytes(hw.ram_available)} free of {format_bytes(hw.ram_total)}"
        + (f", ~{hw.cpu_bandwidth / 1e9:.0f} GB/s measured" if hw.cpu_bandwidth else ""),
    ]
    for g in hw.gpus:
        unified = " (shared with RAM)" if g.unified else ""
        lines.append(
            f"GPU: {g.name}, {format_bytes(g.vram_free)} free of "
            f"{format_bytes(g.vram_total)}{unified}"
        )
    if not hw.gpus:
        lines.append("GPU: none found")
    lines.append(f"llama.cpp backend: {hw.backend}")
    lines += [f"CPU kernels: {sentence}" for sentence in hw.cpu_kernels_off]
    if hw.disk_free is not None:
        lines.append(f"Disk: {format_bytes(hw.disk_free)} free for models")
    return lines


def measurements_text(measurements: list[Measurement]) -> str:
    """Where the speeds marked "measured" come from, or that none are."""
    if not measurements:
        return (
            "Speeds are predicted from this machine's memory bandwidth; a Compare run "
            "measures the models it runs."
        )
    latest = local_date(max(m.measured_at for m in measurements))
    count = len(measurements)
    return (
        f'Speeds marked "measured" come from {count} benchmark{"s" if count > 1 else ""} '
        f"run here by Compare or `ponder bench`"
        + (f", the latest on {latest}" if latest else "")
        + ". Reset them if the machine was busy then."
    )


class LadderTable(QWidget):
    """Every catalog model with its verdict on this machine; the recommended row is
    highlighted and says so. Builds (and refreshes) its own ``LadderModel`` unless given one.

    Signals:
        model_activated(str): the catalog id of a row the user double-clicked or pressed
            Enter on (e.g. to download it).
    """

    model_activated = Signal(str)

    def __init__(self, model: LadderModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        own = model is None
        self.model = model if model is not None else LadderModel(self)
        self.status = QLabel("Checking what this machine can run…")
        self.status.setObjectName("ladderStatus")
        self.status.setWordWrap(True)
        self.view = QTableView()
        self.view.setObjectName("ladderTable")
        self.view.setAccessibleName("Model sizes and what this machine can run")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        # Nothing is cut: a cut name or verdict hides what the table is for. Columns are
        # as wide as their text (the names are short, "Distill Qwen 7B", their shared
        # "DeepSeek-R1" the heading); short of room, the verdict and the memory wrap
        # ("Partial offload 20/49 layers (context 8,192)") and their rows grow.
        self.view.setWordWrap(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        rows = self.view.verticalHeader()
        rows.setMinimumSectionSize(rows.defaultSectionSize())  # one line: as tall as before
        rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.viewport().installEventFilter(self)
        self.model.modelReset.connect(self.fit_columns)
        self.view.activated.connect(self._on_activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        self.model.ready.connect(self._on_ready)
        self.model.failed.connect(self._on_failed)
        if self.model.rowCount():
            self._on_ready(self.model.hardware)
        elif own:
            self.model.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def fit_columns(self) -> None:
        """Each shown column as wide as its text; when that is wider than the view, the
        verdict and memory columns share what is left (wrapping), else the verdict takes
        the room to spare."""
        view, header = self.view, self.view.horizontalHeader()
        shown = [c for c in range(self.model.columnCount()) if not view.isColumnHidden(c)]
        natural = {c: max(view.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in shown}
        wrapping = [c for c in (VERDICT, MEMORY) if c in natural]
        spare = view.viewport().width() - sum(w for c, w in natural.items() if c not in wrapping)
        wanted = sum(natural[c] for c in wrapping)
        for c in shown:
            width = natural[c]
            if c in wrapping and wanted > spare:
                width = max(header.minimumSectionSize(), natural[c] * spare // wanted)
            elif c == VERDICT:
                width += max(0, spare - wanted)
            if header.sectionSize(c) != width:
                header.resizeSection(c, width)

    def _on_ready(self, _hw: HardwareSnapshot | None) -> None:
        pick = self.model.recommended_row
        if pick is None:
            self.status.setText(
                "No model in the catalog fits this machine's free memory. Close other "
                "programs, or use a machine with more memory."
            )
            return
        row = self.model.row_at(pick)
        self.status.setText(
            f"Recommended for this machine: {row.name} {row.quant} "
            f"({row.verdict_text.lower()}, {row.speed_text})."
        )
        self.view.scrollTo(self.model.index(pick, 0))

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)

    def _on_activated(self, index: QModelIndex) -> None:
        model_id = self.model.data(index.siblingAtColumn(0), LadderModel.IdRole)
        if model_id:
            self.model_activated.emit(str(model_id))


class HardwarePanel(QWidget):
    """The machine summary, live sparklines fed by a ``MonitorWorker``, and the ladder.

    The panel does not start or stop the monitor (the main window owns it and also uses
    it for the status bar); it only listens. Without a monitor, ``feed`` can be called
    directly.
    """

    def __init__(
        self,
        monitor: MonitorWorker | None = None,
        ladder: LadderModel | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hardwarePanel")
        self.machine = QLabel("Probing this machine…")
        self.machine.setObjectName("machineSummary")
        self.machine.setWordWrap(True)
        self.machine.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        machine_box = QGroupBox("This machine")
        QVBoxLayout(machine_box).addWidget(self.machine)

        self.cpu = Sparkline("CPU", lambda v: f"{v:.0f}%", maximum=100)
        self.ram = Sparkline("RAM used", format_bytes)
        self.engine = Sparkline("Engine memory", format_bytes, gap_text="not running")
        self.gpu_lines: dict[int, tuple[Sparkline, Sparkline]] = {}
        self.gpu_note = QLabel()
        self.gpu_note.setObjectName("gpuNote")
        self.gpu_note.setWordWrap(True)
        self.gpu_note.hide()
        live_box = QGroupBox("Live")
        self._live = QGridLayout(live_box)
        self._live.addWidget(self.cpu, 0, 0)
        self._live.addWidget(self.ram, 0, 1)
        self._live.addWidget(self.engine, 1, 0, 1, 2)
        self._live.addWidget(self.gpu_note, 99, 0, 1, 2)

        self.ladder = LadderTable(ladder)
        self.measured_note = QLabel()
        self.measured_note.setObjectName("measuredNote")
        self.measured_note.setWordWrap(True)
        self.reset_measurements = QPushButton("Reset measurements")
        self.reset_measurements.setObjectName("resetMeasurements")
        self.reset_measurements.setToolTip(
            "Forget the decode speeds Compare measured on this machine: every speed is "
            "predicted from memory bandwidth again until Compare measures it anew"
        )
        self.reset_measurements.clicked.connect(self._on_reset_measurements)
        measured_row = QHBoxLayout()
        measured_row.addWidget(self.measured_note, 1)
        measured_row.addWidget(self.reset_measurements)
        ladder_box = QGroupBox("What this machine can run")
        ladder_layout = QVBoxLayout(ladder_box)
        ladder_layout.addWidget(self.ladder)
        ladder_layout.addLayout(measured_row)

        layout = QVBoxLayout(self)
        layout.addWidget(machine_box)
        layout.addWidget(live_box)
        layout.addWidget(ladder_box, 1)

        self.ladder.model.ready.connect(self._show_machine)
        self._show_measurements()
        if self.ladder.model.hardware is not None:
            self._show_machine(self.ladder.model.hardware)
        if monitor is not None:
            monitor.sampled.connect(self.feed)
            monitor.unavailable.connect(self._on_gpu_unavailable)
            if monitor.latest is not None:
                self.feed(monitor.latest)

    def _show_machine(self, hw: HardwareSnapshot | None) -> None:
        if hw is not None:
            self.machine.setText("\n".join(machine_lines(hw)))
        self._show_measurements()

    def _show_measurements(self) -> None:
        self.measured_note.setText(measurements_text(self.ladder.model.measurements))
        self.reset_measurements.setEnabled(bool(self.ladder.model.measurements))

    def _on_reset_measurements(self) -> None:
        answer = QMessageBox.question(
            self,
            "Reset measurements",
            "Forget the speeds measured on this machine? Speeds are predicted from memory "
            "bandwidth again until Compare measures them anew.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.ladder.model.reset_measurements()
        except AppError as exc:
            self.measured_note.setText(str(exc))
            return
        self.reset_measurements.setEnabled(False)
        self.measured_note.setText("Measurements reset; planning again from predictions…")

    def _on_gpu_unavailable(self, reason: str) -> None:
        self.gpu_note.setText(reason)
        self.gpu_note.show()

    def feed(self, sample: MonitorSample) -> None:
        """Add one sample to every sparkline (O(1) per line; the repaint is coalesced)."""
        self.cpu.add(sample.cpu_percent)
        self.ram.set_maximum(sample.ram_total)
        self.ram.add(sample.ram_used)
        if sample.engine_rss is None:
            self.engine.add_gap()
        else:
            self.engine.add(sample.engine_rss + (sample.engine_vram or 0))
        for g in sample.gpus:
            vram, util = self._gpu_lines(g.index, g.name)
            vram.set_maximum(g.vram_total)
            vram.add(g.vram_used)
            if g.utilization is None:
                util.add_gap()
            else:
                util.add(g.utilization)

    def _gpu_lines(self, index: int, name: str) -> tuple[Sparkline, Sparkline]:
        if index not in self.gpu_lines:
            vram = Sparkline(f"GPU {index} memory ({name})", format_bytes)
            util = Sparkline(f"GPU {index} load", lambda v: f"{v:.0f}%", maximum=100)
            row = 2 + len(self.gpu_lines)
            self._live.addWidget(vram, row, 0)
            self._live.addWidget(util, row, 1)
            self.gpu_lines[index] = (vram, util)
        return self.gpu_lines[index]
