"""Composition root: `ponder` opens the app, `ponder COMMAND ...` runs the CLI."""

from __future__ import annotations

import logging
import multiprocessing
import sys
from types import TracebackType

from app.core.paths import app_paths
from app.core.redact import install_log_redaction

log = logging.getLogger("ponder")


def _install_logging() -> None:
    """Log to the app's log file; an uncaught exception is logged there, not lost. A Hub
    token never reaches the log (redacted from every record)."""
    paths = app_paths().ensure()
    logging.basicConfig(
        filename=paths.app_log,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        sys.stderr.write(
            f"ponder: unexpected error ({kind.__name__}); this is a bug. "
            f"Details are in {paths.app_log}.\n"
        )

    sys.excepthook = excepthook
    install_log_redaction()


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process of a frozen app starts here
    args = sys.argv[1:] if argv is None else argv
    _install_logging()
    if not args:
        from app.gui.app import run_gui

        return run_gui()
    from app.cli.main import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
