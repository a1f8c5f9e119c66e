"""The engine host: runs in a spawned child process so llama.cpp can crash alone.

It receives ``GenerateRequest``s over a pipe, keeps one backend loaded, and sends
``(request_id, [event, ...])`` batches back. llama.cpp writes to stderr from C; the host points
its stdout and stderr at the engine log file, so nothing reaches the user's terminal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from app.core.errors import AppError
from app.core.events import AnswerDelta, Done, ErrorEvent, Event, ReasoningDelta
from app.core.lifetime import exit_with_parent
from app.inference.backends.base import Backend, Control
from app.inference.protocol import (
    CPU_VARIANT_SLOT,
    HEARTBEAT_S,
    HEARTBEAT_SLOT,
    PHASE_PROVEN,
    PHASE_SLOT,
    PHASE_UNPROVEN,
    EndpointSpec,
    GenerateRequest,
    ModelSpec,
    PooledSpec,
    ReplaySpec,
)

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
            and event.sample == pending[-1].sample  # type: ignore[union-attr]
        ):
            pending[-1] = type(event)(pending[-1].text + event.text, event.sample)  # type: ignore[union-attr]
        else:
            pending.append(event)
        if isinstance(event, Done | ErrorEvent) or self._clock() >= self._due:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._conn.send((self._rid, self._pending))
            self._pending = []
        self._due = self._clock() + FLUSH_INTERVAL_S


class _LogStream(io.TextIOWrapper):
    """stdout/stderr of the engine: the log file, where a failed write is dropped.

    A full disk (or a log on a folder gone read-only) must cost log lines, never the
    engine: Python would otherwise raise from ``print`` and logging, and exit with code
    120 when it cannot flush at the end. llama.cpp's own writes (C stdio on the same file
    descriptors) already fail silently.
    """

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            super().flush()


def _redirect_output(log_path: str) -> None:
    try:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)  # no log at all rather than no engine
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = _LogStream(open(1, "wb", buffering=0, closefd=False), line_buffering=True)  # noqa: SIM115
    sys.stderr = _LogStream(open(2, "wb", buffering=0, closefd=False), line_buffering=True)  # noqa: SIM115
    logging.raiseExceptions = False  # a handler that cannot write says nothing
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per remote request
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


def _open_backend(spec: ModelSpec, slots: Any, excluded: tuple[str, ...]) -> Backend:
    if isinstance(spec, ReplaySpec):
        from app.inference.backends.replay import ReplayBackend

        return ReplayBackend(spec)
    if isinstance(spec, EndpointSpec):
        from app.inference.backends.endpoint import EndpointBackend

        return EndpointBackend(spec)
    if isinstance(spec, PooledSpec):
        from app.inference.backends.pooled import PooledBackend

        return PooledBackend(spec)
    # Imported here so that only the engine process ever loads llama.cpp.
    from app.inference import native
    from app.inference.backends.llama import LlamaBackend

    if slots[PHASE_SLOT] != PHASE_PROVEN:
        slots[PHASE_SLOT] = PHASE_UNPROVEN
    cpu = native.load_backends(excluded)
    if cpu.variant is not None:
        slots[CPU_VARIANT_SLOT] = 1 + list(native.cpu_variants()).index(cpu.variant)
    return LlamaBackend(spec, cpu)


class _Host:
    """Keeps one backend loaded and serves requests with it."""

    def __init__(
        self, conn: Connection, slots: Any, log_path: str, excluded: tuple[str, ...]
    ) -> None:
        self.conn, self.slots, self.log_path = conn, slots, log_path
        self.excluded = excluded
        self.backend: Backend | None = None
        self.loaded: ModelSpec | None = None
        self.loading = False
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()

    def _heartbeat(self) -> None:
        """Bump the shared heartbeat while the engine makes progress. Loading a model
        reports none (llama.cpp's progress callback is not reachable through the
        bindings), so it counts as progress; a reply that stops moving does not."""
        last = -1
        while True:
            time.sleep(HEARTBEAT_S)
            backend = self.backend
            if self.loading:
                self.slots[HEARTBEAT_SLOT] += 1
            elif backend is not None and (now := backend.progress()) != last:
                last = now
                self.slots[HEARTBEAT_SLOT] += 1

    def serve(self, request: GenerateRequest) -> None:
        emit = EventBatcher(self.conn, request.request_id)
        try:
            if self.backend is None or self.loaded != request.model:
                self.close()
                self.loading = True
                try:
                    self.backend = _open_backend(request.model, self.slots, self.excluded)
                finally:
                    self.loading = False
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


def host_main(
    conn: Connection,
    slots: Any,
    log_path: str,
    excluded_cpu: tuple[str, ...] = (),
    parent_pid: int | None = None,
) -> None:
    """Entry point of the engine process.

    Args:
        excluded_cpu: llama.cpp CPU libraries that fault on this machine (skipped).
        parent_pid: The app's process; the engine ends within a second of its death, even
            mid-load or mid-prompt (it would otherwise hold the model's memory).
    """
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    # Ctrl+C in a terminal reaches the whole process group; the client decides what it
    # means (stop the reply), so the engine itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    log.info("engine started (pid %d)", os.getpid())
    host = _Host(conn, slots, log_path, excluded_cpu)
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
