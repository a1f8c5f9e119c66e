"""The Compare window: run 2 to 6 models on the same prompts and see them side by side.

Left, the setup (``CompareSetup``) and the past runs; right, the run shown: the answers in
columns, and the medians as a table and as charts against model size with the fit
prediction beside each measurement. The bench runs on a ``BenchWorker`` thread, one model
loaded at a time; a finished (or cancelled) run is saved and appears in "Past runs", which
reopens it into the same view. Exports go through ``export_report`` (CSV, JSON, Markdown).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QCloseEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.bench_report import BenchReport, ModelResult, SavedRun
from app.core.prompt_sets import PromptSet
from app.core.units import format_tokens
from app.gui.render.math import MathRenderer
from app.gui.style import mix, stylesheet
from app.gui.views.compare_charts import CompareCharts
from app.gui.views.compare_results import MeasuresTable, ResultsColumns
from app.gui.views.compare_setup import CompareSetup
from app.gui.workers.bench_worker import BenchFiles, BenchWorker, Prediction
from app.gui.workers.model_check import ModelChecker
from app.inference.bench import BenchProgress
from app.inference.lease import EngineLease

PATH_ROLE = Qt.ItemDataRole.UserRole
CLOSE_WAIT_MS = 15_000  # a cancelled bench ends its engine process within this


def status_line(event: BenchProgress) -> str:
    """ "Model 2/3 · run 1/3 · 412 tokens": where the bench is, for the status label."""
    run = "warm-up" if event.run == 0 else f"run {event.run}/{event.n_runs}"
    parts = [f"Model {event.model_index}/{event.n_models}", run]
    if event.phase == "load":
        parts.append(f"loading {event.model}")
        return " · ".join(parts)
    if event.n_prompts > 1 and event.run:
        parts.append(f"prompt {event.prompt_index}/{event.n_prompts}")
    parts.append(format_tokens(event.tokens))
    if event.decode_tok_s:
        parts.append(f"{event.decode_tok_s:.1f} tok/s")
    return " · ".join(parts)


def progress_fraction(event: BenchProgress) -> float:
    """How far the whole bench is (0..1): each model counts its warm-up and its runs."""
    steps = event.n_runs + 1
    done = 0.0
    if event.phase != "load" and event.prompt_index:
        prompts = 1 if event.run == 0 else event.n_prompts
        done = (event.prompt_index - (0 if event.record else 1)) / max(prompts, 1)
    step = (event.model_index - 1) * steps + event.run + done
    return min(step / (event.n_models * steps), 1.0)


def compare_stylesheet(palette: QPalette) -> str:
    """The chat's style (thinking panels, muted stats) plus the columns' cards."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    return stylesheet(palette) + (
        f"QFrame#compareColumn {{ background: {base.name()}; "
        f"border: 1px solid {mix(base, text, 0.22)}; border-radius: 8px; }}\n"
        "QFrame#compareReply, QFrame#compareColumn QLabel { border: none; }\n"
    )


def run_label(run: SavedRun) -> str:
    when = run.created.replace("T", " ")[:16]
    return f"{when} · {run.prompt_set}\n{', '.join(run.models)}"


