"""Run the real app (as ``ponder`` builds it) with a download whose Hub never answers.

Used by test_app_crash.py as a separate process that the test asks to quit (SIGTERM)
while the download's thread is stuck in a request. Prints ``downloading`` once the
download has started.
Usage: python -m tests.gui.quit_driver
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

from app.gui.app import _quit_on_signals, end_session, make_application, open_session
from app.modelhub.catalog import load_catalog


def main() -> int:
    app = make_application(sys.argv[:1])
    _quit_on_signals(app)
    session = open_session(app, welcome=False)
    session.window.show()
    entry = load_catalog().models[0]
    quant = entry.quant(entry.default_quant)

    def start() -> None:
        assert session.window.services.downloads.start("stuck", quant)
        print("downloading", flush=True)

    QTimer.singleShot(0, start)
    code = app.exec()
    return end_session(session, code)


if __name__ == "__main__":
    sys.exit(main())
