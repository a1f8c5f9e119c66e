"""Run a job on Qt's thread pool and hear back on the GUI thread, always.

Every job ends in one of three ways: its result goes to ``then``; a known error
(``AppError``) goes to ``failed`` as its sentence and hint; anything else is a bug, logged
with its traceback, and ``failed`` hears that the log file has the details. Never silence:
a window waiting on a job never spins for good.

Every short job the GUI runs off its thread goes through ``BackgroundJobs.run``. A job
that reports items as it goes (the Models window's header checks) uses ``bug_sentence``
for an item that fails unexpectedly, so that item says so instead of waiting for good.
Long-running work (an engine, a download, a bench) has a ``QThread`` of its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.core.errors import AppError
from app.core.paths import app_paths

log = logging.getLogger(__name__)

T = TypeVar("T")


def bug_sentence(what: str, exc: BaseException) -> str:
    """Log ``exc`` with its traceback as a bug in ``what``; the sentence to show for it."""
    log.error("%s failed", what, exc_info=exc)
    return (
        f"{what} failed ({type(exc).__name__}); the log file {app_paths().app_log} has the details."
    )


class _Relay(QObject):
    # (callback, value): emitted on the pool's thread, delivered queued on the GUI thread.
    done = Signal(object, object)


class BackgroundJobs(QObject):
    """Runs jobs off the GUI thread; their answers arrive on the thread this lives on.

    Answers that arrive after this object is deleted (its window closed) are dropped: the
    relay they travel through is not a child of this object, so a job ending after the
    window has gone emits into a live object that no longer has a receiver.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self.running = 0  # jobs started and not yet answered

    def run(
        self,
        work: Callable[[], T],
        then: Callable[[T], None],
        failed: Callable[[str], None],
        *,
        what: str = "The job",
    ) -> None:
        """Run ``work()`` off the GUI thread; ``then(result)`` or ``failed(sentence)``
        follows on the GUI thread. ``what`` names the job in a bug's sentence.

        ``work`` raises ``AppError`` for what the user can act on (translating an
        ``OSError`` into its sentence where it has one); anything else is reported as a
        bug with the log path."""
        self.running += 1
        relay = self._relay

        def job() -> None:
            outcome: tuple[Callable[[Any], None], Any]
            try:
                outcome = (then, work())
            except AppError as exc:
                outcome = (failed, str(exc))
            except Exception as exc:  # a bug: said, logged, never a spinner for good
                outcome = (failed, bug_sentence(what, exc))
            with contextlib.suppress(RuntimeError):  # the app may be closing
                relay.done.emit(*outcome)

        QThreadPool.globalInstance().start(job)

    def _on_done(self, callback: Callable[[Any], None], value: Any) -> None:
        self.running -= 1
        callback(value)
