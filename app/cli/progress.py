"""Download and hashing progress for the CLI: a one-line bar on a terminal, JSON Lines
events for ``--json``, and nothing at all when stderr is a pipe or a file (a log full of
carriage returns helps nobody, and scripts that want progress ask for ``--json``)."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from app.cli.output import print_json
from app.core.units import format_bytes
from app.modelhub.downloader import Progress

BAR_INTERVAL_S = 0.1  # a terminal redraw at most ~10x/s
JSON_INTERVAL_S = 0.5  # a JSON consumer wants news, not a flood: at most ~2x/s
_STAGES = {"checking": "checking", "downloading": "", "done": "done"}


def format_eta(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s``; ``--:--`` while unknown."""
    if seconds is None:
        return "--:--"
    s = int(seconds + 0.5)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def render_bar(p: Progress, width: int) -> str:
    """One line, at most ``width`` characters: name, bar, percent, bytes, rate, ETA."""
    pct = p.done / p.total if p.total else 0.0
    stage = _STAGES.get(p.stage, p.stage)
    facts = f" {pct * 100:5.1f}%  {format_bytes(p.done)} / {format_bytes(p.total)}"
    if p.stage == "downloading":
        rate = f"{format_bytes(p.rate)}/s" if p.rate > 0 else "-- B/s"
        facts += f"  {rate}  ETA {format_eta(p.eta_s)}"
    elif stage:
        facts += f"  {stage}"
    bar_width = max(10, min(30, width // 4))
    filled = int(bar_width * pct)
    bar = "[" + "#" * filled + "-" * (bar_width - filled) + "]"
    room = width - len(bar) - len(facts) - 2
    name = p.file if len(p.file) <= room else (p.file[: max(room - 3, 0)] + "...")
    line = f"{name} {bar}{facts}" if room > 3 else f"{bar}{facts}"
    return line[:width]


class ProgressView:
    """Callable the downloader reports ``Progress`` to; ``close`` ends the output cleanly.

    Args:
        mode: "bar" (redrawn line on ``stream``), "json" (events on ``stream``) or "none".
        stream: where the bar or the events go.
    """

    def __init__(self, mode: str, stream: TextIO) -> None:
        self.mode = mode
        self._stream = stream
        self._last = 0.0
        self._last_stage = ""
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        if self.mode == "none":
            return
        now = time.monotonic()
        interval = BAR_INTERVAL_S if self.mode == "bar" else JSON_INTERVAL_S
        # Stage changes always show; otherwise the rate limit holds.
        if p.stage == self._last_stage and now - self._last < interval:
            return
        self._last, self._last_stage = now, p.stage
        if self.mode == "json":
            if p.stage != "done":  # the command reports the end itself, with the paths
                print_json(
                    {
                        "event": "progress",
                        "stage": p.stage,
                        "file": p.file,
                        "done": p.done,
                        "total": p.total,
                        "rate": round(p.rate, 1),
                        "eta_s": None if p.eta_s is None else round(p.eta_s, 1),
                    },
                    self._stream,
                )
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self._stream.write("\r" + render_bar(p, width) + "\033[K")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line so whatever comes next starts on a fresh one."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def progress_view(*, json_lines: bool) -> ProgressView:
    """JSON events on stdout with ``--json``; else a bar when stderr is a terminal."""
    if json_lines:
        return ProgressView("json", sys.stdout)
    return ProgressView("bar" if sys.stderr.isatty() else "none", sys.stderr)
