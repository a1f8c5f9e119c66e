"""The Settings dialog: every user setting, explained where it is edited.

Each control carries a tooltip saying what it changes and why one would change it, because
most of these knobs (context, GPU layers, top-p) mean nothing to someone who just wants to
chat. Values are only applied on OK or Apply, never while the user is still typing.
"""

from __future__ import annotations

import dataclasses
import itertools

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.group_reply import MAX_WAYS, MIN_WAYS
from app.core.settings import Settings
from app.gui.views.token_settings import HubTokenSection
from app.modelhub.secrets import TokenStore

MIN_CONTEXT = 256  # Settings.validated() accepts 0 (auto) or at least this
MAX_TOKENS_LIMIT = 1_048_576
TOKEN_STEP = 1024

_Control = QSpinBox | QDoubleSpinBox | QComboBox | QCheckBox | QPlainTextEdit


def _describe(widget: QWidget, name: str, tip: str) -> None:
    """Give a control the same words for the mouse (tooltip) and for screen readers."""
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(tip)
    widget.setToolTip(tip)


def _spin(
    minimum: int,
    maximum: int,
    *,
    step: int = 1,
    special: str = "",
    suffix: str = "",
    unit: str = "",
) -> QSpinBox:
    """``unit``: a counted noun after the number, singular for 1 ("1 token", "2 tokens")."""
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setSpecialValueText(special)
    spin.setSuffix(suffix)
    if unit:

        def name(value: int) -> None:
            suffix = f" {unit}" if value == 1 else f" {unit}s"
            if spin.suffix() != suffix:  # a new suffix rewrites the text being typed
                spin.setSuffix(suffix)

        spin.valueChanged.connect(name)
        name(spin.value())
    spin.setGroupSeparatorShown(True)
    spin.setAccelerated(True)
    return spin


