"""The engine client: Qt-free, used by the CLI directly and by the GUI from a QThread.

It starts the engine host in a spawned process on first use, sends requests, and turns
the replies into an iterator of events. If the process dies, the iterator ends with an
``engine_crashed`` error at once (the process sentinel wakes the wait), and the next
request starts a fresh process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from app.core.events import Done, ErrorEvent, Event, GenerationStats
from app.inference.host import host_main
from app.inference.protocol import (
    ANSWER_NOW_SLOT,
    CANCEL_SLOT,
    GenerateRequest,
    LoadSpec,
    ReplaySpec,
    SamplingParams,
    Shutdown,
)

log = logging.getLogger(__name__)

POLL_S = 0.25
CANCEL_GRACE_S = 10.0


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"signal {-code}"
        if sig is signal.SIGABRT:
            return "llama.cpp aborted"
        if sig is signal.SIGKILL:
            return "it was killed, possibly for lack of memory"
        if sig is signal.SIGSEGV:
            return "it crashed"
        return f"it received {sig.name}"
    return f"exit code {code}"


class EngineClient:
    """Talks to one engine process at a time.

    ``generate`` is meant for one worker thread; ``cancel`` and ``answer_now`` may be
    called from any thread while it runs.
    """

    def __init__(self, log_path: Path, cancel_grace_s: float = CANCEL_GRACE_S) -> None:
        self._log_path = log_path
        self._cancel_grace_s = cancel_grace_s
        self._mp = mp.get_context("spawn")
        self._slots: Any = self._mp.RawArray(ctypes.c_longlong, 2)
        self._proc: Any = None
        self._conn: Connection | None = None
        self._next_id = 0
        self._current = 0
        self._cancel_at: float | None = None
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def pid(self) -> int | None:
        """The engine process's id while it runs (any thread may ask: the monitor does)."""
        proc = self._proc  # read once: the engine thread may replace it meanwhile
        try:
            return proc.pid if proc is not None and proc.exitcode is None else None
        except ValueError:  # closed by the engine thread meanwhile (after it ended)
            return None

    def start(self) -> None:
        """Start the engine process if none is running (it also starts on demand)."""
        if self._proc is not None and self._proc.is_alive():
            return
        self._cleanup()
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(
            target=host_main,
            args=(child, self._slots, str(self._log_path)),
            name="ponder-engine",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        log.info("engine process %d started", proc.pid)

    def generate(
        self,
        model: LoadSpec | ReplaySpec,
        messages: list[dict[str, str]],
        sampling: SamplingParams | None = None,
        raw_prompt: str | None = None,
    ) -> Iterator[Event]:
        """Yield the reply's events; the last one is ``Done`` or ``ErrorEvent``."""
        self.start()
        assert self._conn is not None and self._proc is not None
        with self._lock:
            self._next_id += 1
            rid = self._current = self._next_id
            self._cancel_at = None
        request = GenerateRequest(rid, model, messages, sampling or SamplingParams(), raw_prompt)
        conn, proc = self._conn, self._proc
        try:
            conn.send(request)
        except (BrokenPipeError, OSError):
            yield self._crashed()
            return
        finished = False
        try:
            while True:
                ready = wait([conn, proc.sentinel], timeout=POLL_S)
                if conn in ready:
                    try:
                        got, batch = conn.recv()
                    except (EOFError, OSError):
                        yield self._crashed()
                        return
                    if got != rid:
                        continue  # a late batch of an earlier, abandoned request
                    for event in batch:
                        finished = isinstance(event, Done | ErrorEvent)
                        yield event
                        if finished:
                            return
                elif proc.sentinel in ready:
                    yield self._crashed()
                    return
                elif (
                    self._cancel_at is not None
                    and time.monotonic() - self._cancel_at > self._cancel_grace_s
                ):
                    log.warning(
                        "engine did not stop within %.0f s; terminating it", self._cancel_grace_s
                    )
                    self._terminate()
                    yield Done(GenerationStats(stop_reason="stopped"))
                    return
        finally:
            with self._lock:
                if not finished:
                    # The caller stopped listening (closed the iterator): stop the engine
                    # too, or the next request would wait behind an unwanted reply.
                    self._slots[CANCEL_SLOT] = rid
                self._current = 0

    def cancel(self) -> bool:
        """Stop the running reply (it ends with ``Done`` and ``stop_reason="stopped"``);
        an engine that does not stop within the grace period (say, mid-load) is terminated.
        False when no reply was running. Asking again does not restart the grace period."""
        with self._lock:
            if not self._current:
                return False
            self._slots[CANCEL_SLOT] = self._current
            if self._cancel_at is None:
                self._cancel_at = time.monotonic()
            return True

    def answer_now(self) -> None:
        """End the reasoning now and let the model write its answer."""
        with self._lock:
            if self._current:
                self._slots[ANSWER_NOW_SLOT] = self._current

    def kill(self) -> None:
        """Kill the engine process now, from any thread (quitting while it loads a model);
        a ``generate`` running on another thread sees it end and returns."""
        proc = self._proc
        with contextlib.suppress(ValueError):  # closed by the other thread meanwhile
            if proc is not None and proc.is_alive():
                proc.kill()

    def close(self) -> None:
        """Stop the engine process (politely, then firmly)."""
        if self._proc is None:
            return
        if self._proc.is_alive() and self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(Shutdown())
            self._proc.join(timeout=5)
        self._terminate()

    def _crashed(self) -> ErrorEvent:
        proc = self._proc
        if proc is not None:
            proc.join(timeout=1)
        reason = describe_exit(proc.exitcode if proc is not None else None)
        self._cleanup()
        return ErrorEvent(
            "engine_crashed",
            f"The engine stopped unexpectedly ({reason}).",
            f"Your conversation is safe; send again to restart it. Details are in "
            f"{self._log_path}.",
        )

    def _terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=3)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and not self._proc.is_alive():
            self._proc.close()
        self._proc, self._conn = None, None
