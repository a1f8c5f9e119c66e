"""What the engine host needs from a backend, and the per-token control flags."""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from typing import Protocol

from app.core.events import Event
from app.inference.protocol import (
    ANSWER_NOW_SLOT,
    CANCEL_SLOT,
    PHASE_PROVEN,
    PHASE_SLOT,
    GenerateRequest,
)

Emit = Callable[[Event], None]


class Control:
    """Cancel / answer-now flags written by the client, read by the generation loop.

    The client writes the request id into a slot of a shared array; a flag is set for
    this request when its slot holds this request's id, so a late flag for an earlier
    request can never stop a later one. Reading it is a memory read, cheap per token.
    The flags are methods, not properties: another process sets them between two reads,
    and a call says so (a type checker does not carry one read's answer to the next).
    """

    def __init__(self, slots: MutableSequence[int], request_id: int) -> None:
        self._slots = slots
        self._id = request_id

    def cancelled(self) -> bool:
        return self._slots[CANCEL_SLOT] == self._id

    def answer_now(self) -> bool:
        return self._slots[ANSWER_NOW_SLOT] == self._id

    @property
    def proven(self) -> bool:
        return self._slots[PHASE_SLOT] == PHASE_PROVEN

    def mark_proven(self) -> None:
        """The CPU kernels ran a whole decode: a fault from now on is a crash, not a
        CPU library this machine cannot run (see ``app.inference.cpu_safety``)."""
        self._slots[PHASE_SLOT] = PHASE_PROVEN


class Backend(Protocol):
    load_s: float

    def progress(self) -> int:
        """A count that grows while the backend works (tokens, compute steps); read from
        the host's heartbeat thread, so it must be cheap and never block."""
        ...

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        """Run one reply, emitting events, ending with exactly one ``Done`` (or raise)."""
        ...

    def close(self) -> None: ...