def _decimal(minimum: float, maximum: float, step: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(2)
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    return spin


def _choice(*items: tuple[str, str]) -> QComboBox:
    """A combo box whose items show the first string and carry the second as data."""
    combo = QComboBox()
    for text, value in items:
        combo.addItem(text, value)
    return combo


def _note(text: str) -> QLabel:
    """Secondary text in the palette's muted colour, so it follows light and dark themes."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _align_captions(*forms: QFormLayout) -> None:
    """Line up the fields of sections stacked in one column, as if they were one form."""
    captions: list[QLabel] = []
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(label := item.widget(), QLabel):
                captions.append(label)
    width = max(caption.sizeHint().width() for caption in captions)
    for caption in captions:
        caption.setMinimumWidth(width)
        caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class SettingsDialog(QDialog):
    """Edit a copy of the settings; hand the result to whoever saves and applies it.

    Signals:
        settings_applied(Settings): OK or Apply was pressed with values that differ from the
            ones last applied (the dialog's starting values count as applied).
    """

    settings_applied = Signal(object)

    def __init__(
        self,
        settings: Settings,
        tokens: TokenStore,
        parent: QWidget | None = None,
        *,
        hardware_hint: str = "",
    ) -> None:
        """``tokens``: the app's Hub token store (the one downloads use)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._applied = settings.validated()
        self._controls: list[_Control] = []  # in visual (and tab) order

        self.context = _spin(
            0,
            MAX_TOKENS_LIMIT,
            step=TOKEN_STEP,
            special="Auto (planned for this machine)",
            unit="token",
        )
        self.gpu_layers = _spin(-1, 999, special="Auto", unit="layer")
        self.threads = _spin(0, 1024, special="Auto (physical cores)")
        self.temperature = _decimal(0.0, 2.0, 0.05)
        self.top_p = _decimal(0.05, 1.0, 0.05)
        self.max_tokens = _spin(1, MAX_TOKENS_LIMIT, step=TOKEN_STEP, unit="token")
        self.think_budget = _spin(
            0, MAX_TOKENS_LIMIT, step=TOKEN_STEP, special="No limit", unit="token"
        )
        self.thinking_panel = _choice(
            ("Show while thinking", "open"), ("Keep collapsed", "collapsed")
        )
        self.group_samples = _spin(MIN_WAYS, MAX_WAYS, unit="answer")
        self.boxed_answers = QCheckBox("Ask for the final answer in \\boxed{} (math)")
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setTabChangesFocus(True)  # Tab moves on, as in every other field
        self.system_prompt.setPlaceholderText("None (best for R1 models)")
        self.system_prompt.setFixedHeight(self.system_prompt.fontMetrics().lineSpacing() * 5)
        self.serve_api = QCheckBox("Serve the models to other apps")
        self.serve_port = _spin(1024, 65535)
        self.theme = _choice(("System", "system"), ("Light", "light"), ("Dark", "dark"))
        self.font_size = _spin(6, 48, suffix=" pt")
        self.hardware_hint = _note(hardware_hint)
        self.hardware_hint.setAccessibleName("Memory plan for this machine")
        self.hardware_hint.setVisible(bool(hardware_hint))

        memory_box, memory = self._section("Model && memory")
        self._add(
            memory,
            "&Context size:",
            self.context,
            "How many tokens the model can see at once: the conversation, its thinking and "
            "its answer. More context needs more memory. Auto picks the largest context "
            "that fits this machine.",
        )
        self._add(
            memory,
            "&GPU layers:",
            self.gpu_layers,
            "How many of the model's layers run on the GPU. Auto puts as many there as fit "
            "in video memory; 0 runs on the CPU only. More layers on the GPU is faster.",
        )
        self._add(
            memory,
            "CPU t&hreads:",
            self.threads,
            "CPU threads for the work that runs on the CPU. Auto uses one per physical "
            "core, which is usually the fastest.",
        )
        memory.addRow(self.hardware_hint)

        sampling_box, sampling = self._section("Sampling")
        self._add(
            sampling,
            "&Temperature:",
            self.temperature,
            "How random the wording is. Lower is more focused, higher more varied. "
            "DeepSeek recommends 0.6 for R1 models; near 0 they tend to repeat themselves.",
        )
        self._add(
            sampling,
            "Top-&p:",
            self.top_p,
            "Sample only from the most likely tokens whose probabilities add up to this "
            "share. DeepSeek recommends 0.95 for R1 models.",
        )
        self._add(
            sampling,
            "&Max tokens:",
            self.max_tokens,
            "The longest a reply may be, thinking and answer together. Reasoning models "
            "often think for thousands of tokens, so keep this generous.",
        )

        reasoning_box, reasoning = self._section("Reasoning")
        self._add(
            reasoning,
            "Thinking &budget:",
            self.think_budget,
            "Stop the model's thinking after this many tokens and have it answer. "
            "No limit lets it think until it is ready (or reaches Max tokens).",
        )
        self._add(
            reasoning,
            "Thinking &panel:",
            self.thinking_panel,
            "Whether a reply's thinking starts open, streaming as the model reasons, or "
            "collapsed so only the answer shows (click it to expand).",
        )
        self._add(
            reasoning,
            "Think N &ways:",
            self.group_samples,
            "How many answers “Think N ways” (beside Send) samples at once. The "
            "answers are grouped and the majority's becomes the reply; more ways cost more "
            "memory and time.",
        )
        self._add(
            reasoning,
            "",
            self.boxed_answers,
            "For math problems: add DeepSeek's recommended instruction to each message, "
            "asking the model to put its final answer in \\boxed{} so it is easy to spot.",
        )
        self._add(
            reasoning,
            "S&ystem prompt:",
            self.system_prompt,
            "Instructions sent before every conversation. Leave it empty for DeepSeek-R1 "
            "models and put instructions in your message instead.",
        )
        reasoning.addRow(
            _note(
                "R1 models work best without a system prompt: DeepSeek advises putting "
                "instructions in the user message."
            )
        )

        appearance_box, appearance = self._section("Appearance")
        self._add(
            appearance,
            "Th&eme:",
            self.theme,
            "System follows your desktop's light or dark mode; Light and Dark override it.",
        )
        self._add(
            appearance,
            "Font si&ze:",
            self.font_size,
            "Text size of the whole app, in points.",
        )

        apps_box, apps = self._section("Other apps")
        self._add(
            apps,
            "",
            self.serve_api,
            "An OpenAI-compatible API on this computer (http://127.0.0.1:PORT/v1) for editor "
            "plug-ins, notebooks and chat front-ends such as Open WebUI: the models here, the "
            "thinking apart from the answer. It shares the chat's engine: one request at a "
            "time.",
        )
        self._add(
            apps,
            "API &port:",
            self.serve_port,
            "The port the API listens on (127.0.0.1 only: other computers cannot reach it).",
        )

        std = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(std.Ok | std.Cancel | std.Apply | std.RestoreDefaults)
        self.ok_button = self._button(std.Ok, "OK", "Apply the settings and close.")
        self.cancel_button = self._button(
            std.Cancel, "Cancel", "Close without applying the changes made since the last Apply."
        )
        self.apply_button = self._button(
            std.Apply, "Apply", "Apply the settings and keep this window open."
        )
        self.restore_button = self._button(
            std.RestoreDefaults,
            "Restore defaults",
            "Put every field back to Ponder's defaults (applied on OK or Apply).",
        )
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self._apply)
        self.restore_button.clicked.connect(self._on_restore_defaults)

        left = QVBoxLayout()
        left.addWidget(memory_box)
        left.addWidget(sampling_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(reasoning_box)
        right.addWidget(appearance_box)
        right.addWidget(apps_box)
        right.addStretch(1)
        _align_captions(memory, sampling)
        _align_captions(reasoning, appearance, apps)
        general = QWidget()
        columns = QHBoxLayout(general)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        # The token is saved by its own buttons, at once: it is not a setting OK applies.
        self.hub_token = HubTokenSection(tokens)
        self.tabs = QTabWidget()
        self.tabs.addTab(general, "&General")
        self.tabs.addTab(self.hub_token, "&Hugging Face")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        # Room to spare: at the bare size hint the longest "Auto (...)" texts touch the arrows.
        hint = self.sizeHint()
        self.resize(hint.width() * 21 // 20, hint.height())

        # The button box places its buttons in the platform's order (Restore Defaults first
        # on most) but leaves Tab in creation order; make Tab follow what the user sees.
        row = self.buttons.layout()
        items = [row.itemAt(i) for i in range(row.count())] if row is not None else []
        widgets = [item.widget() for item in items if item is not None]
        buttons = [w for w in widgets if isinstance(w, QAbstractButton)]
        for before, after in itertools.pairwise([*self._controls, *buttons]):
            QWidget.setTabOrder(before, after)

        self._show(self._applied)
        self.context.editingFinished.connect(self._on_context_edited)
        for control in self._controls:
            self._watch(control)
        self._update_apply()

    def settings(self) -> Settings:
        """The values in the controls, as the app would store them (and those set
        elsewhere, such as the Machines window's, as they were)."""
        return dataclasses.replace(
            self._applied,
            n_ctx=self._context_value(),
            gpu_layers=self.gpu_layers.value(),
            threads=self.threads.value(),
            temperature=round(self.temperature.value(), 2),
            top_p=round(self.top_p.value(), 2),
            max_tokens=self.max_tokens.value(),
            think_budget=self.think_budget.value(),
            thinking_panel=self.thinking_panel.currentData(),
            theme=self.theme.currentData(),
            font_size=self.font_size.value(),
            boxed_answers=self.boxed_answers.isChecked(),
            system_prompt=self._system_prompt_value(),
            group_samples=self.group_samples.value(),
            serve_api=self.serve_api.isChecked(),
            serve_port=self.serve_port.value(),
        ).validated()

    def set_hardware_hint(self, text: str) -> None:
        """Show what the planner chose for this machine (it may finish after the dialog opens)."""
        self.hardware_hint.setText(text)
        self.hardware_hint.setVisible(bool(text))

    def _section(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title, self)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return box, form

    def _add(self, form: QFormLayout, label: str, control: _Control, tip: str) -> None:
        text = control.text() if isinstance(control, QCheckBox) else label
        _describe(control, text.replace("&", "").rstrip(":"), tip)
        self._controls.append(control)
        if not label:
            form.addRow(control)
            return
        caption = QLabel(label)
        caption.setBuddy(control)
        caption.setToolTip(tip)
        form.addRow(caption, control)

    def _button(
        self, which: QDialogButtonBox.StandardButton, name: str, tip: str
    ) -> QAbstractButton:
        button = self.buttons.button(which)
        _describe(button, name, tip)
        return button

    def _watch(self, control: _Control) -> None:
        if isinstance(control, QSpinBox | QDoubleSpinBox):
            control.valueChanged.connect(self._update_apply)
        elif isinstance(control, QComboBox):
            control.currentIndexChanged.connect(self._update_apply)
        elif isinstance(control, QCheckBox):
            control.toggled.connect(self._update_apply)
        else:
            control.textChanged.connect(self._update_apply)

    def _show(self, settings: Settings) -> None:
        self.context.setValue(settings.n_ctx)
        self.gpu_layers.setValue(settings.gpu_layers)
        self.threads.setValue(settings.threads)
        self.temperature.setValue(settings.temperature)
        self.top_p.setValue(settings.top_p)
        self.max_tokens.setValue(settings.max_tokens)
        self.think_budget.setValue(settings.think_budget)
        self.thinking_panel.setCurrentIndex(self.thinking_panel.findData(settings.thinking_panel))
        self.theme.setCurrentIndex(self.theme.findData(settings.theme))
        self.font_size.setValue(settings.font_size)
        self.group_samples.setValue(settings.group_samples)
        self.serve_api.setChecked(settings.serve_api)
        self.serve_port.setValue(settings.serve_port)
        self.boxed_answers.setChecked(settings.boxed_answers)
        if self.system_prompt.toPlainText() != settings.system_prompt:
            self.system_prompt.setPlainText(settings.system_prompt)

    def _context_value(self) -> int:
        # Between "Auto" and the smallest usable context there is nothing a model can use.
        value = self.context.value()
        return value if value == 0 else max(value, MIN_CONTEXT)

    def _system_prompt_value(self) -> str:
        text = self.system_prompt.toPlainText()
        return text if text.strip() else ""  # blank lines are no system prompt

    def _on_context_edited(self) -> None:
        self.context.setValue(self._context_value())

    def _on_restore_defaults(self) -> None:
        self._show(Settings())

    def _apply(self) -> None:
        new = self.settings()
        self._show(new)
        if new != self._applied:
            self._applied = new
            self.settings_applied.emit(new)
        self._update_apply()

    def _on_ok(self) -> None:
        self._apply()
        self.accept()

    def _update_apply(self) -> None:
        self.apply_button.setEnabled(self.settings() != self._applied)
