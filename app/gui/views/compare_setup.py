"""The compare view's left panel: which models, which prompts, how many runs; Run and Cancel.

Run stays disabled, with the reason beside it, until 2 to 6 models are ticked and there is
something to ask them: a comparison of one model is a chat, and more than six columns do
not fit side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.prompt_sets import DEFAULT_SET, builtin_sets
from app.core.units import format_bytes
from app.modelhub.discovery import FoundModel

MIN_MODELS, MAX_MODELS = 2, 6
DEFAULT_MAX_TOKENS = 2048
PATH_ROLE = Qt.ItemDataRole.UserRole
CUSTOM = ""  # the prompt combo's data for "a prompt of your own"


class CompareSetup(QWidget):
    """Model picker, prompt source, runs and token limit, Run / Cancel with progress.

    Signals:
        run_requested(): Run was clicked with a valid choice.
        cancel_requested(): Cancel was clicked.
        changed(): the choice changed (models ticked, prompt source or text).
    """

    run_requested = Signal()
    cancel_requested = Signal()
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = QListWidget()
        self.models.setAccessibleName("Models to compare")
        self.models.setMinimumHeight(120)
        self.add_button = QPushButton("Add a GGUF file…")
        self.add_button.setToolTip("Compare a model file that is not in the list")
        self.prompt_source = QComboBox()
        self.prompt_source.setAccessibleName("Prompts")
        for name in builtin_sets():
            self.prompt_source.addItem(f"Prompt set: {name}", name)
        self.prompt_source.addItem("A prompt of my own", CUSTOM)
        default = self.prompt_source.findData(DEFAULT_SET)
        self.prompt_source.setCurrentIndex(max(default, 0))
        self.custom_prompt = QPlainTextEdit()
        self.custom_prompt.setAccessibleName("Your prompt")
        self.custom_prompt.setPlaceholderText("Ask every model the same question…")
        self.custom_prompt.setMaximumHeight(90)
        self.runs = QSpinBox()
        self.runs.setAccessibleName("Runs")
        self.runs.setRange(1, 20)
        self.runs.setValue(1)
        self.runs.setToolTip("Loads per model after a warm-up; medians need 3 or more")
        self.max_tokens = QSpinBox()
        self.max_tokens.setAccessibleName("Max tokens")
        self.max_tokens.setRange(1, 65536)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setValue(DEFAULT_MAX_TOKENS)
        self.max_tokens.setToolTip("Most tokens per reply, thinking included")
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.reason = QLabel()
        self.reason.setObjectName("messageStats")
        self.reason.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel()
        self.status.setAccessibleName("Bench status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._running = False
        self._layout()
        self.models.itemChanged.connect(self._on_changed)
        self.prompt_source.currentIndexChanged.connect(self._on_changed)
        self.custom_prompt.textChanged.connect(self._on_changed)
        self.add_button.clicked.connect(self._add_file)
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self._on_changed()

    def _layout(self) -> None:
        model_box = QGroupBox("Models (2 to 6)")
        box = QVBoxLayout(model_box)
        box.addWidget(self.models)
        box.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        prompt_box = QGroupBox("Prompts")
        form = QFormLayout(prompt_box)
        form.addRow(self.prompt_source)
        form.addRow(self.custom_prompt)
        form.addRow("Runs", self.runs)
        form.addRow("Max tokens", self.max_tokens)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(model_box, 1)
        layout.addWidget(prompt_box)
        layout.addLayout(buttons)
        layout.addWidget(self.reason)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

    # -- models -------------------------------------------------------------------------

    def set_found(self, found: Sequence[FoundModel]) -> None:
        """Add models found on disk (ticks already made are kept)."""
        for model in found:
            self._add(model.path, f"{model.name} · {format_bytes(model.size_bytes)}", False)
        self._on_changed()

    def add_model_paths(self, paths: Iterable[str | Path], checked: bool = True) -> None:
        """Add model files by path (ticked): what "Add a GGUF file…" does."""
        for p in paths:
            path = Path(p)
            self._add(path, path.name, checked)
        self._on_changed()

    def _add(self, path: Path, label: str, checked: bool) -> None:
        key = str(path)
        for i in range(self.models.count()):
            item = self.models.item(i)
            if item.data(PATH_ROLE) == key:
                if checked:
                    item.setCheckState(Qt.CheckState.Checked)
                return
        item = QListWidgetItem(label)
        item.setData(PATH_ROLE, key)
        item.setToolTip(key)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.models.addItem(item)

    def checked_paths(self) -> list[str]:
        return [
            str(self.models.item(i).data(PATH_ROLE))
            for i in range(self.models.count())
            if self.models.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _add_file(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Add model files", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        self.add_model_paths(paths)

    # -- prompts ------------------------------------------------------------------------

    def prompt_set_name(self) -> str:
        """The built-in set chosen, or "" for a prompt of the user's own."""
        return str(self.prompt_source.currentData() or CUSTOM)

    def prompt_text(self) -> str:
        return self.custom_prompt.toPlainText().strip()

    # -- run ----------------------------------------------------------------------------

    def blocker(self) -> str:
        """Why Run cannot start now ("" when it can)."""
        n = len(self.checked_paths())
        if n < MIN_MODELS:
            return f"Tick at least {MIN_MODELS} models to compare ({n} ticked)."
        if n > MAX_MODELS:
            return f"Tick at most {MAX_MODELS} models ({n} ticked): the columns must fit."
        if self.prompt_set_name() == CUSTOM and not self.prompt_text():
            return "Write a prompt, or choose a prompt set."
        return ""

    def set_running(self, running: bool) -> None:
        self._running = running
        for w in (self.models, self.add_button, self.prompt_source, self.custom_prompt):
            w.setEnabled(not running)
        self.runs.setEnabled(not running)
        self.max_tokens.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
        self._on_changed()

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d32f2f;" if error else "")

    def _on_changed(self) -> None:
        self.custom_prompt.setVisible(self.prompt_set_name() == CUSTOM)
        reason = self.blocker()
        self.run_button.setEnabled(not self._running and not reason)
        self.reason.setText("" if self._running else reason)
        self.reason.setVisible(bool(reason) and not self._running)
        self.changed.emit()

    def _on_run(self) -> None:
        if not self.blocker() and not self._running:
            self.run_requested.emit()
