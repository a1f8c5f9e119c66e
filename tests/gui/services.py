"""The app's services for a test's window, built the way ``open_session`` builds them."""

from __future__ import annotations

from typing import Any

from app.core.paths import app_paths
from app.core.store import ChatStore
from app.gui.services import Services
from app.gui.viewmodels.chat_controller import ChatController


def services_for(controller: ChatController, **kw: Any) -> Services:
    """The services of the app whose chat is ``controller`` (its store, its engine's lease)
    in the test's PONDER_HOME; ``kw`` as ``Services.build`` takes them (tokens, retry)."""
    return Services.build(
        app_paths().ensure(), controller.store, lease=controller.worker.lease, **kw
    )


def window_services(store: ChatStore, **kw: Any) -> Services:
    """Services for a window tested without a chat (the Models window, the first-run page)."""
    return Services.build(app_paths().ensure(), store, **kw)
