"""The Models window's download rows in step with the app's one download queue.

The queue (``workers.download_worker.DownloadQueue``) runs the downloads the first-run
page and the Models window both show; this keeps the window's rows (``ModelListModel``)
saying what the queue says, and carries out Download, Pause and Cancel on a row. Cancel
on a download that is not running deletes its parts (in a background job): only once they
are gone does the download stand as cancelled everywhere.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.viewmodels.model_list import ModelListModel
from app.gui.viewmodels.model_rows import ModelRow, RowState
from app.gui.workers.download_worker import DownloadQueue
from app.gui.workers.model_scan import ModelScanner
from app.modelhub.catalog import Catalog, CatalogQuant
from app.modelhub.downloader import Progress

_SHOWN = {"running": RowState.DOWNLOADING, "paused": RowState.PAUSED, "failed": RowState.FAILED}


class ModelDownloads(QObject):
    """Signals:
    message(str): a sentence for the window (a download failed, or finished and where).
    installed(): a download finished: the installed models need listing again.
    """

    message = Signal(str)
    installed = Signal()

    def __init__(
        self,
        model: ModelListModel,
        queue: DownloadQueue,
        scanner: ModelScanner,
        catalog: Catalog,
        downloads_dir: Path,
        *,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model, self._queue, self._scanner = model, queue, scanner
        self._catalog, self._downloads_dir = catalog, downloads_dir
        queue.progressed.connect(self._on_progress)
        queue.installed.connect(self._on_installed)
        queue.failed.connect(self._on_failed)
        queue.stopped.connect(self._on_stopped)
        # Downloads started before the window was first opened (on the first-run page).
        for key, now in queue.states().items():
            if (state := _SHOWN.get(now.status)) is not None:
                model.set_download(key, state, progress=now.progress, error=now.error)

    def quant(self, row: ModelRow) -> CatalogQuant | None:
        if row.catalog_id is None:
            return None
        return self._catalog.get(row.catalog_id).quant(row.quant)

    def start(self, key: str) -> bool:
        """Download (or resume) the available row ``key``; did it start?"""
        i = self._model.find(key)
        quant = self.quant(self._model.row_at(i)) if i >= 0 else None
        if quant is None or not self._queue.start(key, quant):
            return False
        self._model.set_download(key, RowState.STARTING)
        return True

    def pause(self, row: ModelRow) -> None:
        self._queue.pause(row.key)

    def cancel(self, row: ModelRow) -> None:
        """Stop a running download, or delete what a paused one left."""
        if self._queue.cancel(row.key):
            return
        if row.state is RowState.PAUSED and (quant := self.quant(row)) is not None:
            discarded = partial(self._discarded, row.key)
            self._scanner.discard(self._downloads_dir, quant, then=discarded)

    def _discarded(self, key: str) -> None:
        self._queue.discarded(key)  # the first-run page no longer offers Resume
        self._model.set_download(key, RowState.NOT_DOWNLOADED)

    def _on_progress(self, key: str, progress: Progress) -> None:
        if key in self._queue:
            self._model.set_download(key, RowState.DOWNLOADING, progress=progress)

    def _on_installed(self, key: str, paths: list[str]) -> None:
        self._model.set_download(key, RowState.NOT_DOWNLOADED)
        self.message.emit(f"Downloaded {Path(paths[0]).name}; it is listed under Installed.")
        self.installed.emit()

    def _on_failed(self, key: str, message: str) -> None:
        self._model.set_download(key, RowState.FAILED, error=message)
        self.message.emit(message)

    def _on_stopped(self, key: str, cancelled: bool) -> None:
        state = RowState.NOT_DOWNLOADED if cancelled else RowState.PAUSED
        self._model.set_download(key, state)
