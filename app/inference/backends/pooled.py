"""A model pooled across machines: llama-server on loopback, its layers on rpc-servers.

llama-cpp-python cannot drive llama.cpp's RPC backend (``rpc_servers`` was removed in
0.3.10), so the engine process starts llama.cpp's own ``llama-server`` from Ponder's build
(RPC peers must come from the same ggml build: ``ponder worker`` runs that build's
rpc-server) with ``--rpc`` to the workers, and chats with it through the endpoint backend.
llama-server splits the layers across the workers in proportion to their free memory, or
by ``--tensor-split``.

A worker that dies mid-reply takes llama-server down with it; the reply ends with one
sentence naming the worker (its text kept), and the next message starts llama-server again
on the workers still reachable.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys

from app.core.errors import EngineError
from app.inference import native
from app.inference.backends.base import Control, Emit
from app.inference.backends.endpoint import EndpointBackend, EndpointError, wait_until_ready
from app.inference.protocol import EndpointSpec, GenerateRequest, PooledSpec

log = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 1800.0  # the full R1 over a LAN takes minutes to load


def reachable(worker: str, timeout_s: float = 1.0) -> bool:
    host, _, port = worker.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_engine() -> None:
    """In llama-server's process before exec (Linux): killed when the engine dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class PooledBackend:
    """llama-server with ``--rpc``, started on first use and after a worker is lost."""

    def __init__(self, spec: PooledSpec) -> None:
        self.spec = spec
        self.load_s = 0.0
        self.server: subprocess.Popen[bytes] | None = None
        self.endpoint: EndpointBackend | None = None
        self.workers: tuple[str, ...] = ()
        self._start()

    def progress(self) -> int:
        return self.endpoint.progress() if self.endpoint is not None else 0

    def _start(self) -> None:
        binary = native.program("llama-server")
        if binary is None:
            raise EngineError(
                "llama-server is not part of this installation.",
                "Run `make` again (it builds llama-server with llama.cpp).",
            )
        up = tuple(w for w in self.spec.workers if reachable(w))
        if not up:
            raise EndpointError(
                f"No worker is reachable ({', '.join(self.spec.workers)}).",
                "Start `ponder worker` on those machines, or check the addresses.",
            )
        if len(up) < len(self.spec.workers):
            gone = [w for w in self.spec.workers if w not in up]
            log.warning("workers not reachable, pooling without them: %s", ", ".join(gone))
        port = _free_port()
        args = [
            str(binary),
            "-m", self.spec.model_path,
            "--rpc", ",".join(up),
            "-ngl", "999",
            "--jinja",
            "--reasoning-format", "deepseek",
            "-np", "1",
            "-c", str(self.spec.n_ctx),
            "-fa", "on",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--no-webui",
        ]  # fmt: skip
        if self.spec.tensor_split and len(up) == len(self.spec.workers):
            args += ["-ts", ",".join(f"{x:g}" for x in self.spec.tensor_split)]
        log.info("starting llama-server: %s", " ".join(args))
        sys.stdout.flush()
        self.server = subprocess.Popen(  # its log goes to the engine log (fds 1 and 2)
            args,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_engine if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, LOAD_TIMEOUT_S, alive=lambda: self.server.poll() is None)
        except EngineError:
            self._stop()
            raise
        self.workers = up
        label = f"pooled ({len(up)} worker{'s' if len(up) != 1 else ''})"
        model = os.path.basename(self.spec.model_path)
        self.endpoint = EndpointBackend(EndpointSpec(url, model=model, label=label))

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        if self.server is None or self.server.poll() is not None:
            self._stop()
            self._start()
        assert self.endpoint is not None
        try:
            self.endpoint.generate(request, control, emit)
        except EndpointError:
            lost = [w for w in self.workers if not reachable(w)]
            if not lost:
                raise
            self._stop()
            names = ", ".join(lost)
            many = len(lost) > 1
            raise EndpointError(
                f"Worker{'s' if many else ''} {names} stopped answering mid-reply; the text "
                "so far is kept.",
                "The next message runs on the machines still reachable (or says why it cannot).",
            ) from None

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None
        server, self.server = self.server, None
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
