"""The engine host: runs in a spawned child process so llama.cpp can crash alone.

It receives ``GenerateRequest``s over a pipe, keeps one backend loaded, and sends
``(request_id, [event, ...])`` batches back. llama.cpp writes to stderr from C; the host points
its stdout and stderr at the engine log file, so nothing reaches the user's terminal.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from app.core.errors import AppError
from app.core.events import AnswerDelta, Done, ErrorEvent, Event, ReasoningDelta
from app.inference.backends.base import Backend, Control
from app.inference.protocol import GenerateRequest, LoadSpec, ReplaySpec

log = logging.getLogger("ponder.engine")

FLUSH_INTERVAL_S = 0.03


class EventBatcher:
    """Coalesces text deltas and sends them at most every ``FLUSH_INTERVAL_S``.

    Every message wakes the receiving process; on a machine with few cores that process
    then competes with llama.cpp's compute threads, and a token waits for its slowest
    thread. Sending ~30 batches a second instead of one message per token keeps the
    engine at native speed and spares the GUI per-token signals; 30 ms is below what a
    reader notices.
    """

    def __init__(
        self, conn: Connection, request_id: int, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self._conn = conn
        self._rid = request_id
        self._clock = clock
        self._pending: list[Event] = []
        self._due = clock() + FLUSH_INTERVAL_S
        self.load_s: float | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Done) and self.load_s is not None:
            event = Done(dataclasses.replace(event.stats, load_s=self.load_s))
        pending = self._pending
        if (
            pending
            and type(event) is type(pending[-1])
            and isinstance(event, ReasoningDelta | AnswerDelta)
        ):
            pending[-1] = type(event)(pending[-1].text + event.text)  # type: ignore[union-attr]
        else:
            pending.append(event)
        if isinstance(event, Done | ErrorEvent) or self._clock() >= self._due:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._conn.send((self._rid, self._pending))
            self._pending = []
        self._due = self._clock() + FLUSH_INTERVAL_S


def _redirect_output(log_path: str) -> None:
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


def _open_backend(spec: LoadSpec | ReplaySpec) -> Backend:
    if isinstance(spec, ReplaySpec):
        from app.inference.backends.replay import ReplayBackend

        return ReplayBackend(spec)
    # Imported here so that only the engine process ever loads llama.cpp.
    from app.inference.backends.llama import LlamaBackend

    return LlamaBackend(spec)


class _Host:
    """Keeps one backend loaded and serves requests with it."""

    def __init__(self, conn: Connection, slots: Any, log_path: str) -> None:
        self.conn, self.slots, self.log_path = conn, slots, log_path
        self.backend: Backend | None = None
        self.loaded: LoadSpec | ReplaySpec | None = None

    def serve(self, request: GenerateRequest) -> None:
        emit = EventBatcher(self.conn, request.request_id)
        try:
            if self.backend is None or self.loaded != request.model:
                self.close()
                self.backend = _open_backend(request.model)
                self.loaded = request.model
                emit.load_s = self.backend.load_s  # reported with this reply's stats
            self.backend.generate(request, Control(self.slots, request.request_id), emit)
        except AppError as exc:
            log.info("request %d failed: %s", request.request_id, exc)
            emit(ErrorEvent(exc.kind, exc.message, exc.hint))
        except Exception as exc:
            traceback.print_exc()
            emit(
                ErrorEvent(
                    "engine_error",
                    f"The engine failed: {str(exc)[:200]}.",
                    f"Details are in {self.log_path}.",
                )
            )
        emit.flush()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.backend, self.loaded = None, None


def host_main(conn: Connection, slots: Any, log_path: str) -> None:
    """Entry point of the engine process."""
    # Ctrl+C in a terminal reaches the whole process group; the client decides what it
    # means (stop the reply), so the engine itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    log.info("engine started (pid %d)", os.getpid())
    host = _Host(conn, slots, log_path)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if not isinstance(msg, GenerateRequest):
            break  # Shutdown
        host.serve(msg)
    host.close()
    log.info("engine stopped")
