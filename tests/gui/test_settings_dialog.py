"""The Settings dialog edits every setting, and the theme switch recolours the whole app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QLabel,
    QPlainTextEdit,
    QToolTip,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.core.settings import Settings
from app.gui.theme import apply_theme, is_dark
from app.gui.views.settings_dialog import SettingsDialog
from app.modelhub.secrets import TokenStore
from tests.unit.test_secrets import DictKeyring

pytestmark = pytest.mark.gui

# The offscreen platform warns whenever a shown window's layout sets its minimum size; a
# real platform applies the size hints. Only tests that show a window need this.
shows_a_window = pytest.mark.qt_log_ignore("does not support propagateSizeHints")

CUSTOM = Settings(
    n_ctx=32768,
    gpu_layers=20,
    threads=6,
    temperature=0.75,
    top_p=0.9,
    max_tokens=16000,
    think_budget=4096,
    thinking_panel="collapsed",
    theme="dark",
    font_size=14,
    boxed_answers=True,
    system_prompt="Answer in French.\nBe brief.",
    group_samples=6,
    workers=("127.0.0.1:50052",),
    pooled=True,
    server_url="http://127.0.0.1:8080",
    server_model="r1",
    use_server=True,
    serve_api=True,
    serve_port=9123,
)
# Set in the Machines window, kept as they are by this dialog.
MACHINES_FIELDS = {"workers", "pooled", "server_url", "server_model", "use_server"}


def make_dialog(qtbot: QtBot, settings: Settings, hint: str = "") -> SettingsDialog:
    dialog = SettingsDialog(settings, TokenStore(DictKeyring()), hardware_hint=hint)
    qtbot.addWidget(dialog)
    return dialog


def retype(qtbot: QtBot, spin: QAbstractSpinBox, text: str) -> None:
    """Replace a spin box's text the way a user does: select all, then type."""
    spin.selectAll()
    qtbot.keyClicks(spin, text)


def test_custom_settings_differ_from_the_defaults_in_every_field() -> None:
    # Guards the round-trip test below: a field left at its default would prove nothing.
    default = Settings()
    same = [
        f.name
        for f in dataclasses.fields(Settings)
        if getattr(CUSTOM, f.name) == getattr(default, f.name)
    ]
    assert same == []


def test_every_field_round_trips(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, CUSTOM)
    assert dialog.settings() == CUSTOM
    assert dialog.context.text() == "32,768 tokens"
    assert dialog.thinking_panel.currentText() == "Keep collapsed"
    assert dialog.theme.currentText() == "Dark"
    assert dialog.system_prompt.toPlainText() == CUSTOM.system_prompt
    assert not dialog.apply_button.isEnabled()  # nothing edited yet


