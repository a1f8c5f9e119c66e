"""Engine plumbing without a model: event batching and the stop/answer-now flags."""

from __future__ import annotations

import multiprocessing as mp

from app.core.events import AnswerDelta, Done, GenerationStats, ReasoningDelta
from app.inference.backends.base import Control
from app.inference.host import EventBatcher
from app.inference.protocol import ANSWER_NOW_SLOT, CANCEL_SLOT


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_deltas_are_merged_and_sent_about_every_30_ms() -> None:
    receiver, sender = mp.Pipe(duplex=False)
    clock = Clock()
    batcher = EventBatcher(sender, request_id=7, clock=clock)
    for piece in ["Let", " me", " see"]:
        batcher(ReasoningDelta(piece))
    batcher(AnswerDelta("4"))
    assert not receiver.poll()  # nothing sent before the interval
    clock.t = 0.031
    batcher(AnswerDelta("2"))
    assert receiver.recv() == (7, [ReasoningDelta("Let me see"), AnswerDelta("42")])
    batcher(AnswerDelta("!"))
    batcher(Done(GenerationStats()))
    rid, events = receiver.recv()
    assert rid == 7 and events[0] == AnswerDelta("!") and isinstance(events[1], Done)


def test_load_time_is_reported_with_the_first_reply() -> None:
    receiver, sender = mp.Pipe(duplex=False)
    batcher = EventBatcher(sender, request_id=1)
    batcher.load_s = 1.5
    batcher(Done(GenerationStats()))
    _, [done] = receiver.recv()
    assert done.stats.load_s == 1.5


def test_a_late_stop_for_an_earlier_reply_does_not_stop_the_next() -> None:
    slots = [0, 0]
    slots[CANCEL_SLOT] = 3  # the user pressed stop as reply 3 was ending
    slots[ANSWER_NOW_SLOT] = 3
    nxt = Control(slots, request_id=4)
    assert not nxt.cancelled() and not nxt.answer_now()
    slots[CANCEL_SLOT] = 4
    assert nxt.cancelled()
