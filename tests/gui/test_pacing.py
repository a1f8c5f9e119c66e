"""Work spread over event-loop turns (``TurnWork``): no turn much longer than its budget."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from app.gui.views.pacing import TURN_BUDGET_S, TurnWork

pytestmark = pytest.mark.gui


def test_a_job_that_would_not_fit_what_is_left_of_a_turn_waits_for_the_next(
    qtbot: QtBot,
) -> None:
    """A few small jobs and one long one (building a reply) in the same turn made a frame
    of the budget plus the long job; the long one now waits for a turn of its own. (The
    turns are run by hand here, one ``_run`` each, to see which jobs share one.)"""
    work, owner, ran = TurnWork(), QObject(), []

    def small() -> None:
        ran.append("small")

    def build_reply() -> None:
        time.sleep(1.5 * TURN_BUDGET_S)
        ran.append("build_reply")

    work.add(owner, build_reply)
    work._run()  # what a reply takes to build is learnt
    assert ran == ["build_reply"]
    ran.clear()
    work._rest = False  # (the turn after a long job is left to Qt's painting)

    work.add(owner, small)
    work.add(owner, build_reply)
    work._run()
    assert ran == ["small"]
    work._run()
    assert ran == ["small", "build_reply"]
    assert work.pending() == 0
