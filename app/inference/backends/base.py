"""What the engine host needs from a backend, and the per-token control flags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from app.core.events import Event
from app.inference.protocol import ANSWER_NOW_SLOT, CANCEL_SLOT, GenerateRequest

Emit = Callable[[Event], None]


class Control:
    """Cancel / answer-now flags written by the client, read by the generation loop.

    The client writes the request id into a slot of a shared array; a flag is set for
    this request when its slot holds this request's id, so a late flag for an earlier
    request can never stop a later one. Reading it is a memory read, cheap per token.
    """

    def __init__(self, slots: Sequence[int], request_id: int) -> None:
        self._slots = slots
        self._id = request_id

    @property
    def cancelled(self) -> bool:
        return self._slots[CANCEL_SLOT] == self._id

    @property
    def answer_now(self) -> bool:
        return self._slots[ANSWER_NOW_SLOT] == self._id


class Backend(Protocol):
    load_s: float

    def generate(self, request: GenerateRequest, control: Control, emit: Emit) -> None:
        """Run one reply, emitting events, ending with exactly one ``Done`` (or raise)."""
        ...

    def close(self) -> None: ...
