"""The engine host: runs in a spawned child process so llama.cpp can crash alone.

It receives ``GenerateRequest``s over a pipe, keeps one backend loaded, and sends
``(request_id, event)`` tuples back. llama.cpp writes to stderr from C; the host points
its stdout and stderr at the engine log file, so nothing reaches the user's terminal.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from app.core.errors import AppError
from app.core.events import Done, ErrorEvent, Event
from app.inference.backends.base import Backend, Control
from app.inference.protocol import GenerateRequest, LoadSpec, ReplaySpec, Shutdown

log = logging.getLogger("ponder.engine")


def _redirect_output(log_path: str) -> None:
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")


def _open_backend(spec: LoadSpec | ReplaySpec) -> Backend:
    if isinstance(spec, ReplaySpec):
        from app.inference.backends.replay import ReplayBackend

        return ReplayBackend(spec)
    # Imported here so that only the engine process ever loads llama.cpp.
    from app.inference.backends.llama import LlamaBackend

    return LlamaBackend(spec)


def host_main(conn: Connection, slots: Any, log_path: str) -> None:
    """Entry point of the engine process."""
    # Ctrl+C in a terminal reaches the whole process group; the client decides what it
    # means (stop the reply), so the engine itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    log.info("engine started (pid %d)", os.getpid())
    backend: Backend | None = None
    loaded: LoadSpec | ReplaySpec | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if isinstance(msg, Shutdown) or not isinstance(msg, GenerateRequest):
            break
        request = msg

        def emit(event: Event, rid: int = request.request_id) -> None:
            conn.send((rid, event))

        try:
            load_s = None
            if backend is None or loaded != request.model:
                if backend is not None:
                    backend.close()
                    backend, loaded = None, None
                backend = _open_backend(request.model)
                loaded, load_s = request.model, backend.load_s
            send = emit
            if load_s is not None:
                def send(event: Event, load_s: float = load_s) -> None:
                    if isinstance(event, Done):
                        event = Done(dataclasses.replace(event.stats, load_s=load_s))
                    emit(event)
            backend.generate(request, Control(slots, request.request_id), send)
        except AppError as exc:
            log.info("request %d failed: %s", request.request_id, exc)
            emit(ErrorEvent(exc.kind, exc.message, exc.hint))
        except Exception as exc:
            traceback.print_exc()
            emit(ErrorEvent("engine_error", f"The engine failed: {exc}.",
                            f"Details are in {log_path}."))
    if backend is not None:
        backend.close()
    log.info("engine stopped")
