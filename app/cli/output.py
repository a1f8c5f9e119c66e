"""Printing helpers shared by the commands: JSON Lines, errors, terminal styling."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from app.core.errors import AppError


def print_json(obj: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def print_error(error: AppError) -> None:
    """One clear line on stderr (the message, then what to do)."""
    sys.stderr.write(f"ponder: {error}\n")
    sys.stderr.flush()


def print_rows(rows: Sequence[tuple[str, object]]) -> None:
    """Label/value pairs with the values aligned in one column."""
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def style(text: str, code: str, stream: TextIO) -> str:
    """ANSI styling only when writing to a terminal."""
    return f"\033[{code}m{text}\033[0m" if stream.isatty() else text
