"""Runs the Qt-free ``EngineClient`` on a worker thread and re-emits its events as signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.events import AnswerDelta, Done, ErrorEvent, LiveStats, ReasoningDelta
from app.inference.client import EngineClient
from app.inference.protocol import LoadSpec, ReplaySpec, SamplingParams


class EngineWorker(QObject):
    """Lives on its own QThread; ``generate_requested`` starts a reply there.

    Stop and answer-now do not go through the worker's queue (they would wait behind the
    reply they should stop): they set the client's shared flags directly.

    Signals:
        reasoning(str): more chain of thought.
        answer(str): more answer text.
        progress(object): a ``LiveStats``.
        finished(object): the reply ended; carries ``GenerationStats``.
        failed(str, str, str): kind, message, hint.
    """

    generate_requested = Signal(object, object, object)
    reasoning = Signal(str)
    answer = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str, str)

    def __init__(self, client: EngineClient) -> None:
        super().__init__()
        self.client = client
        self.thread_ = QThread()
        self.thread_.setObjectName("engine-worker")
        self.moveToThread(self.thread_)
        self.generate_requested.connect(self._on_generate_requested)
        self.thread_.start()

    @Slot(object, object, object)
    def _on_generate_requested(self, model: LoadSpec | ReplaySpec,
                               messages: list[dict[str, str]], sampling: SamplingParams) -> None:
        for event in self.client.generate(model, messages, sampling):
            if isinstance(event, ReasoningDelta):
                self.reasoning.emit(event.text)
            elif isinstance(event, AnswerDelta):
                self.answer.emit(event.text)
            elif isinstance(event, LiveStats):
                self.progress.emit(event)
            elif isinstance(event, Done):
                self.finished.emit(event.stats)
            elif isinstance(event, ErrorEvent):
                self.failed.emit(event.kind, event.message, event.hint)

    def stop(self) -> None:
        self.client.cancel()

    def answer_now(self) -> None:
        self.client.answer_now()

    def shutdown(self) -> None:
        self.client.cancel()
        self.thread_.quit()
        self.thread_.wait(15000)
        self.client.close()
