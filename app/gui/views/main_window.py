"""A first, minimal chat window: open a GGUF, send messages, watch reasoning and answer.

The full chat window (sidebar, persistence, Markdown, thinking panel) replaces this.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.core.conversation import Conversation
from app.core.errors import AppError
from app.core.events import GenerationStats
from app.core.gguf import check_loadable, read_header
from app.gui.workers.engine_worker import EngineWorker
from app.inference.protocol import LoadSpec, SamplingParams


class MainWindow(QMainWindow):
    def __init__(self, worker: EngineWorker) -> None:
        super().__init__()
        self.setWindowTitle("Ponder")
        self.resize(900, 680)
        self.worker = worker
        self.conversation = Conversation()
        self.model: LoadSpec | None = None
        self._reasoning: list[str] = []
        self._answer: list[str] = []

        bar = QToolBar("Model")
        bar.setMovable(False)
        self.open_button = QPushButton("Open a GGUF file...")
        self.open_button.setAccessibleName("Open a model file")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.model_label = QLabel("No model loaded")
        bar.addWidget(self.open_button)
        bar.addWidget(self.model_label)
        self.addToolBar(bar)

        self.transcript = QPlainTextEdit(readOnly=True)
        self.transcript.setAccessibleName("Conversation")
        self.transcript.setPlaceholderText(
            "Open a GGUF model, then ask directly: the model thinks on its own."
        )
        self.composer = QPlainTextEdit()
        self.composer.setAccessibleName("Message")
        self.composer.setPlaceholderText("Ask directly; the model thinks on its own")
        self.composer.setMaximumHeight(90)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send message")
        self.send_button.clicked.connect(self._on_send_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.clicked.connect(self.worker.stop)
        self.stop_button.setEnabled(False)

        row = QHBoxLayout()
        row.addWidget(self.composer, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.stop_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(row)
        self.setCentralWidget(central)
        QShortcut(QKeySequence("Ctrl+Return"), self, self._on_send_clicked)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.worker.stop)

        worker.reasoning.connect(self._on_reasoning)
        worker.answer.connect(self._on_answer)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.statusBar().showMessage("Ready")

    def open_model(self, path: Path) -> None:
        try:
            header = read_header(path)
            check_loadable(header)
        except AppError as exc:
            self.statusBar().showMessage(str(exc))
            return
        self.model = LoadSpec(str(path), n_gpu_layers=-1)
        self.model_label.setText(
            f"  {header.get('general.name') or path.name} · {header.quantization}"
        )
        self.statusBar().showMessage(f"Model: {path}")

    def _on_open_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if name:
            self.open_model(Path(name))

    def _on_send_clicked(self) -> None:
        text = self.composer.toPlainText().strip()
        if not text or self.model is None or self.stop_button.isEnabled():
            if self.model is None:
                self.statusBar().showMessage("Open a GGUF model first.")
            return
        self.composer.clear()
        self.conversation.add_user(text)
        self._append(f"\nYou: {text}\n\n")
        self._reasoning, self._answer = [], []
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.statusBar().showMessage("Generating...")
        self.worker.submit(self.model, self.conversation.prompt_messages(), SamplingParams())

    def _append(self, text: str) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.transcript.setTextCursor(cursor)

    def _on_reasoning(self, text: str) -> None:
        if not self._reasoning:
            self._append("Thinking: ")
        self._reasoning.append(text)
        self._append(text)

    def _on_answer(self, text: str) -> None:
        if not self._answer:
            self._append("\n\nAnswer: " if self._reasoning else "Answer: ")
        self._answer.append(text)
        self._append(text)

    def _end_reply(self) -> None:
        self.conversation.add_assistant("".join(self._answer), "".join(self._reasoning))
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self._append("\n")

    def _on_finished(self, stats: GenerationStats) -> None:
        self._end_reply()
        rate = f"{stats.decode_tok_s:.1f} tok/s" if stats.decode_tok_s else "-"
        self.statusBar().showMessage(
            f"{stats.reasoning_tokens + stats.answer_tokens} tokens · {rate} · {stats.backend}"
        )

    def _on_failed(self, kind: str, message: str, hint: str) -> None:
        self._end_reply()
        self.statusBar().showMessage(f"{message} {hint}")