def test_special_values_read_as_words(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    assert dialog.context.text() == "Auto (planned for this machine)"
    assert dialog.gpu_layers.text() == "Auto"
    assert dialog.threads.text() == "Auto (physical cores)"
    assert dialog.think_budget.text() == "No limit"
    dialog.gpu_layers.setValue(0)
    assert dialog.gpu_layers.text() == "0 layers"  # CPU only is a number, not "Auto"


def test_one_of_a_count_reads_in_the_singular(qtbot: QtBot) -> None:
    """ "1 tokens" and "1 layers" read as a typo: one is singular, as everywhere else."""
    dialog = make_dialog(qtbot, Settings(max_tokens=2, gpu_layers=1))
    assert dialog.gpu_layers.text() == "1 layer"
    assert dialog.max_tokens.text() == "2 tokens"
    retype(qtbot, dialog.max_tokens, "1")
    assert dialog.max_tokens.text() == "1 token"
    qtbot.keyClicks(dialog.max_tokens, "2")  # typing on, past one, turns it plural again
    assert dialog.max_tokens.value() == 12 and dialog.max_tokens.text() == "12 tokens"
    dialog.think_budget.setValue(1)
    assert dialog.think_budget.text() == "1 token"
    assert dialog.settings().max_tokens == 12


def test_editing_the_controls_then_ok_emits_the_new_settings(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    retype(qtbot, dialog.context, "20000")
    qtbot.keyClick(dialog.gpu_layers, Qt.Key.Key_Up)  # Auto -> 0 (CPU only)
    retype(qtbot, dialog.threads, "8")
    retype(qtbot, dialog.temperature, "0.5")
    qtbot.keyClick(dialog.top_p, Qt.Key.Key_Down)
    retype(qtbot, dialog.max_tokens, "32768")
    qtbot.keyClick(dialog.think_budget, Qt.Key.Key_Up)
    qtbot.keyClick(dialog.thinking_panel, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.group_samples, Qt.Key.Key_Up)
    qtbot.keyClick(dialog.boxed_answers, Qt.Key.Key_Space)
    qtbot.keyClicks(dialog.system_prompt, "Be brief.")
    dialog.theme.setCurrentIndex(dialog.theme.findText("Light"))
    retype(qtbot, dialog.font_size, "13")
    assert dialog.apply_button.isEnabled()

    expected = Settings(
        n_ctx=20000,
        gpu_layers=0,
        threads=8,
        temperature=0.5,
        top_p=0.9,
        max_tokens=32768,
        think_budget=1024,
        thinking_panel="collapsed",
        theme="light",
        font_size=13,
        boxed_answers=True,
        system_prompt="Be brief.",
        group_samples=5,
    )
    with qtbot.waitSignal(dialog.settings_applied, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [expected]
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_cancel_emits_nothing(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    retype(qtbot, dialog.max_tokens, "100")
    dialog.theme.setCurrentIndex(dialog.theme.findText("Dark"))
    with qtbot.assertNotEmitted(dialog.settings_applied):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected


@shows_a_window
def test_apply_emits_once_per_change_and_keeps_the_dialog_open(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    dialog.show()
    retype(qtbot, dialog.font_size, "16")
    with qtbot.waitSignal(dialog.settings_applied, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [Settings(font_size=16)]
    assert dialog.isVisible()
    assert not dialog.apply_button.isEnabled()  # applied: nothing left to apply
    with qtbot.assertNotEmitted(dialog.settings_applied):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # already applied
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_restore_defaults_resets_the_controls_and_applies_only_on_ok(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, CUSTOM)
    with qtbot.assertNotEmitted(dialog.settings_applied):
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    # The defaults of what this dialog shows; the Machines window's settings stay as set.
    defaults = dataclasses.replace(Settings(), **{f: getattr(CUSTOM, f) for f in MACHINES_FIELDS})
    assert dialog.settings() == defaults
    assert dialog.context.text() == "Auto (planned for this machine)"
    assert dialog.system_prompt.toPlainText() == ""
    assert not dialog.boxed_answers.isChecked()
    with qtbot.waitSignal(dialog.settings_applied, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [defaults]


def test_a_context_too_small_to_use_becomes_the_smallest_usable_one(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    retype(qtbot, dialog.context, "100")
    qtbot.keyClick(dialog.context, Qt.Key.Key_Return)  # done editing
    assert dialog.context.value() == 256  # the field shows what will be used
    assert dialog.settings().n_ctx == 256


def test_a_blank_system_prompt_counts_as_none(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    qtbot.keyClicks(dialog.system_prompt, "   ")
    assert dialog.settings().system_prompt == ""
    assert not dialog.apply_button.isEnabled()


def test_the_hardware_hint_shows_under_the_memory_section(qtbot: QtBot) -> None:
    hint = "Planned for this machine: 16,384 tokens, all layers on CPU"
    dialog = make_dialog(qtbot, Settings(), hint)
    shown = [
        label
        for label in dialog.findChildren(QLabel)
        if label.text() == hint and label.isVisibleTo(dialog)
    ]
    assert len(shown) == 1
    assert shown[0].parentWidget() is dialog.context.parentWidget()  # same section
    dialog.set_hardware_hint("")
    assert not shown[0].isVisibleTo(dialog)  # no empty line where the plan would be
    plain = make_dialog(qtbot, Settings())
    assert not plain.hardware_hint.isVisibleTo(plain)


def test_every_control_is_named_and_explained(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    general = dialog.tabs.widget(0)
    assert general is not None
    controls: list[QWidget] = [
        *general.findChildren(QAbstractSpinBox),
        *general.findChildren(QComboBox),
        *general.findChildren(QPlainTextEdit),
        *general.findChildren(QAbstractButton),
        *dialog.buttons.buttons(),
        dialog.hub_token.token_edit,
        *dialog.hub_token.findChildren(QAbstractButton),
    ]
    # + OK, Cancel, Apply, Restore defaults; + the token field and its three buttons
    assert len(controls) == len(dataclasses.fields(Settings)) - len(MACHINES_FIELDS) + 4 + 4
    unnamed = [type(c).__name__ for c in controls if not c.accessibleName()]
    assert unnamed == []
    unexplained = [c.accessibleName() for c in controls if not c.toolTip()]
    assert unexplained == []


@shows_a_window
def test_tab_visits_the_controls_in_the_order_they_are_shown(qtbot: QtBot) -> None:
    dialog = make_dialog(qtbot, Settings())
    retype(qtbot, dialog.font_size, "12")  # enables Apply, so every button takes focus
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.context.setFocus()
    visited: list[str] = []
    for _ in range(19):
        focused = QApplication.focusWidget()
        assert focused is not None
        visited.append(focused.accessibleName())
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
    buttons = sorted(dialog.buttons.buttons(), key=lambda b: b.mapTo(dialog, QPoint(0, 0)).x())
    assert visited == [
        "Context size",
        "GPU layers",
        "CPU threads",
        "Temperature",
        "Top-p",
        "Max tokens",
        "Thinking budget",
        "Thinking panel",
        "Think N ways",
        "Ask for the final answer in \\boxed{} (math)",
        "System prompt",
        "Theme",
        "Font size",
        "Serve the models to other apps",
        "API port",
        *(b.accessibleName() for b in buttons),  # left to right, as the platform places them
    ]


@pytest.fixture
def app_state(qapp: QApplication) -> Iterator[QApplication]:
    """The QApplication is shared by every test: put its look back afterwards."""
    font = qapp.font()
    window = qapp.palette().color(QPalette.ColorRole.Window)
    yield qapp
    apply_theme(qapp, "system", font.pointSize())
    qapp.setFont(font)
    assert qapp.palette().color(QPalette.ColorRole.Window) == window


def window_pixel_lightness(qtbot: QtBot) -> float:
    """How light a freshly drawn window's background is (0 black, 1 white)."""
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.resize(40, 40)
    return widget.grab().toImage().pixelColor(20, 20).lightnessF()


def test_dark_theme_darkens_windows_and_sets_the_font_size(
    qtbot: QtBot, app_state: QApplication
) -> None:
    apply_theme(app_state, "dark", 15)
    assert is_dark(app_state)
    assert window_pixel_lightness(qtbot) < 0.25
    assert QToolTip.palette().color(QPalette.ColorRole.ToolTipBase).lightnessF() < 0.4
    assert app_state.font().pointSize() == 15
    assert QLabel("text").font().pointSize() == 15


def test_light_theme_is_light(qtbot: QtBot, app_state: QApplication) -> None:
    apply_theme(app_state, "dark", 11)
    apply_theme(app_state, "light", 9)
    assert not is_dark(app_state)
    assert window_pixel_lightness(qtbot) > 0.85
    assert app_state.font().pointSize() == 9


def test_system_theme_restores_the_platform_look(qtbot: QtBot, app_state: QApplication) -> None:
    before = app_state.palette().color(QPalette.ColorRole.Window)
    style = app_state.style().name()
    apply_theme(app_state, "dark", 11)
    apply_theme(app_state, "system", 11)
    assert app_state.palette().color(QPalette.ColorRole.Window) == before
    assert app_state.style().name() == style
    assert is_dark(app_state) == (before.lightnessF() < 0.5)


@shows_a_window
def test_an_open_dialog_follows_a_theme_change(qtbot: QtBot, app_state: QApplication) -> None:
    dialog = make_dialog(qtbot, Settings())
    dialog.show()
    qtbot.waitExposed(dialog)
    apply_theme(app_state, "dark", 12)
    qtbot.waitUntil(lambda: dialog.grab().toImage().pixelColor(3, 3).lightnessF() < 0.25)
    assert dialog.context.font().pointSize() == 12
