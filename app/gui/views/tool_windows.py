"""The windows the main window opens beside the chat: Models, Hardware, Compare and
Machines.

Each is built on first use (nothing of it costs start-up time), kept while the app runs so
a download or a comparison goes on when its window is closed, and raised when asked again.
The main window only adds ``actions`` to its toolbar and calls ``shutdown`` on close. Each
action has a line icon in the theme's colour (``icons``), beside its name on the toolbar.

Each window closes on Esc (as a dialog does, when the field with the focus has no use for
the key), and answers the main window's keys (Settings, the other tools) as the main window
does: a tool window with the focus would otherwise swallow them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.gui.render.math import MathRenderer
from app.gui.services import Services
from app.gui.viewmodels.ladder_model import LadderModel
from app.gui.viewmodels.machines import MachinesController
from app.gui.views.compare_view import CompareWindow
from app.gui.views.hardware_panel import HardwarePanel
from app.gui.views.icons import ThemedIcons
from app.gui.views.machines_window import MachinesWindow
from app.gui.views.model_manager import ModelManagerDialog
from app.gui.workers.monitor_worker import MonitorWorker


class ToolWindows(QObject):
    """Signals:
    model_chosen(str): the Models window's "Use in chat" on a model file.
    """

    model_chosen = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        services: Services,
        monitor: MonitorWorker,
        ladder: LadderModel,
        *,
        math: MathRenderer | None = None,
        machines: MachinesController | None = None,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._services = services
        self._monitor = monitor
        self._ladder = ladder
        self._math = math
        self.models: ModelManagerDialog | None = None
        self.hardware: QWidget | None = None
        self.compare: CompareWindow | None = None
        self._machines = machines
        self.machines: MachinesWindow | None = None
        self._shared: list[QAction] = []  # the main window's actions, keys included
        self._model_in_use: str | None = None
        self.icons = ThemedIcons(parent)
        self.models_action = self._action("Models", "Ctrl+M", self.open_models,
                                          "Download, find and remove models (Ctrl+M)")  # fmt: skip
        self.hardware_action = self._action(
            "Hardware", "Ctrl+H", self.open_hardware, "What this machine can run, live (Ctrl+H)"
        )
        self.compare_action = self._action(
            "Compare",
            "Ctrl+Shift+C",
            self.open_compare,
            "Put the same problem to 2 to 6 models and compare them (Ctrl+Shift+C)",
        )
        self.actions = [self.models_action, self.hardware_action, self.compare_action]
        if machines is not None:
            self.machines_action = self._action(
                "Machines",
                "Ctrl+Shift+M",
                self.open_machines,
                "Use other computers: workers that pool their memory for a model, or a "
                "server to chat through (Ctrl+Shift+M)",
            )
            self.actions.append(self.machines_action)

    def _action(self, text: str, keys: str, slot: Callable[[], object], tip: str) -> QAction:
        action = QAction(text, self._parent)
        action.setShortcut(QKeySequence(keys))
        action.setToolTip(tip)
        action.triggered.connect(slot)
        self.icons.add(action, text.lower())  # "Models" -> the "models" drawing
        return action

    def share(self, action: QAction) -> None:
        """Let ``action``'s keys work in every tool window too (Settings' Ctrl+,)."""
        self._shared.append(action)
        for window in (self.models, self.hardware, self.compare, self.machines):
            if window is not None:
                window.addAction(action)

    def set_model_in_use(self, path: str | None) -> None:
        """The chat's model file (None: none): the Models window marks it in use, and
        lists it even when it is in no folder it knows (a model opened by its path)."""
        self._model_in_use = path
        if self.models is not None:
            self.models.set_model_in_use(path)

    def _adopt(self, window: QWidget) -> None:
        """What every tool window does: close on Esc, answer the shared keys."""
        window.addActions([*self._shared, *self.actions])
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        # A key press reaches the window only when the focused widget (and every widget
        # between) left it unused: an Esc a field wants (a search that clears) stays its own.
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and event.key() == Qt.Key.Key_Escape
            and not event.modifiers()
        ):
            watched.close()
            return True
        return super().eventFilter(watched, event)

    def open_models(self) -> ModelManagerDialog:
        if self.models is None:
            self.models = ModelManagerDialog(self._services, parent=self._parent)
            self.models.model_chosen.connect(self.model_chosen)
            self.models.set_model_in_use(self._model_in_use)
            self._adopt(self.models)
        _raise(self.models)
        return self.models

    def open_hardware(self) -> QWidget:
        if self.hardware is None:
            window = QWidget(self._parent, Qt.WindowType.Window)
            window.setWindowTitle("Hardware")
            window.setObjectName("hardwareWindow")
            window.resize(900, 640)
            QVBoxLayout(window).addWidget(HardwarePanel(self._monitor, self._ladder))
            self.hardware = window
            self._adopt(window)
        self._ladder.refresh()  # free memory changes, and Compare may have measured speeds
        _raise(self.hardware)
        return self.hardware

    def open_compare(self) -> CompareWindow:
        if self.compare is None:
            self.compare = CompareWindow(
                self._math, lease=self._services.lease, parent=self._parent
            )
            # A finished run recalibrated the speed predictions: the ladder shows them.
            self.compare.report_shown.connect(lambda _report: self._ladder.refresh())
            self._adopt(self.compare)
        _raise(self.compare)
        return self.compare

    def open_machines(self) -> MachinesWindow:
        assert self._machines is not None
        if self.machines is None:
            self.machines = MachinesWindow(self._machines, parent=self._parent)
            self._adopt(self.machines)
        self._machines.refresh()  # free memory changes, and a worker may have started
        _raise(self.machines)
        return self.machines

    def shutdown(self) -> bool:
        """Pause downloads (their parts are kept for next time) and stop a comparison
        before the app quits. False when a download's thread did not stop in time."""
        stopped = self._services.downloads.shutdown()
        if self.compare is not None:
            self.compare.shutdown()
        return stopped


def _raise(window: QWidget) -> None:
    window.show()
    window.raise_()
    window.activateWindow()
