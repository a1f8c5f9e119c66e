"""The `ponder` command line: parses arguments, runs a command, turns errors into one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from app import __version__
from app.cli import (
    bench_cmd,
    chat,
    fit_cmd,
    inspect_cmd,
    models_cmd,
    serve_cmd,
    worker_cmd,
)
from app.cli.output import print_error
from app.core.errors import AppError
from app.core.paths import app_paths

log = logging.getLogger("ponder")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own usage errors: exit 2 with one line, as for any bad input.
        self.exit(
            2,
            f"ponder: {message} (see `ponder {' '.join(self.prog.split()[1:])} --help`)\n"
            if " " in self.prog
            else f"ponder: {message} (see `ponder --help`)\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ponder",
        description="Chat offline with local reasoning models. "
        "Run with no arguments to open the app.",
        epilog="Check an installation: ponder --self-test MODEL.gguf (opens the window "
        "offscreen, loads the model in the engine process and generates a few tokens).",
    )
    parser.add_argument("--version", action="version", version=f"ponder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chat.add_parser(sub)
    inspect_cmd.add_parser(sub)
    fit_cmd.add_parsers(sub)
    models_cmd.add_parser(sub)
    bench_cmd.add_parser(sub)
    worker_cmd.add_parser(sub)
    serve_cmd.add_parser(sub)
    return parser


def run(argv: list[str]) -> int:
    """Run a CLI command; returns the exit code (0 ok, 2 bad input, 1 other failure)."""
    args = build_parser().parse_args(argv)
    if not getattr(args, "func", None):
        build_parser().print_help()
        return 2
    try:
        return int(args.func(args))
    except AppError as exc:
        print_error(exc)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`ponder ... | head -1`): not an error worth a word, and
        # Python must not complain when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:
        paths = app_paths()
        log.exception("unexpected error in `ponder %s`", " ".join(argv))
        sys.stderr.write(
            f"ponder: unexpected error; this is a bug. Details are in {paths.app_log}.\n"
        )
        return 1
