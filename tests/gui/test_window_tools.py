"""The main window's Models and Hardware windows, its live status bar, and the first-run
page in place of the chat until a model is chosen."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.core.paths import app_paths
from app.gui.render.math import MathRenderer
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.compare_view import CompareWindow
from app.gui.views.hardware_panel import HardwarePanel
from app.gui.views.main_window import MainWindow
from app.gui.views.model_manager import ModelManagerDialog
from app.gui.views.settings_dialog import SettingsDialog
from app.gui.workers import model_check
from app.hardware.calibration import Calibration
from app.hardware.shape import shape_from_file
from tests.gui.conftest import ReplayFactory
from tests.gui.services import services_for

pytestmark = pytest.mark.gui


def test_toolbar_opens_models_and_hardware_once_each(qtbot: QtBot, window: MainWindow) -> None:
    assert [a.text() for a in window.tools.actions] == ["Models", "Hardware", "Compare", "Machines"]
    window.tools.models_action.trigger()
    models = window.tools.models
    assert isinstance(models, ModelManagerDialog) and models.isVisible()
    window.tools.models_action.trigger()
    assert window.tools.models is models  # raised again, not a second window

    window.tools.hardware_action.trigger()
    hardware = window.tools.hardware
    assert hardware is not None and hardware.isVisible()
    panel = hardware.findChild(HardwarePanel)
    assert panel is not None
    qtbot.waitUntil(lambda: window.ladder.rowCount() >= 8, timeout=30_000)
    assert window.ladder.recommended_row is not None

    window.tools.compare_action.trigger()
    compare = window.tools.compare
    assert isinstance(compare, CompareWindow) and compare.isVisible()


def test_status_bar_shows_live_machine_figures(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    qtbot.waitUntil(lambda: "RAM free" in window.memory_label.text(), timeout=10_000)
    assert window.statusBar().currentMessage() == "Ready"
    window.controller.set_model(replay(tokens_per_s=20))
    window.controller.send("Why is the sky blue?")
    assert window.statusBar().currentMessage() == ""  # not "Ready" while the model works
    # While the reply streams: the whole load, the engine process's memory included.
    qtbot.waitUntil(lambda: "CPU" in window.memory_label.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "Engine" in window.memory_label.text(), timeout=10_000)
    window.controller.stop()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)


def test_use_in_chat_from_the_models_window_sets_the_model(
    qtbot: QtBot, window: MainWindow, gemma_path: Path
) -> None:
    mine = app_paths().ensure().models_dir / "imported" / gemma_path.name
    mine.parent.mkdir(parents=True)
    try:
        os.link(gemma_path, mine)
    except OSError:
        shutil.copyfile(gemma_path, mine)
    models = window.tools.open_models()
    qtbot.waitUntil(lambda: models.select(str(mine)), timeout=30_000)
    qtbot.waitUntil(models.use_button.isEnabled, timeout=30_000)  # its header was checked
    with qtbot.waitSignal(window.picker.model_chosen, timeout=30_000):
        models.use_button.click()
    assert window.controller.model is not None
    assert window.controller.model.path == str(mine)


def test_first_run_shows_the_welcome_page_until_a_model_is_chosen(
    qtbot: QtBot, controller: ChatController, home: Path, gemma_path: Path
) -> None:
    win = MainWindow(controller, services_for(controller), math=MathRenderer(), welcome=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.welcome is not None and win.pages.currentWidget() is win.welcome
    assert not win.composer.isVisible()
    qtbot.waitUntil(lambda: win.ladder.rowCount() >= 8, timeout=30_000)

    with qtbot.waitSignal(win.picker.model_chosen, timeout=30_000):
        win.welcome.model_ready.emit(str(gemma_path))
    assert win.pages.currentWidget() is not win.welcome
    assert win.composer.isVisible() and win.chat.isVisible()
    assert controller.model is not None and controller.model.path == str(gemma_path)


def test_a_comparison_frees_the_chat_model_and_holds_the_chat_until_it_ends(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, tmp_path: Path
) -> None:
    """The chat's model would take the memory the compared models are planned with, and a
    reply during the run would share the machine with the models being measured."""
    controller = window.controller
    controller.set_model(replay(reasoning="", answer="Hello there."))
    with qtbot.waitSignal(controller.worker.reply_done, timeout=30_000):
        assert controller.send("Hi")
    chat_engine = controller.worker.client.pid
    assert chat_engine is not None

    compare = window.tools.open_compare()
    paced = []  # replays as slow as a model (10 s a reply): the run lasts while we look
    for i in (1, 2):
        lines = [{"tokens_per_s": 40}, *({"chunk": f"word {n} "} for n in range(400))]
        paced.append(tmp_path / f"paced-{i}.jsonl")
        paced[-1].write_text("".join(json.dumps(line) + "\n" for line in lines))
    compare.add_model_paths(paced)
    setup = compare.setup
    setup.prompt_source.setCurrentIndex(setup.prompt_source.findData(""))
    setup.custom_prompt.setPlainText("Hi")
    setup.runs.setValue(3)
    compare.start_run()
    assert compare.is_running()
    qtbot.waitUntil(lambda: controller.worker.client.pid is None, timeout=30_000)

    # A message sent now waits its turn (the lease says who has the engine) ...
    with qtbot.waitSignal(controller.notice, timeout=5_000) as notice:
        assert controller.send("Another question")
    assert notice.args[0] == (
        "Compare (measuring 2 models) is using the model; your message is next."
    )
    assert controller.busy and compare.is_running()
    # ... and is answered once the run ends, by the chat's engine started again.
    with qtbot.waitSignal(controller.reply_finished, timeout=60_000) as done:
        compare.cancel_run()
    assert done.args[0].content == "Hello there." and done.args[0].state == "complete"
    qtbot.waitUntil(lambda: not compare.is_running(), timeout=10_000)
    assert controller.worker.client.pid not in (None, chat_engine)


def _active(qtbot: QtBot, window: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def test_esc_closes_each_tool_window_and_ctrl_comma_opens_settings_there(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def show_settings(dialog: SettingsDialog) -> int:  # instead of a modal loop
        opened.append(dialog.windowTitle())
        return 0

    monkeypatch.setattr(SettingsDialog, "exec", show_settings)
    tools = window.tools
    for open_window in (
        tools.open_models,
        tools.open_hardware,
        tools.open_compare,
        tools.open_machines,
    ):
        tool = open_window()
        _active(qtbot, tool)
        focus = QApplication.focusWidget() or tool
        assert focus.window() is tool
        # Settings from the tool window, as from the main window ...
        qtbot.keyClick(focus, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
        assert opened == ["Settings"], tool.windowTitle()
        opened.clear()
        # ... and Esc closes it (it is kept: opened again, it is the same window).
        qtbot.keyClick(focus, Qt.Key.Key_Escape)
        assert not tool.isVisible(), tool.windowTitle()
        assert open_window() is tool
        tool.close()


def test_reset_measurements_takes_the_measured_speed_off_the_toolbar(
    qtbot: QtBot, window: MainWindow, gemma_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After "Reset measurements" the toolbar still said "~0.3 tok/s measured" for the
    chat's model until it was chosen again."""
    Calibration.load().record(model_check.hardware(), shape_from_file(gemma_path), 0, [0.3])
    with qtbot.waitSignal(window.picker.model_chosen, timeout=30_000):
        window.picker.choose(gemma_path)
    assert "0.3 tok/s measured" in window.picker.fit_label.text()

    hardware = window.tools.open_hardware()
    panel = hardware.findChild(HardwarePanel)
    assert panel is not None
    qtbot.waitUntil(panel.reset_measurements.isEnabled, timeout=30_000)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(panel.reset_measurements, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "measured" not in window.picker.fit_label.text(), timeout=30_000)
    assert "tok/s" in window.picker.fit_label.text()  # predicted now
    assert window.controller.model is not None  # the chat's model stays
    assert window.controller.model.path == str(gemma_path)


def test_the_models_window_lists_the_chats_model_opened_from_a_file(
    qtbot: QtBot, window: MainWindow, gemma_path: Path, tmp_path: Path
) -> None:
    """A model opened by its path is in no folder the Models window scans: it listed
    nothing under Installed while the chat used it."""
    with qtbot.waitSignal(window.picker.model_chosen, timeout=30_000):
        window.picker.choose(gemma_path)
    models = window.tools.open_models()
    qtbot.waitUntil(lambda: models.select(str(gemma_path)), timeout=30_000)
    # Another file chosen while the window is open: that one is listed in its turn.
    other = tmp_path / "elsewhere" / gemma_path.name
    other.parent.mkdir()
    try:
        os.link(gemma_path, other)
    except OSError:
        shutil.copyfile(gemma_path, other)
    with qtbot.waitSignal(window.picker.model_chosen, timeout=30_000):
        window.picker.choose(other)
    qtbot.waitUntil(lambda: models.select(str(other)), timeout=30_000)
