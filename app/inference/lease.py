"""The engine lease: the one owner of who uses the local engine, and in what order.

The chat, a comparison run and the local API server all want the one engine process (and
the memory of the one model it holds). Each asks the lease: it is granted in arrival order,
a caller that may not wait is refused with a sentence naming who holds it, and a full
queue refuses the newcomer. Qt-free: the GUI's engine thread, the API server's worker
threads and the CLI all use it the same way.

Memory between users: a holder names the engine it runs on (``Holder.engine``; the chat
and the API server share the app's, a comparison run starts engines of its own). When the
lease passes to a holder of another engine, the previous engine's ``free`` (registered with
``on_yield``) is called first, so a comparison measures with the chat's model unloaded and
the chat's next message loads it again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.core.errors import AppError


class EngineBusyError(AppError):
    """The engine is in use and the caller may not (or can no longer) wait."""

    kind = "engine_busy"


@dataclass(frozen=True)
class Holder:
    """Who uses the engine: "chat", "compare", "api" (and a detail for people), and which
    engine process it runs on ("app": the one the chat and the API server share)."""

    user: str
    detail: str = ""
    engine: str = "app"

    def describe(self) -> str:
        names = {"chat": "The chat", "compare": "Compare", "api": "An API client"}
        name = names.get(self.user, self.user)
        return f"{name} ({self.detail})" if self.detail else name


class EngineLease:
    """Grants the engine to one holder at a time, first come first served.

    Args:
        max_waiting: Callers allowed to queue; the next one is refused.
        on_change: Called (from the thread that changed it) with the new holder or None.
    """

    def __init__(
        self, max_waiting: int = 8, on_change: Callable[[Holder | None], None] | None = None
    ) -> None:
        self._cond = threading.Condition()
        self._holder: Holder | None = None
        self._queue: deque[object] = deque()
        self.max_waiting = max_waiting
        self.on_change = on_change
        self._frees: dict[str, Callable[[], None]] = {}
        self._last_engine: str | None = None  # the engine of the last holder

    def on_yield(self, engine: str, free: Callable[[], None]) -> None:
        """Call ``free()`` (to end engine ``engine``'s process, freeing its model's memory)
        when the lease passes from a holder on ``engine`` to one on another engine."""
        self._frees[engine] = free

    @property
    def holder(self) -> Holder | None:
        return self._holder

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def busy_for(self, user: str) -> Holder | None:
        """Who would make ``user`` wait now (None: it would be served at once)."""
        with self._cond:
            if self._holder is not None and self._holder.user != user:
                return self._holder
            return None

    @contextmanager
    def hold(
        self,
        holder: Holder,
        timeout_s: float | None = None,
        abandoned: Callable[[], bool] | None = None,
    ) -> Iterator[Holder]:
        """Use the engine; waits its turn up to ``timeout_s`` (None: as long as it takes,
        0: not at all), or until ``abandoned()`` says the caller gave up (Stop).

        Raises:
            EngineBusyError: not granted in time, given up, or the queue is full.
        """
        ticket = object()
        with self._cond:
            if self._holder is not None or self._queue:
                if timeout_s == 0:
                    raise self._busy(holder)
                if len(self._queue) >= self.max_waiting:
                    raise EngineBusyError(
                        f"{len(self._queue)} requests are already waiting for the engine.",
                        "Try again when they are done.",
                    )
            self._queue.append(ticket)
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while self._holder is not None or self._queue[0] is not ticket:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or (abandoned is not None and abandoned()):
                    self._queue.remove(ticket)
                    self._cond.notify_all()
                    raise self._busy(holder)
                # Woken by a release; a caller who may give up looks again now and then.
                self._cond.wait(left if abandoned is None else min(left or 0.2, 0.2))
            self._queue.popleft()
            self._holder = holder
            previous, self._last_engine = self._last_engine, holder.engine
        self._changed(holder)
        try:
            if previous not in (None, holder.engine) and (free := self._frees.get(previous)):
                free()  # the previous user's model leaves memory before this one's comes in
            yield holder
        finally:
            with self._cond:
                self._holder = None
                self._cond.notify_all()
            self._changed(None)

    def _busy(self, asking: Holder) -> EngineBusyError:
        now = self._holder
        who = now.describe() if now is not None else "Another request"
        return EngineBusyError(
            f"{who} is using the model.",
            f"{asking.describe()} can try again when it is done.",
        )

    def _changed(self, holder: Holder | None) -> None:
        if self.on_change is not None:
            self.on_change(holder)
