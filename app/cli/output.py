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


def table_lines(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> list[str]:
    """Rows under a header, each column as wide as its widest cell (columns in ``right``
    aligned right, for numbers); the last column is not padded."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        cells[-1] = str(row[-1])
        out.append("  ".join(cells).rstrip())
    return out


def style(text: str, code: str, stream: TextIO) -> str:
    """ANSI styling only when writing to a terminal."""
    return f"\033[{code}m{text}\033[0m" if stream.isatty() else text
