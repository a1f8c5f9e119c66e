"""Streaming emits thousands of signals; the Qt binding must survive them.

PySide6 6.12.0 on Python 3.11 drops a reference to ``True`` on every ``Signal.emit()``
and aborts the interpreter after a few thousand (a real window crashed on its first long
answer). Run in a subprocess: the failure mode is an abort, not an exception.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

SCRIPT = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Worker(QObject):
    answer = Signal(str)
w = Worker()
got = []
w.answer.connect(got.append)
before = sys.getrefcount(True)
for _ in range(20000):
    w.answer.emit("token")
assert len(got) == 20000
assert sys.getrefcount(True) >= before - 10, (before, sys.getrefcount(True))
print("ok")
"""


def test_twenty_thousand_emits_do_not_crash_the_app() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
