"""The toolbar's model picker: recent GGUF files, models found on disk (Ponder's, LM Studio's,
Ollama's, Jan's, GPT4All's, the Hugging Face cache), "Open a GGUF file...", and the fit.

A chosen file is checked (valid header, fit on this machine) off the GUI thread before it
becomes the chat's model; a file that fails the check never replaces the current model.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QWidget

from app.core.units import format_bytes
from app.gui.theme import verdict_colour
from app.gui.views.icons import line_icon
from app.gui.workers.model_check import ModelChecker, ModelInfo
from app.modelhub.discovery import FoundModel

MAX_RECENT = 8
OPEN_ITEM = "Open a GGUF file…"


class ModelPicker(QWidget):
    """Signals: model_chosen(ModelInfo) after a successful check; check_failed(path, msg)."""

    model_chosen = Signal(object)
    check_failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("modelPicker")
        self.combo.setAccessibleName("Model")
        self.combo.setToolTip("The model the next message goes to (Ctrl+O opens a GGUF file)")
        self.combo.setMinimumContentsLength(28)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.fit_label = QLabel("No model chosen")
        self.fit_label.setObjectName("fitLabel")
        self.fit_label.setAccessibleName("Model fit on this machine")
        self.fit_label.setTextFormat(Qt.TextFormat.RichText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.fit_label)
        self.checker = ModelChecker(self)
        self.checker.checked.connect(self._on_checked)
        self.checker.failed.connect(self._on_failed)
        self.checker.found.connect(self._on_found)
        # Plans the chosen model again (speeds measured or forgotten): never a new choice.
        self.replanner = ModelChecker(self)
        self.replanner.checked.connect(self._on_replanned)
        self.current: ModelInfo | None = None
        self._checking = 0  # checks under way (``choose``)
        self._paths: list[str] = []
        self._on_disk: list[FoundModel] = []
        self._rebuild()
        self.combo.activated.connect(self._on_activated)
        self.checker.scan()  # models other apps downloaded, listed without copying

    def recent_paths(self) -> list[str]:
        return list(self._paths)

    def set_recent(self, paths: list[str]) -> None:
        self._paths = paths[:MAX_RECENT]
        self._rebuild()

    def plan_hint(self) -> str:
        """What "Auto" means for the chosen model on this machine ("" before one is chosen)."""
        info = self.current
        if info is None or info.fit is None:
            return ""
        fit = info.fit
        return (
            f"Auto for {info.name}: {fit.n_ctx:,} tokens of context, "
            f"{fit.n_gpu_layers} of {fit.n_layers + 1} layers on the GPU."
        )

    def replan(self) -> None:
        """Plan the chosen model again and show its fit anew (the chat's model stays): the
        speeds measured here changed (Compare measured, or the Hardware window reset them),
        and a "measured" figure already forgotten must not stay in the toolbar."""
        if self.current is not None:
            self.replanner.check(Path(self.current.path))

    def choose(self, path: Path) -> None:
        """Check ``path``; it becomes the model when the check succeeds."""
        self.fit_label.setText(f"Checking {path.name}…")
        self._checking += 1
        self.checker.check(path)

    def open_file(self) -> None:
        start = str(Path(self._paths[0]).parent) if self._paths else str(Path.home())
        name, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if name:
            self.choose(Path(name))
        else:
            self._select_current()

    def _rebuild(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for p in self._paths:
            self.combo.addItem(Path(p).name, p)
            self.combo.setItemData(self.combo.count() - 1, p, Qt.ItemDataRole.ToolTipRole)
        if self._paths:
            self.combo.insertSeparator(self.combo.count())
        for model in self._on_disk:
            if str(model.path) in self._paths:
                continue
            self.combo.addItem(f"{model.name} ({model.source.label})", str(model.path))
            self.combo.setItemData(
                self.combo.count() - 1, str(model.path), Qt.ItemDataRole.ToolTipRole
            )
        if any(str(m.path) not in self._paths for m in self._on_disk):
            self.combo.insertSeparator(self.combo.count())
        self.combo.addItem(OPEN_ITEM, None)
        self._set_open_icon()
        self.combo.blockSignals(False)
        self._select_current()

    def _set_open_icon(self) -> None:
        """A folder beside "Open a GGUF file…", in the theme's text colour."""
        icon = line_icon("folder", self.palette(), QPalette.ColorRole.ButtonText)
        self.combo.setItemIcon(self.combo.count() - 1, icon)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.combo.count():
            self._set_open_icon()  # a theme change: drawn again in the new text colour

    def _select_current(self) -> None:
        path = self.current.path if self.current else None
        index = self.combo.findData(path) if path else -1
        self.combo.setCurrentIndex(index if index >= 0 else self.combo.count() - 1)

    def _on_activated(self, index: int) -> None:
        path = self.combo.itemData(index)
        if path is None:
            self.open_file()
        elif self.current is None or path != self.current.path:
            self.choose(Path(path))

    def _on_checked(self, info: ModelInfo) -> None:
        self._checking -= 1
        self.current = info
        if info.path in self._paths:
            self._paths.remove(info.path)
        self._paths.insert(0, info.path)
        self.set_recent(self._paths)
        index = self.combo.findData(info.path)
        self.combo.setItemText(index, info.label)
        self.fit_label.setText(_fit_html(info))
        self.fit_label.setToolTip(_fit_tooltip(info))
        self.model_chosen.emit(info)

    def _on_replanned(self, info: ModelInfo) -> None:
        if self.current is None or info.path != self.current.path:
            return  # another model was chosen meanwhile
        if self._checking:
            return  # another file is being checked: the label says so until it is done
        self.current = info
        self.fit_label.setText(_fit_html(info))
        self.fit_label.setToolTip(_fit_tooltip(info))

    def _on_found(self, models: list[FoundModel]) -> None:
        self._on_disk = models
        self._rebuild()

    def _on_failed(self, path: str, message: str) -> None:
        self._checking -= 1
        self.fit_label.setText(f'<span style="color:#c62828">Cannot use {Path(path).name}</span>')
        self.fit_label.setToolTip(message)
        self._select_current()
        self.check_failed.emit(path, message)


def _fit_html(info: ModelInfo) -> str:
    if info.fit is None:
        return "fit unknown for this architecture"
    color = verdict_colour(info.fit.verdict)
    return f'<span style="color:{color}">●</span> {info.fit.summary}'


def _fit_tooltip(info: ModelInfo) -> str:
    lines = [info.path]
    if info.fit is not None:
        m = info.fit.memory
        lines += [
            f"Weights {format_bytes(m.weights)}, KV cache {format_bytes(m.kv)} "
            f"({info.fit.n_ctx:,} tokens of context)",
            f"GPU layers {info.fit.n_gpu_layers}/{info.fit.n_layers + 1}",
        ]
        if info.fit.measurement is not None:
            lines.append(
                f"Speed {info.fit.measurement.label}: benchmarked here by Compare "
                "(the Hardware window can reset it)"
            )
        elif info.fit.speed is not None:
            lines.append(f"Speed {info.fit.speed} predicted from memory bandwidth")
    return "\n".join(lines)
