"""Downloads of catalog models, each on a ``QThread`` of its own, and the app's one queue
of them with where each stands (``DownloadQueue.state``).

A download runs for minutes to hours, so it gets a thread of its own instead of a slot in
Qt's shared pool (two threads on a two-core machine: a download there would starve the
picker's checks). Pause and cancel reach it through the downloader's ``StopToken``, set
from the GUI thread and honoured within a fraction of a second. The Models window's short
jobs (scans, header checks, fit plans, deletions) are ``model_scan``'s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, QThread, Signal

from app.core.errors import AppError, DownloadStoppedError
from app.modelhub.catalog import CatalogQuant
from app.modelhub.downloader import Progress, RetryPolicy, StopToken, download
from app.modelhub.hub import model_files
from app.modelhub.parts import discard_parts
from app.modelhub.secrets import TokenStore
from app.modelhub.store import ModelStore

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25  # a few repaints a second is smooth; more only costs CPU


class DownloadWorker(QThread):
    """Download one catalog model (every shard of it) into Ponder's folder.

    Args:
        key: the model list's row key, handed back so the dialog knows which row it is.
        quant: what to download.
        store: where it is installed (``ModelStore.install_path``).
        downloads_dir: where the partial files wait (``AppPaths.downloads_dir``).
        tokens: the Hub token (read on this thread: a keyring may be slow to answer).

    Signals:
        progressed(str key, Progress): at most every ``PROGRESS_INTERVAL_S``, and at each
            change of stage.
        installed(str key, list[str]): the installed paths (the first one is loaded).
        failed(str key, str): one sentence and what to do (an ``AppError``), never a traceback.
        stopped(str key, bool): the user paused (False: the part is kept) or cancelled
            (True: nothing of it is left on disk).
    """

    progressed = Signal(str, object)
    installed = Signal(str, list)
    failed = Signal(str, str)
    stopped = Signal(str, bool)

    def __init__(
        self,
        key: str,
        quant: CatalogQuant,
        store: ModelStore,
        downloads_dir: Path,
        tokens: TokenStore,
        *,
        retry: RetryPolicy | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.quant = quant
        self._store = store
        self._downloads_dir = downloads_dir
        self._tokens = tokens
        self._retry = retry
        self._stop = StopToken()
        self._last_emit = 0.0
        self._last_stage = ""

    def pause(self) -> None:
        self._stop.pause()

    def cancel(self) -> None:
        self._stop.cancel()

    def run(self) -> None:
        try:
            paths = self._download()
        except DownloadStoppedError:
            if self._stop.cancelled:
                self._discard()
            self.stopped.emit(self.key, self._stop.cancelled)
        except AppError as exc:
            if self._stop.cancelled:  # a failure after Cancel is still a cancel
                self._discard()
                self.stopped.emit(self.key, True)
            else:
                self.failed.emit(self.key, str(exc))
        except OSError as exc:
            self.failed.emit(
                self.key,
                f"The download stopped: {exc.strerror or type(exc).__name__}. "
                "Check that the models folder is writable and has space, then try again.",
            )
        except Exception:
            log.exception("download of %s failed", self.key)
            self.failed.emit(
                self.key, "The download failed because of a bug; the log file has the details."
            )
        else:
            self.installed.emit(self.key, [str(p) for p in paths])

    def _download(self) -> list[Path]:
        token = self._tokens.for_hub()
        q = self.quant
        files = model_files(q.repo_id, q.first_file.path, token=token)
        if self._stop.is_set():
            raise DownloadStoppedError("The download was stopped.")
        dest = self._store.install_path(files[0].repo, files[0].filename).parent
        return download(
            files,
            dest,
            downloads_dir=self._downloads_dir,
            token=token,
            progress=self._on_progress,
            stop=self._stop,
            retry=self._retry,
        )

    def _discard(self) -> None:
        try:
            discard_parts(
                self._downloads_dir, self.quant.repo_id, [f.path for f in self.quant.files]
            )
        except (AppError, OSError) as exc:  # AppError: another Ponder is downloading it
            log.warning("could not delete the parts of %s: %s", self.key, exc)

    def _on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.stage == self._last_stage and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit, self._last_stage = now, progress.stage
        self.progressed.emit(self.key, progress)


DownloadStatus = Literal["running", "paused", "failed", "cancelled", "installed"]


@dataclass(frozen=True)
class DownloadState:
    """Where one download stands, as the queue last heard it: the one record every view
    that shows downloads (the first-run page, the Models window) reads.

    Attributes:
        status: running; paused (its part kept); failed (``error`` says why); cancelled
            (nothing kept); installed (``paths``).
        progress: its last ``Progress`` (None before the first).
    """

    status: DownloadStatus
    progress: Progress | None = None
    error: str = ""
    paths: tuple[str, ...] = ()


class DownloadQueue(QObject):
    """The app's downloads, one thread each while they run, by the model list's row key;
    ``state(key)`` is where each stands (running, paused, failed, ...) for this session.

    Signals (each worker's, re-emitted on the GUI thread once ``state`` has it):
        progressed(str key, Progress), installed(str key, list[str]), failed(str key, str),
        stopped(str key, bool cancelled): as on ``DownloadWorker``.
        idle(str key): the download's thread has ended (its key can start again).
    """

    progressed = Signal(str, object)
    installed = Signal(str, list)
    failed = Signal(str, str)
    stopped = Signal(str, bool)
    idle = Signal(str)

    def __init__(
        self,
        store: ModelStore,
        downloads_dir: Path,
        tokens: TokenStore,
        *,
        retry: RetryPolicy | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._args = (store, downloads_dir, tokens)
        self._retry = retry
        self._workers: dict[str, DownloadWorker] = {}
        self._states: dict[str, DownloadState] = {}
        self._deadline: float | None = None  # of the quit's wait, once shutdown is asked

    def __contains__(self, key: str) -> bool:
        return key in self._workers

    def start(self, key: str, quant: CatalogQuant) -> bool:
        """Start (or resume) downloading ``quant``; False when ``key`` is already running."""
        if key in self._workers:
            return False
        worker = DownloadWorker(key, quant, *self._args, retry=self._retry, parent=self)
        before = self._states.get(key)
        self._states[key] = DownloadState("running", before.progress if before else None)
        # First the record, then the views: a slot reading ``state`` sees what it is told.
        worker.progressed.connect(self._on_progress)
        worker.installed.connect(self._on_installed)
        worker.failed.connect(self._on_failed)
        worker.stopped.connect(self._on_stopped)
        worker.progressed.connect(self.progressed)
        worker.installed.connect(self.installed)
        worker.failed.connect(self.failed)
        worker.stopped.connect(self.stopped)
        worker.finished.connect(self._on_finished)
        self._workers[key] = worker
        worker.start()
        return True

    def pause(self, key: str) -> None:
        if key in self._workers:
            self._workers[key].pause()

    def cancel(self, key: str) -> bool:
        """Cancel a running download; False when none runs for ``key``."""
        if key not in self._workers:
            return False
        self._workers[key].cancel()
        return True

    def running(self) -> list[str]:
        return [k for k, w in self._workers.items() if w.isRunning()]

    def state(self, key: str) -> DownloadState | None:
        """Where the download of ``key`` stands (None: none was started this session)."""
        return self._states.get(key)

    def states(self) -> dict[str, DownloadState]:
        return dict(self._states)

    def discarded(self, key: str) -> None:
        """What a paused or failed download of ``key`` left was deleted (its parts): it
        stands as cancelled, so no view offers to resume it."""
        if key in self._states and key not in self._workers:
            self._set(key, "cancelled")

    def _on_progress(self, key: str, progress: Progress) -> None:
        self._states[key] = DownloadState("running", progress)

    def _on_installed(self, key: str, paths: list[str]) -> None:
        self._set(key, "installed", paths=tuple(paths))

    def _on_failed(self, key: str, message: str) -> None:
        self._set(key, "failed", error=message)

    def _on_stopped(self, key: str, cancelled: bool) -> None:
        self._set(key, "cancelled" if cancelled else "paused")

    def _set(
        self, key: str, status: DownloadStatus, *, error: str = "", paths: tuple[str, ...] = ()
    ) -> None:
        now = self._states.get(key) or DownloadState(status)
        self._states[key] = replace(now, status=status, error=error, paths=paths)

    def shutdown(self, timeout_ms: int = 3_000) -> bool:
        """Pause every download (the parts are kept) and wait for the threads, at most
        ``timeout_ms`` in all: a pause ends a transfer within a fraction of a second, but a
        Hub request in flight or a copy onto another disk may not notice it, and quitting
        must not hang on them. False when a thread still runs (the app then exits without
        waiting for it: the part on disk is what a resume trusts). Safe to call twice."""
        for worker in list(self._workers.values()):
            worker.pause()
        # One wait in all: the window's close and the app's exit both ask.
        if self._deadline is None:
            self._deadline = time.monotonic() + timeout_ms / 1000
        deadline = self._deadline
        stopped = True
        for key, worker in list(self._workers.items()):
            left_ms = max(0, round((deadline - time.monotonic()) * 1000))
            if not worker.wait(left_ms):
                log.warning("download %s did not stop within %d ms", key, timeout_ms)
                stopped = False
        return stopped

    def _on_finished(self) -> None:
        for key, worker in list(self._workers.items()):
            if worker.isFinished():
                del self._workers[key]
                worker.deleteLater()
                self.idle.emit(key)
