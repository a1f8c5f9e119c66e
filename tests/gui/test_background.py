"""The one way the GUI runs short jobs: every job ends in a result or a sentence."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QObject, QThreadPool
from pytestqt.qtbot import QtBot

from app.core.errors import AppError
from app.core.paths import app_paths
from app.gui.workers.background import BackgroundJobs

WAIT = 10_000


class Answers:
    def __init__(self) -> None:
        self.results: list[object] = []
        self.failures: list[str] = []
        self.threads: list[threading.Thread] = []

    def then(self, value: object) -> None:
        self.threads.append(threading.current_thread())
        self.results.append(value)

    def failed(self, message: str) -> None:
        self.threads.append(threading.current_thread())
        self.failures.append(message)

    @property
    def count(self) -> int:
        return len(self.results) + len(self.failures)


def test_a_result_arrives_on_the_gui_thread(qtbot: QtBot) -> None:
    jobs, answers = BackgroundJobs(), Answers()
    worked_on: list[threading.Thread] = []

    def work() -> int:
        worked_on.append(threading.current_thread())
        return 42

    jobs.run(work, answers.then, answers.failed)
    assert jobs.running == 1
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT)
    assert answers.results == [42] and answers.failures == []
    assert worked_on != [threading.main_thread()]
    assert answers.threads == [threading.main_thread()]
    assert jobs.running == 0


def test_a_known_error_is_its_sentence_and_hint(qtbot: QtBot) -> None:
    jobs, answers = BackgroundJobs(), Answers()

    def work() -> int:
        raise AppError("The disk is full.", "Free some space and try again.")

    jobs.run(work, answers.then, answers.failed, what="Saving")
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT)
    assert answers.failures == ["The disk is full. Free some space and try again."]


def test_a_bug_says_what_failed_and_where_the_log_is(qtbot: QtBot) -> None:
    jobs, answers = BackgroundJobs(), Answers()

    def work() -> int:
        return int("forty-two")

    jobs.run(work, answers.then, answers.failed, what="Counting")
    qtbot.waitUntil(lambda: answers.count == 1, timeout=WAIT)
    assert answers.failures == [
        f"Counting failed (ValueError); the log file {app_paths().app_log} has the details."
    ]


def test_an_answer_after_the_owner_is_gone_is_dropped(qtbot: QtBot) -> None:
    owner = QObject()
    jobs, answers = BackgroundJobs(owner), Answers()
    release = threading.Event()
    jobs.run(lambda: release.wait(WAIT / 1000), answers.then, answers.failed)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(owner), timeout=WAIT)
    release.set()
    QThreadPool.globalInstance().waitForDone(WAIT)
    qtbot.wait(50)  # a queued answer would be delivered now
    assert answers.count == 0
