"""Run the API server: uvicorn in a thread of its own (the app) or in the foreground (CLI).

Binds to loopback unless a host is named; off loopback an API key is required (the caller
makes or reads it with ``app.server.keys``).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

import uvicorn

from app.core.errors import AppError, BadInputError
from app.server.api import ServerState, create_app

log = logging.getLogger(__name__)

DEFAULT_PORT = 8134


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiServer:
    """One running server; ``stop`` ends it (the engine is not touched)."""

    def __init__(
        self, state: ServerState, host: str = "127.0.0.1", port: int = DEFAULT_PORT
    ) -> None:
        if not is_loopback(host) and not state.api_key:
            raise BadInputError(
                f"Serving on {host} (beyond this computer) needs an API key.",
                "Run `ponder serve --new-key` once, or serve on 127.0.0.1.",
            )
        self.state, self.host, self.port = state, host, port
        config = uvicorn.Config(
            create_app(state), host=host, port=port, log_level="warning", access_log=False,
            lifespan="off",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def check_port(self) -> None:
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as s:
            try:
                s.bind((self.host, self.port))
            except OSError as exc:
                raise AppError(
                    f"Cannot serve on {self.host}:{self.port} ({exc.strerror}).",
                    "Another program may use that port: choose another with --port.",
                ) from None

    def run(self) -> None:
        """In the foreground, until interrupted."""
        self.check_port()
        self.server.run()

    def start(self) -> None:
        """In a background thread; returns once it listens."""
        self.check_port()
        self.thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise AppError(f"The API server did not start on {self.host}:{self.port}.")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)
