"""Run `ponder` as a user would: a separate process, real stdin/stdout/stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def text(self, kind: str) -> str:
        return "".join(e["text"] for e in self.events if e["event"] == kind)


def ponder(*args: str, stdin: str | None = None, timeout: float = 240) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
