"""Start the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from app.core.paths import app_paths
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient

DESKTOP_ID = "ponder"  # must equal the .desktop file's name (without .desktop)


def run_gui() -> int:
    app = QApplication(sys.argv)
    app.setApplicationName("Ponder")
    app.setDesktopFileName(DESKTOP_ID)
    paths = app_paths().ensure()
    worker = EngineWorker(EngineClient(paths.engine_log))
    window = MainWindow(worker)
    window.show()
    code = app.exec()
    worker.shutdown()
    return code
