"""The app's local API server (Settings → "Serve the models to other apps").

The server shares the chat's engine through the engine lease: an API request and a chat
message never run at once; whoever comes second waits its turn. This object starts and
stops the server as the setting changes and tells the window what to show: the address
while it serves, and when an API client holds the model.

Signals:
    address_changed(str): the URL clients use ("" when the server is off).
    holder_changed(str): who uses the model now, in words ("" when no one).
    failed(str): the server could not start, in one sentence.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from app.core.errors import AppError
from app.core.settings import Settings
from app.gui.workers.engine_worker import EngineWorker
from app.inference.lease import Holder
from app.server.api import ServedModel, ServerState
from app.server.models import ServedModels
from app.server.runner import ApiServer

log = logging.getLogger(__name__)


class ApiServerController(QObject):
    address_changed = Signal(str)
    holder_changed = Signal(str)
    failed = Signal(str)

    def __init__(self, worker: EngineWorker, models: ServedModels, parent: QObject | None = None):
        super().__init__(parent)
        self.worker, self.models = worker, models
        self.server: ApiServer | None = None
        self._port = 0
        # The lease calls this from whichever thread takes or frees the engine; a signal
        # carries it to the GUI thread.
        worker.lease.on_change = self._on_holder

    @property
    def address(self) -> str:
        return self.server.url if self.server is not None else ""

    def apply(self, settings: Settings) -> None:
        """Serve when the setting says so (on its port), stop when it does not."""
        wanted = settings.serve_api
        if self.server is not None and (not wanted or settings.serve_port != self._port):
            self.stop()
        if wanted and self.server is None:
            self._start(settings.serve_port)

    def set_default_model(self, name: str, path: str) -> None:
        """The model open in the chat: offered first, and used when a request names none."""
        self.models.default = ServedModel(name, path)
        if self.server is not None:
            self.server.state.default_model = name

    def _start(self, port: int) -> None:
        default = self.models.default
        state = ServerState(
            client=self.worker.client,
            lease=self.worker.lease,
            models=self.models,
            default_model=default.id if default else None,
        )
        try:
            server = ApiServer(state, "127.0.0.1", port)
            server.start()
        except AppError as exc:
            log.warning("API server not started: %s", exc)
            self.failed.emit(str(exc))
            return
        self.server, self._port = server, port
        log.info("API server on %s", server.url)
        self.address_changed.emit(server.url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
            self.address_changed.emit("")

    def _on_holder(self, holder: Holder | None) -> None:
        self.holder_changed.emit(holder.describe() if holder is not None else "")
