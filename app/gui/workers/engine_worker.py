"""Runs the Qt-free ``EngineClient`` on its own thread and re-emits its events as signals."""

from __future__ import annotations

import logging
import queue
import threading

from PySide6.QtCore import QThread, Signal

from app.core.events import (
    AnswerDelta,
    Done,
    EngineSilence,
    ErrorEvent,
    GenerationStats,
    LiveStats,
    ReasoningDelta,
    SampleDone,
)
from app.inference.client import EngineClient
from app.inference.lease import EngineBusyError, EngineLease, Holder
from app.inference.protocol import ModelSpec, SamplingParams

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_MS = 3000

_Request = tuple[ModelSpec, list[dict[str, str]], SamplingParams, int]


class EngineWorker(QThread):
    """A thread that serves generation requests one at a time, in order.

    ``submit`` queues a request from the GUI thread; the signals below are emitted from the
    worker thread and reach GUI slots as queued calls, so only the GUI thread touches Qt
    models. Stop and answer-now do not wait in the queue (they would wait behind the reply
    they should stop): they set the client's shared flags directly.

    Signals:
        reasoning(str): more chain of thought.
        answer(str): more answer text.
        sample_reasoning(int, str) / sample_answer(int, str): the same for one sample of a
            group reply ("Think N ways"): the sample's index, the text.
        sample_done(int, object): that sample has ended; its ``GenerationStats``.
        progress(object): a ``LiveStats`` (with ``sample`` set in a group reply).
        reply_done(object): the reply (or the whole group) ended; carries
            ``GenerationStats`` (not named ``finished``: that is QThread's own signal,
            emitted when the thread ends).
        failed(str, str, str): kind, message, hint.
        silence(float): the engine has made no progress for this many seconds while a
            reply runs; 0.0 when it moves again.
        waiting(str): the reply waits for the engine, which another user (an API client,
            a comparison run) holds; says who.
    """

    reasoning = Signal(str)
    answer = Signal(str)
    sample_reasoning = Signal(int, str)
    sample_answer = Signal(int, str)
    sample_done = Signal(int, object)
    progress = Signal(object)
    reply_done = Signal(object)
    failed = Signal(str, str, str)
    silence = Signal(float)
    waiting = Signal(str)

    def __init__(self, client: EngineClient, lease: EngineLease | None = None) -> None:
        super().__init__()
        self.setObjectName("engine-worker")
        self.client = client
        # Shared with the API server and Compare (the app's one lease); own one if alone.
        self.lease = lease if lease is not None else EngineLease()
        # When Compare takes the engine, this engine's model leaves memory; the next
        # message starts it again (the client starts on demand).
        self.lease.on_yield("app", client.close)
        self._stop_waiting = threading.Event()
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self.start()

    def submit(
        self,
        model: ModelSpec,
        messages: list[dict[str, str]],
        sampling: SamplingParams,
        samples: int = 1,
    ) -> None:
        """Queue a reply; ``samples > 1`` asks for a group of that many answers."""
        self._requests.put((model, messages, sampling, samples))

    def run(self) -> None:
        try:
            self.client.start()  # spawn the engine process now, not on the first message
        except Exception:  # it starts on demand later, and reports then
            log.exception("engine process did not start")
        while (request := self._requests.get()) is not None:
            try:
                self._serve(request)
            except Exception as exc:  # a bug or an OS failure: the reply must still end
                log.exception("engine request failed")
                self.failed.emit(
                    "engine_error",
                    f"The engine could not answer ({type(exc).__name__}: {exc}).",
                    f"Details are in {self.client.log_path}; try again.",
                )

    def _serve(self, request: _Request) -> None:
        self._stop_waiting.clear()
        if (other := self.lease.busy_for("chat")) is not None:
            self.waiting.emit(f"{other.describe()} is using the model; your message is next.")
        try:
            with self.lease.hold(Holder("chat"), abandoned=self._stop_waiting.is_set):
                self._generate(request)
        except EngineBusyError:  # Stop while waiting: the reply ends as stopped, with nothing
            self.reply_done.emit(GenerationStats(stop_reason="stopped"))

    def _generate(self, request: _Request) -> None:
        model, messages, sampling, samples = request
        for event in self.client.generate(model, messages, sampling, samples=samples):
            if isinstance(event, ReasoningDelta):
                if event.sample is None:
                    self.reasoning.emit(event.text)
                else:
                    self.sample_reasoning.emit(event.sample, event.text)
            elif isinstance(event, AnswerDelta):
                if event.sample is None:
                    self.answer.emit(event.text)
                else:
                    self.sample_answer.emit(event.sample, event.text)
            elif isinstance(event, SampleDone):
                self.sample_done.emit(event.sample, event.stats)
            elif isinstance(event, LiveStats):
                self.progress.emit(event)
            elif isinstance(event, EngineSilence):
                self.silence.emit(event.silent_s)
            elif isinstance(event, Done):
                self.reply_done.emit(event.stats)
            elif isinstance(event, ErrorEvent):
                self.failed.emit(event.kind, event.message, event.hint)

    def stop(self) -> None:
        self._stop_waiting.set()  # a reply still waiting for the engine is given up
        self.client.cancel()

    def answer_now(self) -> None:
        self.client.answer_now()

    def shutdown(self) -> None:
        """Stop the running reply, end the thread and the engine process. An engine that
        does not stop within ``SHUTDOWN_GRACE_MS`` (loading a model cannot be interrupted)
        is killed: quitting must not wait for it, and the chat is saved before this. A
        message still waiting for the engine (Compare or an API client has it) is given
        up."""
        self._stop_waiting.set()
        self.client.cancel()
        self._requests.put(None)
        if not self.wait(SHUTDOWN_GRACE_MS):
            log.info("engine still busy at quit; killing it")
            self.client.kill()
            self.wait()
        self.client.close()
