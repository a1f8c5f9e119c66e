"""Work spread over event-loop turns, so that no frame does much of it.

A long chat builds its earlier messages as the user scrolls up, and their formulas are
drawn in the background and come back to be put in place. Done as it came, that work
piled up in single frames (a scroll step of tens of milliseconds). Here formulas are asked
for a few at a time (``MathQueue``), and the GUI-thread work that follows from them, and
the building of messages, runs as small jobs, as many per turn as fit a few milliseconds
(``TurnWork``); painting and input get their turn between.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Slot

from app.gui.render.math import MathKey, MathRenderer

MATH_IN_FLIGHT = 4  # formulas being drawn at once
MATH_STUCK_MS = 5000  # a formula not back by then no longer holds up the others
TURN_BUDGET_S = 0.002  # jobs stop for the turn once this much time has gone to them
_TURN_WORK = "ponder_turn_work"
# The app-wide queues are looked up often (each message built, each formula drawn): among
# their owner's own children only, not its whole tree.
_DIRECT = Qt.FindChildOption.FindDirectChildrenOnly


class MathWaiter(Protocol):
    def math_drawn(self, key: MathKey) -> None: ...


class MathQueue(QObject):
    """Formulas asked of one renderer, ``MATH_IN_FLIGHT`` at a time, in the order asked;
    each drawn one is handed to the views that wait for it.

    Opening or scrolling through a long chat asks for hundreds of formulas at once; drawn
    all together, they came back in bursts, and each one is turned into an image on the GUI
    thread, so a burst was a frame of tens of milliseconds. A few at a time, they arrive
    spread over the frames. And only the views that wait for a formula hear of it: with
    every view of a long chat listening to the renderer, each formula called all of them.
    """

    def __init__(self, renderer: MathRenderer) -> None:
        super().__init__(renderer)  # lives and dies with its renderer
        self._renderer = renderer
        self._queue: deque[MathKey] = deque()
        self._queued: set[MathKey] = set()
        self._flying: set[MathKey] = set()
        self._waiters: dict[MathKey, list[MathWaiter]] = {}
        self._pumping = False
        # A formula whose drawing never reports back (its worker died) must not hold up
        # the others for good.
        self._stuck = QTimer(self, singleShot=True, interval=MATH_STUCK_MS)
        self._stuck.timeout.connect(self._on_stuck)
        renderer.ready.connect(self._on_ready)

    @staticmethod
    def of(renderer: MathRenderer) -> MathQueue:
        found = renderer.findChild(MathQueue, options=_DIRECT)
        return found if isinstance(found, MathQueue) else MathQueue(renderer)

    def ask(self, waiter: MathWaiter, keys: list[MathKey]) -> None:
        """Draw ``keys``; ``waiter.math_drawn(key)`` follows for each (if it still lives)."""
        for key in keys:
            self._waiters.setdefault(key, []).append(waiter)
            if key not in self._queued and key not in self._flying:
                self._queue.append(key)
                self._queued.add(key)
        self._pump()

    def _pump(self) -> None:
        if self._pumping:
            return  # a formula already drawn answers inside request(): no recursion
        self._pumping = True
        try:
            while self._queue and len(self._flying) < MATH_IN_FLIGHT:
                key = self._queue.popleft()
                self._queued.discard(key)
                if self._renderer.lookup(key) is None:
                    self._flying.add(key)
                    self._stuck.start()
                    self._renderer.request(key)
                else:
                    self._hand_out(key)  # drawn meanwhile (asked for by another view)
        finally:
            self._pumping = False

    def _hand_out(self, key: MathKey) -> None:
        for waiter in self._waiters.pop(key, []):
            if not isinstance(waiter, QObject) or shiboken6.isValid(waiter):
                waiter.math_drawn(key)  # (a view deleted meanwhile is skipped)

    @Slot(object)
    def _on_ready(self, key: MathKey) -> None:
        self._flying.discard(key)
        self._hand_out(key)
        self._pump()

    def _on_stuck(self) -> None:
        self._flying.clear()
        self._pump()


class TurnWork(QObject):
    """Small jobs run a few per event-loop turn: as many as fit ``TURN_BUDGET_S`` (at
    least one; a job is not started when what jobs of its name took lately would not fit
    what is left), the rest in the next turn; after a turn of long jobs (building a reply),
    one turn without any, for Qt to show and lay out what they made. A job added again
    before it ran runs once.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[tuple[int, str], tuple[QObject, Callable[[], None]]] = {}
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._run)
        self._rest = False
        self._costs: dict[str, float] = {}  # seconds a job of this name took, lately

    @staticmethod
    def of() -> TurnWork:
        """The application's queue (one, so that its jobs share each turn's budget)."""
        app = QCoreApplication.instance()
        found = app.findChild(TurnWork, _TURN_WORK, _DIRECT) if app is not None else None
        if isinstance(found, TurnWork):
            return found
        work = TurnWork(app)
        work.setObjectName(_TURN_WORK)
        return work

    def add(self, owner: QObject, job: Callable[[], None]) -> None:
        """Run ``job`` in a coming turn, unless ``owner`` is deleted before."""
        self._jobs[(id(owner), getattr(job, "__name__", repr(job)))] = (owner, job)
        if not self._timer.isActive():
            self._timer.start()

    def pending(self) -> int:
        return len(self._jobs)

    def _run(self) -> None:
        if self._rest:
            # The turn after a long job: Qt shows, lays out and paints what it built.
            self._rest = False
            self._timer.start()
            return
        start = time.perf_counter()
        ran = False
        while self._jobs:
            key = next(iter(self._jobs))
            # A job that would not fit the rest of the turn waits for the next one: a turn
            # of a few small jobs and one that builds a reply would be a frame too long.
            guess = self._costs.get(key[1], 0.0)
            if ran and time.perf_counter() - start + guess > TURN_BUDGET_S:
                break
            owner, job = self._jobs.pop(key)
            began = time.perf_counter()
            if shiboken6.isValid(owner):
                job()
            took = time.perf_counter() - began
            # The dearer of this time and a fading memory of the last: a name whose jobs
            # differ (building a question or a reply) is judged by its dearer ones.
            self._costs[key[1]] = max(took, 0.8 * guess)
            ran = True
        self._rest = time.perf_counter() - start >= 2 * TURN_BUDGET_S
        if self._jobs:
            self._timer.start()
