"""Composition root: `ponder` opens the app, `ponder COMMAND ...` runs the CLI."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process of a frozen app starts here
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from app.gui.app import run_gui

        return run_gui()
    from app.cli.main import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
