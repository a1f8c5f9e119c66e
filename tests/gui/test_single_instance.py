"""One Ponder per data folder: starting it again brings the open window forward.

Real processes, a real lock file and real local sockets. The app runs as `python -m app`
(what `ponder` runs), offscreen.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from pytestqt.qtbot import QtBot

from app.gui import single_instance
from app.gui.single_instance import LOCK_NAME, SingleInstance
from app.gui.views.main_window import MainWindow
from tests.conftest import ROOT

pytestmark = pytest.mark.gui

# A second start, as far as the lock and the socket go (the window is tested on its own).
ASK = """
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from app.gui.single_instance import SingleInstance
app = QCoreApplication([])
sys.exit(0 if SingleInstance(Path(sys.argv[1])).notify_running() else 1)
"""

# Holds the lock like a Ponder that hangs: it never answers (listening or not).
HOLD = """
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication, QLockFile
from app.gui import single_instance
from app.gui.single_instance import LOCK_NAME, SingleInstance
app = QCoreApplication([])
if sys.argv[2] == "listening":  # no event loop runs: connections are never answered
    holder = SingleInstance(Path(sys.argv[1]))
    assert holder.acquire()
else:
    lock = QLockFile(str(Path(sys.argv[1]) / LOCK_NAME))
    assert lock.tryLock(0)
print("locked", flush=True)
sys.stdin.readline()
"""


Start = Callable[[str], "subprocess.Popen[bytes]"]


def _lock_owner(data_dir: Path) -> int | None:
    try:
        return int((data_dir / LOCK_NAME).read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@pytest.fixture
def start_app(tmp_path: Path, ponder_home: Path) -> Iterator[Start]:
    """Start `ponder` (the window, offscreen); every copy started is ended afterwards."""
    env = dict(os.environ, PONDER_HOME=str(ponder_home), QT_QPA_PLATFORM="offscreen")
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.out").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "app"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            kill_tree(proc)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the app and its engine and math processes, as a crash would end them."""
    try:
        family = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(family, timeout=10)
    proc.wait()


def wait_for_lock(data_dir: Path, proc: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 60
    while _lock_owner(data_dir) != proc.pid:
        assert proc.poll() is None, out.read_text()
        assert time.monotonic() < deadline, "the app never took its data folder's lock"
        time.sleep(0.2)


def test_a_second_start_brings_the_open_window_forward_and_exits(
    start_app: Start, ponder_home: Path, tmp_path: Path
) -> None:
    first = start_app("first")
    wait_for_lock(ponder_home, first, tmp_path / "first.out")

    second = start_app("second")
    assert second.wait(timeout=60) == 0, (tmp_path / "second.out").read_text()
    assert "already open" in (tmp_path / "second.out").read_text()
    # The first copy is still the one running, and it was asked to show its window.
    assert first.poll() is None
    assert "asked for the window" in (ponder_home / "logs" / "ponder.log").read_text()

    first.terminate()
    assert first.wait(timeout=30) == 0
    assert not (ponder_home / LOCK_NAME).exists()  # the next start takes over at once


def test_the_lock_of_a_crashed_ponder_is_taken_over(
    start_app: Start, ponder_home: Path, tmp_path: Path
) -> None:
    """A crash leaves the lock file and the socket file behind; the next start is not
    turned away by them, and a start after that reaches the new copy."""
    crashed = start_app("crashed")
    wait_for_lock(ponder_home, crashed, tmp_path / "crashed.out")
    kill_tree(crashed)
    assert (ponder_home / LOCK_NAME).exists()

    now = start_app("now")
    wait_for_lock(ponder_home, now, tmp_path / "now.out")
    again = start_app("again")
    assert again.wait(timeout=60) == 0, (tmp_path / "again.out").read_text()
    assert now.poll() is None


def test_the_window_comes_back_from_the_taskbar(
    qtbot: QtBot, window: MainWindow, ponder_home: Path
) -> None:
    """A second start while the window is minimised restores it."""
    instance = SingleInstance(ponder_home)
    assert instance.acquire()
    instance.activated.connect(window.bring_forward)
    try:
        window.showMinimized()
        qtbot.waitUntil(window.isMinimized)
        ask = subprocess.Popen([sys.executable, "-c", ASK, str(ponder_home)], cwd=ROOT)
        qtbot.waitUntil(lambda: not window.isMinimized(), timeout=30_000)
        assert window.isVisible()
        qtbot.waitUntil(lambda: ask.poll() is not None, timeout=30_000)
        assert ask.returncode == 0  # it was told the window was shown
    finally:
        instance.release()


@pytest.mark.parametrize("how", ["listening", "not listening"])
def test_a_ponder_that_does_not_answer_is_reported_and_can_be_taken_over(
    qtbot: QtBot, ponder_home: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """When the copy holding the lock never answers (hung), a second start gives up and
    names the process; the user may still open anyway."""
    monkeypatch.setattr(single_instance, "ANSWER_TIMEOUT_MS", 2_000)
    ponder_home.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ponder_home), how],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        instance = SingleInstance(ponder_home)
        try:
            assert not instance.acquire()
            assert not instance.notify_running()
            assert instance.owner_pid() == holder.pid
            instance.take_over()  # "Open anyway": the hung copy keeps its lock, we open too
        finally:
            instance.release()
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
    # Once nobody holds it, a start gets the lock.
    instance = SingleInstance(ponder_home)
    try:
        assert instance.acquire()
    finally:
        instance.release()


def test_a_lock_left_by_another_computer_is_taken_over_when_the_user_says_so(
    qtbot: QtBot, ponder_home: Path
) -> None:
    """A data folder shared between computers (an NFS home): a crashed copy on the other
    one leaves a lock that cannot be judged from here, so it is not taken silently;
    "Open anyway" takes it."""
    ponder_home.mkdir(parents=True, exist_ok=True)
    (ponder_home / LOCK_NAME).write_text("4242\npython3\nanother-computer\n")
    instance = SingleInstance(ponder_home)
    try:
        assert not instance.acquire()
        assert instance.owner_pid() == 4242
        instance.take_over()
        assert instance.owner_pid() == os.getpid()
    finally:
        instance.release()
    assert not (ponder_home / LOCK_NAME).exists()
