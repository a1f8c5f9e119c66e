"""Composition root: `ponder` opens the app, `ponder COMMAND ...` runs the CLI."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from app.core.paths import app_paths
from app.core.prompt_sets import RUN_SCRIPT_FLAG
from app.core.redact import install_log_redaction

log = logging.getLogger("ponder")

SELF_TEST_TIMEOUT_S = 300.0


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
    # First of all: in a frozen app the engine and math processes are this same program,
    # started with multiprocessing's arguments; they run their task here and exit.
    multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [RUN_SCRIPT_FLAG] and getattr(sys, "frozen", False) and len(args) == 2:
        # The bundle's `python FILE`: prompt-set code checks run the model's code with it.
        runpy.run_path(args[1], run_name="__main__")
        return 0
    if args[:1] == ["--self-test"]:
        return self_test(args[1:])
    try:
        _install_logging()
    except OSError as exc:  # PONDER_HOME (or the user's data folder) is not writable
        where = exc.filename or os.environ.get("PONDER_HOME") or "the data folder"
        sys.stderr.write(
            f"ponder: cannot write to {where} ({exc.strerror or exc}). "
            "Set PONDER_HOME to a folder you can write to, or unset it.\n"
        )
        return 1
    if not args:
        from app.gui.app import run_gui

        return run_gui()
    from app.cli.main import run

    return run(args)


def self_test(args: list[str]) -> int:
    """`ponder --self-test MODEL.gguf [--timeout S]`: does this installation work?

    Opens the window offscreen, has the engine process load MODEL and write a few tokens,
    prints one line and exits 0 (1 on failure, 2 for bad arguments). It runs in a fresh
    temporary PONDER_HOME so that the user's chats and settings are never touched; on
    failure that folder is kept for its logs.
    """
    parser = argparse.ArgumentParser(
        prog="ponder --self-test",
        description="Check that Ponder works here: open the window offscreen, load MODEL "
        "in the engine process and generate a few tokens.",
    )
    parser.add_argument("model", type=Path, metavar="MODEL.gguf", help="a GGUF model file")
    parser.add_argument(
        "--timeout",
        type=float,
        default=SELF_TEST_TIMEOUT_S,
        metavar="S",
        help=f"give up after S seconds (default {SELF_TEST_TIMEOUT_S:g})",
    )
    ns = parser.parse_args(args)
    model: Path = ns.model.expanduser()
    if not model.is_file():
        sys.stderr.write(f"ponder: no model file at {model}; give the path of a .gguf file.\n")
        return 2
    if ns.timeout <= 0:
        sys.stderr.write("ponder: --timeout must be a positive number of seconds.\n")
        return 2
    home = Path(tempfile.mkdtemp(prefix="ponder-self-test-"))
    os.environ["PONDER_HOME"] = str(home)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _install_logging()
    from app.gui.app import run_self_test

    code = run_self_test(model.absolute(), ns.timeout)
    logging.shutdown()
    if code == 0:
        shutil.rmtree(home, ignore_errors=True)
    else:
        sys.stderr.write(f"ponder: the self-test's logs are in {home / 'logs'}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
