"""How far a download has come, reported as a rate and ETA a person can read.

Kept apart from the transfer because callers (the CLI's progress line, the GUI's download
worker) only need ``Progress``, and the smoothing is the one place that decides how calm
the numbers look: a raw per-chunk rate makes the ETA jump with every burst.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.units import format_bytes

__all__ = ["Progress", "ProgressMeter", "duration_text", "progress_text"]


@dataclass(frozen=True)
class Progress:
    """Where a download stands. ``done`` only goes back when a part had to be discarded.

    Attributes:
        done: bytes of the model on disk (all shards).
        total: bytes of the model.
        rate: smoothed transfer rate in bytes per second (0 until measured).
        eta_s: seconds left at that rate (None while unknown).
        file: the file being worked on.
        stage: "checking" (re-hashing a part before resuming), "downloading",
            "installing" (moving the files into place; a copy onto another disk) or "done".
    """

    done: int
    total: int
    rate: float
    eta_s: float | None
    file: str
    stage: str = "downloading"


def duration_text(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 07 min``: a download's time left."""
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_text(p: Progress | None, *, sizes: bool = False) -> str:
    """What a download says in the app, the one wording everywhere: ``35% · 35.2 MB/s ·
    20 s left``; with ``sizes`` (where there is room) ``412.3 MB of 1.12 GB · 35.2 MB/s ·
    20 s left``."""
    if p is None or p.total <= 0:
        return "Starting…"
    done = f"{format_bytes(p.done)} of {format_bytes(p.total)}" if sizes else ""
    pct = f"{p.done / p.total:.0%}"
    if p.stage == "checking":
        return f"Checking what was already downloaded… {done or pct}"
    if p.stage in ("installing", "done"):
        return "Installing…"
    parts = [done or pct]
    if p.rate > 0:
        parts.append(f"{format_bytes(p.rate)}/s")
        if p.eta_s is not None:
            parts.append(f"{duration_text(p.eta_s)} left")
    return " · ".join(parts)


class ProgressMeter:
    """Counts bytes and reports them at most every ``interval`` seconds, with a rate
    smoothed over about ``tau`` seconds so the ETA does not jump with every burst."""

    def __init__(
        self,
        total: int,
        callback: Callable[[Progress], None] | None,
        interval: float = 0.2,
        tau: float = 3.0,
    ) -> None:
        self.total = total
        self.done = 0
        self.file = ""
        self.stage = "downloading"
        self.rate = 0.0
        self._callback = callback
        self._interval = interval
        self._tau = tau
        self._net = 0  # bytes that came over the network (the rate ignores restored ones)
        self._mark_t = time.monotonic()
        self._mark_net = 0
        self._last_emit = 0.0

    def add(self, n: int) -> None:
        self.done += n
        self._net += n
        self._maybe_emit()

    def restore(self, n: int) -> None:
        """Count bytes already on disk from an earlier run (not part of the rate)."""
        self.done += n
        self._maybe_emit()

    def rewind(self, n: int) -> None:
        self.done -= n
        self._emit()

    def installing(self) -> None:
        """Every byte is here and verified; the files are being moved into place."""
        self.done, self.stage = self.total, "installing"
        self._emit()

    def finish(self) -> None:
        self.done, self.stage = self.total, "done"
        self._emit()

    def _maybe_emit(self) -> None:
        now = time.monotonic()
        if now - self._last_emit >= self._interval:
            dt = now - self._mark_t
            if dt > 0:
                current = (self._net - self._mark_net) / dt
                weight = 1 - math.exp(-dt / self._tau)
                self.rate = (
                    current if self.rate == 0 else self.rate + weight * (current - self.rate)
                )
                self._mark_t, self._mark_net = now, self._net
            self._emit(now)

    def _emit(self, now: float | None = None) -> None:
        self._last_emit = now if now is not None else time.monotonic()
        if self._callback is None:
            return
        left = self.total - self.done
        eta = left / self.rate if self.rate > 0 else (0.0 if left == 0 else None)
        self._callback(Progress(self.done, self.total, self.rate, eta, self.file, self.stage))
