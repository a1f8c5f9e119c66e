"""The app with a faulty chat database: damaged pages, a lock another process holds, a file
the kernel will not let anyone write. Real files; the app runs as ``python -m app`` (what
``ponder`` runs) where start-up and signals are what is tested, and in this process where
the dialogs are answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.errors import DatabaseDamagedError
from app.gui.app import Quitting, Session, _known_errors_to_status_bar, open_chats, open_session
from app.gui.views.database_notices import UNSAVED_NOTICE, UnsavedLabel
from tests.conftest import ROOT
from tests.db_faults import (
    damage,
    later_pages,
    lock_held,
    make_chats,
    read_only_file,
    release,
    sha256,
)
from tests.gui.conftest import ReplayFactory
from tests.gui.test_chat_window import WAIT, questions, replies

pytestmark = pytest.mark.gui


class Answers:
    """Answers the message boxes as they come up, in order, by their buttons' text (the
    start-up dialogs run their own event loops, which run this timer too)."""

    def __init__(self, *buttons: str) -> None:
        self.buttons = list(buttons)
        self.seen: list[str] = []
        self._done: set[int] = set()
        self.before_answer: dict[int, object] = {}
        self.timer = QTimer(interval=50)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if not (isinstance(widget, QMessageBox) and widget.isVisible()):
                continue
            if id(widget) in self._done or not self.buttons:
                continue
            self._done.add(id(widget))
            self.seen.append(f"{widget.text()} | {widget.informativeText()}")
            if (then := self.before_answer.get(len(self.seen))) is not None:
                then()  # type: ignore[operator]
            label = self.buttons.pop(0)
            (button,) = [b for b in widget.buttons() if b.text() == label]
            button.click()

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture
def answers() -> Iterator[list[Answers]]:
    made: list[Answers] = []
    yield made
    for a in made:
        a.stop()


def _closed(session: Session | None) -> None:
    if session is not None:
        session.close()
        session.window.deleteLater()


def _start_app(home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PONDER_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_for(proc: subprocess.Popen[bytes], log: Path, words: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if words in text:
            return text
        assert proc.poll() is None, text
        time.sleep(0.2)
    raise AssertionError(f"{words!r} never came; the app said:\n{log.read_text()}")


def test_a_damaged_database_is_refused_in_words_and_the_dialog_closes_on_sigterm(
    ponder_home: Path, tmp_path: Path
) -> None:
    """Pages after the first overwritten: the app says the file is damaged (no "bug", no
    SIGABRT), waits in its dialog, and a logout's SIGTERM closes that dialog and the app."""
    db = ponder_home / "chats.sqlite3"
    make_chats(db)
    damage(db, later_pages(db))
    before = sha256(db)
    log = tmp_path / "app.out"
    proc = _start_app(ponder_home, log)
    try:
        said = _wait_for(proc, log, "is damaged")
        assert (
            f"ponder: The chat database {db} is damaged. Ponder can salvage what can still "
            "be read into a new database, and keeps the damaged file beside it." in said
        )
        time.sleep(1)  # the dialog is up, waiting
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 1, log.read_text()  # the chats did not open
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text()
    assert "this is a bug" not in out and "Destroyed while thread" not in out
    assert sha256(db) == before  # refused without a byte written
    assert sorted(p.name for p in ponder_home.glob("chats*")) == ["chats.sqlite3"]


def test_salvage_from_the_start_up_dialog_opens_what_came_back(
    qapp: QApplication, ponder_home: Path, answers: list[Answers]
) -> None:
    db = ponder_home / "chats.sqlite3"
    original = make_chats(db)
    damage(db, later_pages(db))
    answers.append(clicks := Answers("Salvage", "OK"))
    session = open_chats(qapp, Quitting())
    try:
        assert session is not None
        damaged, salvaged = clicks.seen
        assert damaged.startswith(f"The chat database {db} is damaged. | ")
        assert "came back" in salvaged and "The damaged file is kept as" in salvaged
        kept = next(ponder_home.glob("chats.damaged-*.sqlite3"))
        assert str(kept) in salvaged
        shown = session.window.conversations.rowCount()
        assert shown == len(original.chats)  # every chat, each with what could be read
        assert f"{shown} conversations and " in salvaged
        messages = sum(len(session.store.messages(c.id)) for c in session.store.conversations())
        assert 0 < messages < original.message_count
        assert f"and {messages} messages came back" in salvaged
        assert session.store.unsaved is None  # the new file is written as usual
    finally:
        _closed(session)


def test_a_locked_database_says_who_holds_it_and_retry_opens_it(
    qapp: QApplication, ponder_home: Path, answers: list[Answers]
) -> None:
    db = ponder_home / "chats.sqlite3"
    make_chats(db, conversations=3)
    before = sha256(db)
    session = None
    with lock_held(db) as holder:
        answers.append(clicks := Answers("Retry"))
        clicks.before_answer[1] = lambda: release(holder)  # the other program lets go
        session = open_chats(qapp, Quitting())
    try:
        assert session is not None
        (locked,) = clicks.seen
        assert locked.startswith(
            f"The chat database {db} is in use by another program (python"  # its name
        )
        assert f"process {holder.pid})." in locked
        assert "retry" in locked and "damaged" not in locked and "aside" not in locked
        assert session.window.conversations.rowCount() == 3
    finally:
        _closed(session)
    assert not list(ponder_home.glob("chats.damaged-*"))  # nothing was set aside
    assert sha256(db) == before