class CompareWindow(QMainWindow):
    """Compare models on this machine.

    Args:
        math: the formula renderer for the answers (the app's shared one by default).
        scan: list the models found on disk (tests add theirs with ``add_model_paths``).

    Signals:
        report_shown(BenchReport): a run (finished, cancelled or reopened) is on screen.
        runs_listed(list[SavedRun]): the past runs list was refreshed.
        exported(str): an export was written to this path.
    """

    report_shown = Signal(object)
    runs_listed = Signal(list)
    exported = Signal(str)

    def __init__(
        self,
        math: MathRenderer | None = None,
        *,
        lease: EngineLease,
        scan: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        """``lease``: the app's engine lease. A run holds it while it measures: it starts
        only while no one else uses the engine (two engines at once would skew every
        figure, and the speed calibration with them), the chat's model leaves memory first
        (it would take the RAM and VRAM the run's models are planned with), and a message
        sent meanwhile waits for the run to end."""
        super().__init__(parent)
        self._lease = lease
        self.setWindowTitle("Compare models · Ponder")
        self.resize(1240, 780)
        self.report: BenchReport | None = None
        self.report_path = ""
        self.predictions: dict[str, Prediction] = {}
        self.worker: BenchWorker | None = None
        self._finished: list[ModelResult] = []
        self.setup = CompareSetup()
        self.past_runs = QListWidget()
        self.past_runs.setAccessibleName("Past runs")
        self.past_runs.setWordWrap(True)
        self.past_runs.setAlternatingRowColors(True)
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(False)
        self.title = QLabel("No run yet")
        self.title.setObjectName("compareTitle")
        self.title.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save this run as CSV, JSON or Markdown")
        self.export_button.setEnabled(False)
        self.columns = ResultsColumns(math)
        self.table = MeasuresTable()
        self.note = QLabel()
        self.note.setObjectName("messageStats")
        self.note.setWordWrap(True)
        self.charts = CompareCharts()
        self.tabs = QTabWidget()
        self._style_key = ""
        self._build()
        self._restyle()
        self.files = BenchFiles(self)
        self.files.listed.connect(self._on_listed)
        self.files.opened.connect(self._on_opened)
        self.files.exported.connect(self._on_exported)
        self.files.failed.connect(lambda msg: self.setup.set_status(msg, error=True))
        self.setup.run_requested.connect(self.start_run)
        self.setup.cancel_requested.connect(self.cancel_run)
        self.past_runs.itemActivated.connect(self._open_item)
        self.past_runs.currentItemChanged.connect(
            lambda item, _: self.open_button.setEnabled(item is not None)
        )
        self.open_button.clicked.connect(lambda: self._open_item(self.past_runs.currentItem()))
        self.export_button.clicked.connect(self._choose_export)
        self.checker = ModelChecker(self)
        if scan:
            self.checker.found.connect(self.setup.set_found)
            self.checker.scan()

    def _build(self) -> None:
        runs_box = QGroupBox("Past runs")
        runs = QVBoxLayout(runs_box)
        runs.addWidget(self.past_runs)
        runs.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.setup, 3)
        left_layout.addWidget(runs_box, 1)
        measures = QWidget()
        measures_layout = QVBoxLayout(measures)
        measures_layout.setContentsMargins(0, 0, 0, 0)
        measures_layout.addWidget(self.table)
        measures_layout.addWidget(self.note)
        measures_layout.addWidget(self.charts, 1)
        self.tabs.addTab(self.columns, "Answers")
        self.tabs.addTab(measures, "Measures and charts")
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.export_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addLayout(head)
        right_layout.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 910])
        self.setCentralWidget(split)

    # -- public API ---------------------------------------------------------------------

    def add_model_paths(self, paths: list[str] | list[Path]) -> None:
        """Tick these model files for the next run (adding them to the list)."""
        self.setup.add_model_paths(paths)

    def start_run(self) -> None:
        """Run the ticked models on the chosen prompts (what Run does)."""
        reason = self.setup.blocker()
        if not reason and (holder := self._lease.busy_for("compare")) is not None:
            reason = (
                f"{holder.describe()} is using the model: stop it or let it finish first, "
                "so that the measurements are not shared with it."
            )
        if reason or self.is_running():
            self.setup.set_status(reason, error=bool(reason))
            return
        name = self.setup.prompt_set_name()
        prompts: PromptSet | str = name or PromptSet.single(self.setup.prompt_text())
        self.worker = BenchWorker(
            self.setup.checked_paths(),
            prompts,
            runs=self.setup.runs.value(),
            max_tokens=self.setup.max_tokens.value(),
            lease=self._lease,
            parent=self,
        )
        self.worker.predicted.connect(self._on_predicted)
        self.worker.progressed.connect(self._on_progress)
        self.worker.model_finished.connect(self._on_model_finished)
        self.worker.finished_run.connect(self._on_run_done)
        self.worker.failed.connect(self._on_run_failed)
        self.worker.finished.connect(self._on_thread_done)
        self._finished = []
        self.predictions = {}
        self.setup.set_running(True)
        self.setup.set_status("Starting…")
        self.worker.start()

    def cancel_run(self) -> None:
        if self.worker is not None and not self.worker.cancelling:
            self.worker.cancel()
            self.setup.cancel_button.setEnabled(False)
            self.setup.set_status("Cancelling: stopping the running reply…")

    def is_running(self) -> bool:
        return self.worker is not None

    def refresh_runs(self) -> None:
        self.files.list_saved()

    def open_run(self, path: str | Path) -> None:
        """Reopen a saved run into the view (read off the GUI thread)."""
        self.files.open(Path(path))

    def export_to(self, path: str | Path) -> None:
        """Write the run shown as .csv, .json or .md (chosen by the extension)."""
        if self.report is not None:
            self.files.export(self.report, Path(path))

    def show_report(
        self, report: BenchReport, predictions: dict[str, Prediction], path: str = ""
    ) -> None:
        self.report, self.predictions, self.report_path = report, predictions, path
        when = report.created.replace("T", " ")[:16]
        runs = f"{report.runs} run{'s' if report.runs != 1 else ''}"
        cancelled = " · cancelled" if report.cancelled else ""
        self.title.setText(
            f"<b>{', '.join(m.name for m in report.models)}</b><br>"
            f"{when} · prompt set {report.prompt_set} · {runs} · "
            f"at most {format_tokens(report.max_tokens)}{cancelled}"
        )
        self.columns.show_report(report)
        self.table.show_report(report)
        self.table.setFixedHeight(self.table.fitting_height())
        self.charts.show_report(report, predictions)
        notes = [f"Medians over {runs} after a warm-up; speeds with their range."]
        notes += sorted({f"Peak VRAM {m.vram_note}" for m in report.models if m.vram_note})
        if any(m.path not in predictions for m in report.models if not m.error):
            notes.append("No fit prediction for a model whose file is gone or cannot be sized.")
        self.note.setText(" ".join(notes))
        self.export_button.setEnabled(bool(report.models))
        self.report_shown.emit(report)

    # -- bench signals ------------------------------------------------------------------

    def _on_predicted(self, predictions: dict[str, Prediction]) -> None:
        self.predictions = predictions

    def _on_progress(self, event: BenchProgress) -> None:
        if self.worker is not None and self.worker.cancelling:
            return
        self.setup.set_status(status_line(event))
        self.setup.progress.setValue(round(progress_fraction(event) * 1000))

    def _on_model_finished(self, index: int, result: ModelResult) -> None:
        self._finished.append(result)
        if self.worker is None:
            return
        partial = BenchReport(
            prompt_set=self.setup.prompt_set_name() or "custom",
            runs=self.worker.runs,
            max_tokens=self.worker.max_tokens,
            seed=0,
            models=list(self._finished),
            prompts=dict(self.worker.questions),
        )
        self.show_report(partial, self.predictions)
        self.export_button.setEnabled(False)  # exports are of a finished, saved run

    def _on_run_done(self, report: BenchReport, saved: str) -> None:
        self.show_report(report, self.predictions, saved)
        n, total = len(report.models), len(self.worker.models if self.worker else report.models)
        kept = f" Saved to {saved}." if saved else ""
        if report.cancelled:
            self.setup.set_status(
                f"Cancelled: {n} of {total} models measured, what was measured is kept.{kept}"
            )
        else:
            failed = [m.name for m in report.models if m.error]
            done = (
                f"Done: {n} models compared."
                if not failed
                else (f"Done, but {', '.join(failed)} could not be benchmarked.")
            )
            self.setup.set_status(done + kept, error=bool(failed))
        self.refresh_runs()

    def _on_run_failed(self, message: str) -> None:
        self.setup.set_status(message, error=True)

    def _on_thread_done(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.deleteLater()
        self.setup.set_running(False)

    # -- saved runs ---------------------------------------------------------------------

    def _on_listed(self, runs: list[SavedRun]) -> None:
        self.past_runs.clear()
        for run in runs:
            item = QListWidgetItem(run_label(run))
            item.setData(PATH_ROLE, str(run.path))
            item.setToolTip(str(run.path))
            self.past_runs.addItem(item)
            if str(run.path) == self.report_path:
                self.past_runs.setCurrentItem(item)
        if not runs:
            empty = QListWidgetItem("No saved runs yet")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.past_runs.addItem(empty)
        self.runs_listed.emit(runs)

    def _open_item(self, item: QListWidgetItem | None) -> None:
        path = item.data(PATH_ROLE) if item is not None else None
        if path and self.worker is None:
            self.open_run(str(path))

    def _on_opened(
        self, report: BenchReport, path: str, predictions: dict[str, Prediction]
    ) -> None:
        self.show_report(report, predictions, path)
        self.setup.set_status(f"Reopened the run of {report.created.replace('T', ' ')[:16]}.")

    def _choose_export(self) -> None:
        if self.report is None:
            return
        stem = Path(self.report_path).stem if self.report_path else "ponder-bench"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the comparison",
            str(Path.home() / f"{stem}.md"),
            "Markdown (*.md);;CSV (*.csv);;JSON (*.json)",
        )
        if path:
            self.export_to(path)

    def _on_exported(self, path: str) -> None:
        self.setup.set_status(f"Exported to {path}.")
        self.exported.emit(path)

    # -- Qt -----------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()

    def _restyle(self) -> None:
        palette = QApplication.palette()
        key = (
            palette.color(QPalette.ColorRole.Base).name()
            + palette.color(QPalette.ColorRole.Text).name()
        )
        if key == self._style_key:
            return  # setting the style sheet below sends a palette change of its own
        self._style_key = key
        self.setStyleSheet(compare_stylesheet(palette))
        self.charts.apply_palette(palette)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.refresh_runs()  # `ponder bench` may have saved runs since the window was open

    def shutdown(self) -> None:
        """Stop a running bench and wait for it (the app calls this before it quits).

        Cancel ends the running reply at once and the engine process with it; the thread
        must not outlive the window that owns it.
        """
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(CLOSE_WAIT_MS)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        # Owned by the main window, the window is only hidden and a comparison goes on;
        # on its own, nothing would keep it (or its thread) alive, so the bench stops.
        if self.parent() is None:
            self.shutdown()
        super().closeEvent(event)
