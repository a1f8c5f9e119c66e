"""Samples the machine about once a second on its own thread and emits each sample.

Reading NVML and /proc takes milliseconds, and NVML's first initialisation far longer; on
the GUI thread that would stutter streaming text, so the sampling loop lives here and only
the finished ``MonitorSample`` crosses to the GUI as a queued signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

from app.hardware.monitor import MonitorSample, Sampler

log = logging.getLogger(__name__)

INTERVAL_S = 1.0

PidSource = Callable[[], int | None]


class MonitorWorker(QThread):
    """Emits ``sampled`` every ``interval_s`` seconds between ``start()`` and ``stop()``.

    The engine process to watch is either a fixed pid (``set_engine_pid``) or a callable
    asked before every sample (``follow_engine``), so an engine that crashed and was
    restarted under a new pid is picked up without anyone telling the monitor. Both may be
    called from any thread.

    Signals:
        sampled(object): a ``MonitorSample``.
        unavailable(str): why there are no GPU numbers (once, when sampling starts).
    """

    sampled = Signal(object)
    unavailable = Signal(str)

    def __init__(
        self, interval_s: float = INTERVAL_S, use_nvml: bool = True, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("monitor-worker")
        self._interval_s = interval_s
        self._use_nvml = use_nvml
        self._stop = threading.Event()
        self._pid: int | None = None
        self._source: PidSource | None = None
        self.latest: MonitorSample | None = None

    def set_engine_pid(self, pid: int | None) -> None:
        """Watch process ``pid`` (None: no engine); replaces any ``follow_engine`` source."""
        self._source = None
        self._pid = pid

    def follow_engine(self, source: PidSource | None) -> None:
        """Ask ``source()`` for the engine's pid before each sample (e.g. ``client.pid``)."""
        self._source = source

    def stop(self) -> None:
        """End the sampling loop and wait for the thread (at most one sample's work)."""
        self._stop.set()
        self.wait()
        self._stop.clear()  # here, not in run(): a stop right after start() must still hold

    def run(self) -> None:
        sampler = Sampler(use_nvml=self._use_nvml)
        if sampler.note:
            self.unavailable.emit(sampler.note)
        try:
            while not self._stop.is_set():
                try:
                    sample = sampler.sample(self._engine_pid())
                except Exception:  # a monitor must never take the app down; try again
                    log.exception("monitor sample failed")
                else:
                    self.latest = sample
                    self.sampled.emit(sample)
                self._stop.wait(self._interval_s)
        finally:
            sampler.close()

    def _engine_pid(self) -> int | None:
        source = self._source
        if source is None:
            return self._pid
        try:
            return source()
        except Exception:  # the engine is being replaced this very moment: no pid now
            return None
