"""The engine lease: one holder at a time, first come first served, refusals in a sentence.

Real threads against the real lease; the "work" is waiting on events the test controls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest

from app.inference.lease import EngineBusyError, EngineLease, Holder


class Job:
    """A thread that holds the lease until the test lets it go."""

    def __init__(self, lease: EngineLease, holder: Holder, order: list[str], **kw: Any) -> None:
        self.granted = threading.Event()
        self.done = threading.Event()
        self.error: EngineBusyError | None = None
        self.thread = threading.Thread(target=self._run, args=(lease, holder, order, kw))
        self.thread.start()

    def _run(
        self, lease: EngineLease, holder: Holder, order: list[str], kw: dict[str, Any]
    ) -> None:
        try:
            with lease.hold(holder, **kw):
                order.append(holder.detail)
                self.granted.set()
                self.done.wait(10)
        except EngineBusyError as exc:
            self.error = exc

    def finish(self) -> None:
        self.done.set()
        self.thread.join(10)


def wait_until(check: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(500):
        if check():
            return
        event.wait(0.01)
    raise AssertionError("the lease never got there")


@contextmanager
def holding(lease: EngineLease, holder: Holder) -> Iterator[Job]:
    order: list[str] = []
    job = Job(lease, holder, order)
    assert job.granted.wait(10)
    try:
        yield job
    finally:
        job.finish()


def test_callers_are_served_one_at_a_time_in_arrival_order() -> None:
    lease, order = EngineLease(), list[str]()
    first = Job(lease, Holder("chat", "1"), order)
    assert first.granted.wait(10)
    later = []
    for n in "234":
        later.append(Job(lease, Holder("api", n), order))
        wait_until(partial(lambda k: lease.waiting == k, int(n) - 1))
    assert lease.holder == Holder("chat", "1") and lease.waiting == 3
    for job in [first, *later]:
        job.finish()
    assert order == ["1", "2", "3", "4"]
    assert lease.holder is None and lease.waiting == 0


def test_one_that_may_not_wait_is_told_who_holds_the_engine() -> None:
    lease = EngineLease()
    with (
        holding(lease, Holder("compare", "measuring 3 models")),
        pytest.raises(EngineBusyError) as busy,
        lease.hold(Holder("chat"), timeout_s=0),
    ):
        pass
    assert busy.value.message == "Compare (measuring 3 models) is using the model."
    assert busy.value.hint == "The chat can try again when it is done."
    with lease.hold(Holder("chat"), timeout_s=0) as got:  # free again: granted at once
        assert lease.holder == got


def test_a_full_queue_refuses_the_newcomer_with_the_count() -> None:
    lease, order = EngineLease(max_waiting=2), list[str]()
    with holding(lease, Holder("api", "running")):
        waiting = [Job(lease, Holder("api", f"w{i}"), order) for i in range(2)]
        wait_until(lambda: lease.waiting == 2)
        with pytest.raises(EngineBusyError) as full, lease.hold(Holder("api", "third")):
            pass
        assert full.value.message == "2 requests are already waiting for the engine."
    for job in waiting:
        job.finish()
    assert order == ["w0", "w1"]  # the ones that queued were served


def test_a_caller_who_gives_up_leaves_the_queue_and_the_next_is_served() -> None:
    lease, order = EngineLease(), list[str]()
    stopped = threading.Event()
    with holding(lease, Holder("api", "running")):
        quitter = Job(lease, Holder("chat", "quitter"), order, abandoned=stopped.is_set)
        wait_until(lambda: lease.waiting == 1)
        patient = Job(lease, Holder("api", "patient"), order)
        wait_until(lambda: lease.waiting == 2)
        stopped.set()
        quitter.thread.join(10)
        assert quitter.error is not None and "is using the model" in quitter.error.message
        assert lease.waiting == 1
    patient.finish()
    assert order == ["patient"]


def test_a_wait_that_runs_out_is_refused_and_the_lease_stays_usable() -> None:
    lease = EngineLease()
    with holding(lease, Holder("api", "long")):
        with pytest.raises(EngineBusyError), lease.hold(Holder("chat"), timeout_s=0.05):
            pass
        assert lease.waiting == 0
    with lease.hold(Holder("chat"), timeout_s=0):
        pass


def test_busy_for_ignores_the_callers_own_kind() -> None:
    lease = EngineLease()
    assert lease.busy_for("chat") is None
    with holding(lease, Holder("api", "model-a")):
        assert lease.busy_for("api") is None
        assert lease.busy_for("chat") == Holder("api", "model-a")


def test_every_change_of_holder_is_reported_and_an_error_inside_releases() -> None:
    seen: list[Holder | None] = []
    lease = EngineLease(on_change=seen.append)
    with pytest.raises(RuntimeError), lease.hold(Holder("chat", "x")):
        raise RuntimeError("the engine died")
    assert seen == [Holder("chat", "x"), None]
    assert lease.holder is None
    with lease.hold(Holder("api"), timeout_s=0):
        pass
    assert seen[-2:] == [Holder("api"), None]
    assert Holder("api").describe() == "An API client"
    assert Holder("worker", "7B").describe() == "worker (7B)"


def test_passing_to_another_engine_frees_the_previous_ones_memory_first() -> None:
    """The chat and the API share the app's engine: no unload between them. A comparison
    runs engines of its own: the app's model leaves memory before it starts, once."""
    lease, freed = EngineLease(), list[str]()
    lease.on_yield("app", lambda: freed.append(f"app freed, holder {lease.holder}"))
    for holder in (Holder("chat"), Holder("api", "r1"), Holder("chat")):
        with lease.hold(holder):
            pass
    assert freed == []
    with lease.hold(Holder("compare", "measuring 2 models", "compare")):
        assert freed == [
            "app freed, holder Holder(user='compare', detail='measuring 2 models', "
            "engine='compare')"
        ]
    with lease.hold(Holder("chat")):  # Compare's engines are gone by then: nothing to free
        pass
    assert len(freed) == 1
