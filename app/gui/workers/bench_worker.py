"""The compare view's background work: the bench itself, the fit predictions beside it, and
the saved runs (listing, reopening, exporting).

A bench loads model after model for minutes, so it gets a ``QThread`` of its own (as a
download does); Cancel sets the runner's ``threading.Event``, which stops the running reply
between tokens. Everything else here is short file work and goes to Qt's pool. Nothing
touches a widget: results travel as queued signals and the window applies them.

The predictions are made *before* the bench runs, because the runner records its measured
speeds in this machine's calibration: planned afterwards, the prediction would be pulled
towards the very measurement it is compared with.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from app.core.bench_report import (
    BenchReport,
    SavedRun,
    export_report,
    list_runs,
    load_run,
    save_report,
)
from app.core.errors import AppError
from app.core.prompt_sets import PromptSet, load_prompt_set
from app.gui.workers.background import BackgroundJobs
from app.gui.workers.model_check import hardware
from app.hardware.planner import plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import shape_from_file
from app.inference.bench import BenchEvent, BenchProgress, ModelFinished, run_bench
from app.inference.lease import EngineLease, Holder

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # live token counts: a few repaints a second are enough
BUG_MESSAGE = "The bench stopped because of a bug; the log file has the details."


@dataclass(frozen=True)
class Prediction:
    """What the fit planner expects of one model with the placement the bench used.

    ``memory_bytes`` is what the engine process itself should hold (RAM plus VRAM, without
    the planner's reserves, which are headroom for the rest of the machine), so that it
    compares with the measured peak of that process.
    """

    path: str
    tok_s_low: float | None
    tok_s_high: float | None
    memory_bytes: int
    verdict: str


def predict(
    path: str | Path, hw: HardwareSnapshot, n_ctx: int = 0, gpu_layers: int = -1
) -> Prediction | None:
    """The fit prediction for a model file (None when it cannot be read or sized)."""
    try:
        shape = shape_from_file(Path(path))
        fit = plan(
            shape,
            hw,
            n_ctx=n_ctx or None,
            gpu_layers=None if gpu_layers < 0 else gpu_layers,
        )
    except (AppError, OSError) as exc:  # CannotSizeError among them
        log.info("no fit prediction for %s: %s", path, exc)
        return None
    mem = fit.memory
    vram = mem.vram - mem.gpu_reserve if mem.vram else 0
    return Prediction(
        str(path),
        fit.speed.low if fit.speed else None,
        fit.speed.high if fit.speed else None,
        mem.ram - mem.ram_reserve + vram,
        fit.verdict,
    )


def predict_report(report: BenchReport, hw: HardwareSnapshot) -> dict[str, Prediction]:
    """Predictions for a saved run's models, with the placement each one ran with."""
    out = {}
    for m in report.models:
        found = predict(m.path, hw, m.n_ctx, m.n_gpu_layers) if not m.error else None
        if found is not None:
            out[m.path] = found
    return out


class BenchWorker(QThread):
    """Run one bench (``run_bench``) and save it.

    Args:
        prompts: the prompts, or the name of a prompt set (read on the worker thread).

    Signals:
        predicted(dict[str, Prediction]): the fit prediction per model path, before it runs.
        progressed(BenchProgress): a load started, a reply streams (at most every
            ``PROGRESS_INTERVAL_S``), or a reply finished (``record`` set).
        model_finished(int index, ModelResult): one model is done (or failed: ``error``).
        finished_run(BenchReport, str saved_path): the whole run, cancelled or not
            (``report.cancelled``); saved_path is "" when nothing was measured.
        failed(str): one sentence and what to do; nothing was measured.
    """

    predicted = Signal(dict)
    progressed = Signal(object)
    model_finished = Signal(int, object)
    finished_run = Signal(object, str)
    failed = Signal(str)

    def __init__(
        self,
        models: Sequence[str | Path],
        prompts: PromptSet | str,
        *,
        runs: int,
        max_tokens: int,
        lease: EngineLease | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._lease = lease if lease is not None else EngineLease()
        self.models = [str(m) for m in models]
        self.prompts = prompts
        self.runs = runs
        self.max_tokens = max_tokens
        self.questions: dict[str, str] = {}  # prompt id -> text, once the set is read
        self._cancel = threading.Event()
        self._last_live = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        n = len(self.models)
        holder = Holder("compare", f"measuring {n} model{'s' if n != 1 else ''}", "compare")
        try:
            # Not waiting: the window checked that the engine is free; a chat that took it
            # since is named in the sentence. Granted, the chat's model leaves memory.
            with self._lease.hold(holder, timeout_s=0):
                self._measure()
        except AppError as exc:
            self.failed.emit(str(exc))
        except OSError as exc:
            self.failed.emit(
                f"The bench could not write its results: {exc.strerror or exc}. "
                "Check that the data folder is writable and has space."
            )
        except Exception:
            log.exception("bench failed")
            self.failed.emit(BUG_MESSAGE)

    def _measure(self) -> None:
        prompts = load_prompt_set(self.prompts) if isinstance(self.prompts, str) else self.prompts
        self.questions = {item.id: item.prompt for item in prompts.items}
        hw = hardware(max_age_s=0)  # now: the chat's model has just left memory
        self.predicted.emit(
            {p.path: p for p in (predict(m, hw) for m in self.models) if p is not None}
        )
        report = run_bench(
            self.models,
            prompts,
            runs=self.runs,
            max_tokens=self.max_tokens,
            on_event=self._on_event,
            cancel=self._cancel,
            hardware=hw,
        )
        saved = save_report(report) if report.models else None
        self.finished_run.emit(report, str(saved) if saved else "")

    def _on_event(self, event: BenchEvent) -> None:
        if isinstance(event, ModelFinished):
            self.model_finished.emit(event.model_index, event.result)
            return
        assert isinstance(event, BenchProgress)
        now = time.monotonic()
        live = event.phase in ("warmup", "generate") and event.record is None
        if live and now - self._last_live < PROGRESS_INTERVAL_S:
            return
        self._last_live = now if live else 0.0
        self.progressed.emit(event)


class BenchFiles(QObject):
    """Saved runs on Qt's pool: ``list_saved()``, ``open(path)``, ``export(report, path)``.

    Signals:
        listed(list[SavedRun]): the saved runs, newest first.
        opened(BenchReport, str path, dict[str, Prediction]): a reopened run and the fit
            predictions for its models (those whose file is still there).
        exported(str path): the export was written.
        failed(str): one sentence and what to do.
    """

    listed = Signal(list)
    opened = Signal(object, str, dict)
    exported = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = BackgroundJobs(self)

    def list_saved(self) -> None:
        def work() -> list[SavedRun]:
            try:
                return list_runs()
            except OSError as exc:  # no saved runs to offer is not worth a message
                log.warning("cannot list bench runs: %s", exc)
                return []

        self._jobs.run(work, self.listed.emit, self.failed.emit, what="Listing saved runs")

    def open(self, path: Path) -> None:
        def work() -> tuple[BenchReport, dict[str, Prediction]]:
            report = load_run(path)
            return report, predict_report(report, hardware())

        self._jobs.run(
            work,
            lambda opened: self.opened.emit(opened[0], str(path), opened[1]),
            self.failed.emit,
            what=f"Opening {path.name}",
        )

    def export(self, report: BenchReport, path: Path) -> None:
        def work() -> None:
            try:
                export_report(report, path)
            except OSError as exc:
                raise AppError(
                    f"{path.name} could not be written: {exc.strerror or exc}.",
                    "Pick a folder you can write to.",
                ) from exc

        self._jobs.run(
            work,
            lambda _: self.exported.emit(str(path)),
            self.failed.emit,
            what=f"Exporting {path.name}",
        )