@pytest.fixture
def read_only_home(ponder_home: Path, tmp_path: Path) -> Iterator[Path]:
    """PONDER_HOME's chats.sqlite3 through a read-only bind mount: one chat in it."""
    source = tmp_path / "source.sqlite3"
    make_chats(source, conversations=1, messages=2)
    with read_only_file(source, ponder_home / "chats.sqlite3") as db:
        yield db


def test_a_read_only_database_keeps_what_is_sent_on_screen_and_says_it_is_not_saved(
    qtbot: QtBot, qapp: QApplication, read_only_home: Path, replay: ReplayFactory
) -> None:
    before = sha256(read_only_home)
    session = open_session(qapp)
    try:
        window = session.window
        qtbot.addWidget(window)
        window.show()
        (label,) = window.statusBar().findChildren(UnsavedLabel)
        assert label.isVisible() and label.text() == "Not saving chats"
        assert f"Ponder cannot save to the chat database {read_only_home}" in label.toolTip()
        assert window.conversations.rowCount() == 1  # the chats it has are there

        window.controller.set_model(replay(answer="Saved nowhere, shown here."))
        window.composer.set_text("Will this be kept?")
        with qtbot.waitSignal(window.controller.reply_finished, timeout=WAIT) as done:
            window.composer.send_button.click()
        assert done.args[0].state == "complete"
        assert window.composer.text() == ""  # sent, not refused
        assert [q.row.content for q in questions(window)] == ["Will this be kept?"]
        qtbot.waitUntil(
            lambda: "Saved nowhere" in replies(window)[0].answer_view.toPlainText(), timeout=WAIT
        )
        assert window.statusBar().currentMessage() == UNSAVED_NOTICE
        assert window.conversations.rowCount() == 2
    finally:
        _closed(session)
    assert sha256(read_only_home) == before


def test_a_read_only_database_is_announced_at_start_and_sigterm_quits(
    read_only_home: Path, ponder_home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "app.out"
    proc = _start_app(ponder_home, log)
    try:
        said = _wait_for(proc, log, "cannot save")
        assert (
            f"ponder: Ponder cannot save to the chat database {read_only_home}: "
            f"{read_only_home} is read-only. Your chats open" in said
        )
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pages_damaged_while_the_app_runs_are_a_sentence_in_the_status_bar_not_a_bug(
    qtbot: QtBot, qapp: QApplication, ponder_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ponder_home / "chats.sqlite3"
    original = make_chats(db)
    session = open_session(qapp)
    try:
        window = session.window
        qtbot.addWidget(window)
        monkeypatch.setattr(sys, "excepthook", lambda *_: pytest.fail("reported as a bug"))
        _known_errors_to_status_bar(window)
        damage(db, later_pages(db, count=12))
        session.store.db.execute("PRAGMA shrink_memory")  # nothing left in SQLite's cache
        failed = []
        for cid in original.chats:  # opening each chat from the sidebar
            try:
                window.controller.open_conversation(cid)
            except DatabaseDamagedError as exc:  # what a slot raises reaches the hook
                failed.append(exc)
                sys.excepthook(type(exc), exc, exc.__traceback__)
        assert failed
        assert window.statusBar().currentMessage() == (
            f"The chat database {db} is damaged. What is on screen is kept; quit Ponder and "
            "start it again to salvage what can be read."
        )
    finally:
        _closed(session)


def test_the_self_test_says_why_the_chats_cannot_open_with_its_hint_once(
    ponder_home: Path, gemma_path: Path
) -> None:
    """A damaged database where the self-test opens its chats (a real damaged file): one
    line with the reason and what to do, the hint not said twice."""
    db = ponder_home / "chats.sqlite3"
    make_chats(db)
    damage(db, later_pages(db))
    env = dict(os.environ, PONDER_HOME=str(ponder_home), QT_QPA_PLATFORM="offscreen")
    code = (
        "import sys; from pathlib import Path; from app.gui.app import run_self_test; "
        f"sys.exit(run_self_test(Path({str(gemma_path)!r}), 60))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("ponder: self-test")]
    assert line.startswith(f"ponder: self-test failed: The chat database {db} is damaged.")
    hint = "Ponder can salvage what can still be read"
    assert line.count(hint) == 1 and "Traceback" not in done.stderr


def test_the_cannot_open_dialog_says_the_hint_once(qtbot: QtBot, answers: list[Answers]) -> None:
    from app.core.errors import AppError
    from app.gui.views.database_notices import tell_refused

    shown = Answers("OK")
    answers.append(shown)
    tell_refused(AppError("The chats cannot be opened.", "Free some disk space and start again."))
    (said,) = shown.seen
    assert said == "The chats cannot be opened. | Free some disk space and start again."
