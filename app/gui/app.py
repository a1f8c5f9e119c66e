"""Start the desktop app: settings, the chat database, the engine worker, the window."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.errors import AppError
from app.core.paths import app_paths
from app.core.settings import load_settings
from app.core.store import ChatStore
from app.gui.render import markdown
from app.gui.render.math import MathRenderer
from app.gui.theme import apply_theme
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient

DESKTOP_ID = "ponder"  # must equal the .desktop file's name (without .desktop)

log = logging.getLogger(__name__)


@dataclass
class Session:
    """Everything the running app holds; ``close`` releases it in order."""

    window: MainWindow
    controller: ChatController
    worker: EngineWorker
    store: ChatStore

    def close(self) -> None:
        self.worker.shutdown()
        self.store.close()


def make_application(argv: list[str]) -> QApplication:
    app = QApplication(argv)
    app.setApplicationName("Ponder")
    app.setDesktopFileName(DESKTOP_ID)
    return app


def open_session(app: QApplication) -> Session:
    """Load settings and chats, start the engine worker, build the window (not shown).

    Raises ``AppError`` when the chat database cannot be opened.
    """
    paths = app_paths().ensure()
    settings = load_settings(paths.settings_file)
    apply_theme(app, settings.theme, settings.font_size)
    store = ChatStore(paths.database)
    recovered = store.recover_interrupted()
    store.purge_deleted()  # chats deleted last time (their undo has expired)
    if recovered:
        log.info("%d interrupted replies recovered", recovered)
    worker = EngineWorker(EngineClient(paths.engine_log))
    controller = ChatController(store, worker, settings)
    state = QSettings(str(paths.window_state), QSettings.Format.IniFormat)
    window = MainWindow(controller, math=MathRenderer(), state=state)
    # Code highlighting's imports happen now, in the background, not in the first answer.
    threading.Thread(target=markdown.warm_up, name="warm-up", daemon=True).start()
    return Session(window, controller, worker, store)


def run_gui() -> int:
    app = make_application(sys.argv)
    try:
        session = open_session(app)
    except AppError as exc:
        QMessageBox.critical(None, "Ponder cannot open its chats", f"{exc}\n\n{exc.hint}")
        return 1
    session.window.show()
    _quit_on_signals(app)
    code = app.exec()
    session.close()
    return code


def _quit_on_signals(app: QApplication) -> None:
    """SIGTERM (logout, `kill`, `timeout`) and Ctrl+C in a terminal close Ponder cleanly:
    the reply is stopped, the engine and math processes end, the database is closed.

    Python runs signal handlers only when it gets control, which Qt's event loop never gives
    it on its own; a light timer hands it control four times a second.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.quit())
    wake = QTimer(app, interval=250)
    wake.timeout.connect(lambda: None)
    wake.start()
