"""The Models window's short jobs on Qt's pool: disk scans, header checks, fit plans of
the catalog, deletions (downloads, which run for minutes to hours, are ``download_worker``'s).

Each goes through ``BackgroundJobs``, so it ends in its answer or a sentence. Nothing here
touches a Qt model: the results travel as signals and the dialog applies them on the GUI
thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.errors import AppError
from app.gui.workers.background import BackgroundJobs, bug_sentence
from app.hardware.planner import plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import shape_from_catalog, shape_from_file
from app.modelhub.catalog import Catalog, CatalogQuant
from app.modelhub.discovery import FoundModel, HeaderCache, default_roots, discover
from app.modelhub.parts import discard_parts, has_parts
from app.modelhub.store import ModelStore

log = logging.getLogger(__name__)


class ModelScanner(QObject):
    """Scans, header checks, fit plans and deletions on Qt's thread pool.

    Each scan carries a generation number; the dialog ignores answers of an older scan.

    Signals:
        found(int generation, list[FoundModel]): the listing (stat only, no header read).
        checked(int generation, str path, str | None problem, str | None quant,
            str | None fit summary, str | None verdict): one model's header and fit.
        catalog_planned(dict[str, tuple[str, str]], list[str]): fit summary and verdict
            per ``id/QUANT``, and the ``id/QUANT`` keys with a partial download on disk.
        removed(str path): a model's files were deleted.
        failed(str): one sentence and what to do.
    """

    found = Signal(int, list)
    checked = Signal(int, str, object, object, object, object)
    catalog_planned = Signal(dict, list)
    removed = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        store: ModelStore,
        hardware: Callable[[], HardwareSnapshot],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._hardware = hardware
        self._cache = HeaderCache(max_entries=256)
        self._lock = threading.Lock()
        self._jobs = BackgroundJobs(self)
        self.generation = 0

    def scan(self, add_folder: Path | None = None, remove_folder: Path | None = None) -> int:
        """List the models on disk (after adding ``add_folder`` to the folders listed, or
        removing ``remove_folder`` from them), then check each."""
        self.generation += 1
        generation = self.generation
        store = self._store

        def listing() -> list[FoundModel]:
            try:
                if add_folder is not None:
                    store.add_folder(add_folder)
                if remove_folder is not None:
                    store.remove_folder(remove_folder)
            except AppError as exc:  # said, and the folders are listed as they are
                self.failed.emit(str(exc))
            roots = default_roots(models_dir=store.models_dir, folders=store.folders())
            try:
                return discover(roots)
            except OSError as exc:
                raise AppError(
                    f"Could not list the models on disk: {exc.strerror or exc}."
                ) from exc

        def listed(models: list[FoundModel]) -> None:
            self.found.emit(generation, models)
            self._jobs.run(
                lambda: self._check_all(generation, models),
                lambda _: None,
                self.failed.emit,
                what="Checking the models",
            )

        def not_listed(message: str) -> None:
            self.failed.emit(message)
            self.found.emit(generation, [])

        self._jobs.run(listing, listed, not_listed, what="Listing the models on disk")
        return generation

    def _check_all(self, generation: int, models: list[FoundModel]) -> None:
        """Check each model in turn; a bug checking one says so in its row and the others
        are still checked (no row waits on "Checking…" for good)."""
        for model in models:
            try:
                self._check(generation, model)
            except Exception as exc:
                problem = bug_sentence(f"Checking {model.path.name}", exc)
                self.checked.emit(generation, str(model.path), problem, None, None, None)

    def _check(self, generation: int, model: FoundModel) -> None:
        validation = self._cache.validate(model)
        summary = verdict = None
        hw = self._snapshot() if validation.usable else None
        if hw is not None and validation.header is not None:
            try:
                fit = plan(shape_from_file(model.path, validation.header), hw)
                summary, verdict = fit.summary, fit.verdict
            except AppError as exc:  # CannotSizeError among them
                log.info("no fit estimate for %s: %s", model.path, exc)
        self.checked.emit(
            generation,
            str(model.path),
            validation.problem,
            validation.quantization,
            summary,
            verdict,
        )

    def plan_catalog(self, catalog: Catalog, downloads_dir: Path) -> None:
        """Fit verdicts for every catalog model x quant on this machine, and which of them
        an earlier run left half downloaded."""

        def work() -> tuple[dict[str, tuple[str, str]], list[str]]:
            partial = [
                f"{m.id}/{q.name}"
                for m in catalog.models
                for q in m.quants
                if has_parts(downloads_dir, q.repo_id, [f.path for f in q.files])
            ]
            hw = self._snapshot()
            result: dict[str, tuple[str, str]] = {}
            for m in catalog.models:
                for q in m.quants:
                    if hw is None:
                        break
                    try:
                        fit = plan(shape_from_catalog(dict(m.raw), q.name), hw)
                    except AppError as exc:  # CannotSizeError among them
                        log.info("no fit estimate for %s %s: %s", m.id, q.name, exc)
                        continue
                    result[f"{m.id}/{q.name}"] = (fit.summary, fit.verdict)
            return result, partial

        self._jobs.run(
            work,
            lambda planned: self.catalog_planned.emit(*planned),
            self.failed.emit,
            what="Planning the catalog's models",
        )

    def remove(self, path: str, files: tuple[Path, ...]) -> None:
        """Delete a model's files from Ponder's folder (the store refuses other apps')."""

        store = self._store

        def work() -> None:
            try:
                store.remove(files)
            except OSError as exc:
                raise AppError(
                    f"Could not delete {Path(path).name}: {exc.strerror or exc}."
                ) from exc

        self._jobs.run(
            work,
            lambda _: self.removed.emit(path),
            self.failed.emit,
            what=f"Deleting {Path(path).name}",
        )

    def discard(self, downloads_dir: Path, quant: CatalogQuant, then: Callable[[], None]) -> None:
        """Delete what a paused download left on disk; ``then()`` once it is gone (a
        failure is a ``failed`` sentence, and the parts stay)."""

        def work() -> None:
            try:  # AppError: another Ponder is downloading it now
                discard_parts(downloads_dir, quant.repo_id, [f.path for f in quant.files])
            except OSError as exc:
                raise AppError(
                    f"Could not delete the partial download: {exc.strerror or exc}."
                ) from exc

        what = "Deleting the partial download"
        self._jobs.run(work, lambda _: then(), self.failed.emit, what=what)

    def _snapshot(self) -> HardwareSnapshot | None:
        with self._lock:  # one probe even when several jobs ask at once
            try:
                return self._hardware()
            except Exception:  # no verdicts is better than no model list
                log.exception("hardware probe failed")
                return None
