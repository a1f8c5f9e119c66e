"""The main window: conversations on the left, the chat on the right, the model on top.

It only assembles and wires: what is sent and saved lives in ``ChatController``, the list of
chats in ``ConversationListModel``, each part of the screen in its own view.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.export import export_conversation
from app.core.settings import Settings
from app.core.store import MessageRow
from app.gui.render.math import MathRenderer
from app.gui.services import Services
from app.gui.style import stylesheet
from app.gui.theme import apply_theme
from app.gui.viewmodels.api_server import ApiServerController
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.viewmodels.conversation_list import ConversationListModel
from app.gui.viewmodels.ladder_model import LadderModel
from app.gui.viewmodels.machines import MachinesController
from app.gui.viewmodels.model_choice import ChatRoute, ModelChoice
from app.gui.views.api_status import ApiStatus
from app.gui.views.chat_view import ChatView
from app.gui.views.composer import Composer
from app.gui.views.engine_silence_bar import EngineSilenceBar
from app.gui.views.model_picker import ModelPicker
from app.gui.views.problem_banner import ProblemBanner
from app.gui.views.settings_dialog import SettingsDialog
from app.gui.views.sidebar import Sidebar
from app.gui.views.status_figures import StatusFigures
from app.gui.views.tool_windows import ToolWindows
from app.gui.views.welcome import WelcomePage
from app.gui.workers.model_check import ModelInfo
from app.gui.workers.monitor_worker import MonitorWorker

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(
        self,
        controller: ChatController,
        services: Services,
        *,
        math: MathRenderer | None = None,
        state: QSettings | None = None,
        welcome: bool = False,
    ) -> None:
        """``welcome``: show the first-run page while no model is chosen (the app does;
        tests of the chat leave it off)."""
        super().__init__()
        self.setWindowTitle("Ponder")
        self.setObjectName("mainWindow")
        self.resize(1180, 780)
        self.controller = controller
        self.services = services
        self.api: ApiServerController | None = None  # attach_api, when the app serves
        self.state = state
        self.conversations = ConversationListModel(controller.store, self)

        self.picker = ModelPicker(self)
        toolbar = self.addToolBar("Model")
        toolbar.setObjectName("modelToolbar")
        toolbar.setMovable(False)
        # Icons beside the names (never icons alone: each says what it opens), as in
        # LM Studio's and Jan's navigation.
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        # Room between the tools (Fusion packs them 1 px apart); a style sheet's spacing
        # holds through theme changes, which reset the layout's own.
        toolbar.setStyleSheet("QToolBar#modelToolbar { spacing: 6px; padding: 2px 6px; }")
        self.toolbar = toolbar
        toolbar.addWidget(self.picker)
        # Where the chat's model runs when not (only) here: "Pooled across 2 machines".
        self.route_label = QLabel()
        self.route_label.setObjectName("chatRoute")
        self.route_label.setAccessibleName("Where the model runs")
        self.route_label.setContentsMargins(8, 0, 8, 0)
        self.route_action = toolbar.addWidget(self.route_label)
        self.route_action.setVisible(False)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        # One monitor for the status bar and the Hardware window; one ladder for the
        # Hardware window and the welcome page (planned once, off the GUI thread).
        self.monitor = MonitorWorker(parent=self)
        self.monitor.follow_engine(lambda: controller.worker.client.pid)
        self.ladder = LadderModel(self)
        # Workers and a server: kept as long as the window, so a chat set to run pooled or
        # through a server does so from the start, before the Machines window is opened.
        self.machines = MachinesController(
            lambda: controller.settings, self._keep_settings, services.server_keys, self
        )
        self.tools = ToolWindows(
            self, services, self.monitor, self.ladder, math=math, machines=self.machines
        )
        for action in self.tools.actions:
            toolbar.addAction(action)
            if (button := toolbar.widgetForAction(action)) is not None:
                button.setAccessibleName(action.text())
        self.settings_action = QAction("Settings", self)
        # The platform's Preferences key where it has one (Cmd+, on macOS), else Ctrl+,.
        keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        self.settings_action.setShortcuts(keys or [QKeySequence("Ctrl+,")])
        self.settings_action.setToolTip("Model, sampling and appearance settings (Ctrl+,)")
        self.settings_action.triggered.connect(self.open_settings)
        self.tools.icons.add(self.settings_action, "settings")
        toolbar.addAction(self.settings_action)
        self.tools.share(self.settings_action)  # Ctrl+, from a tool window too
        if (button := toolbar.widgetForAction(self.settings_action)) is not None:
            button.setAccessibleName("Settings")

        self.sidebar = Sidebar(self.conversations)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.chat = ChatView(controller, math)
        self.chat.thinking_open = controller.settings.thinking_panel == "open"
        self.composer = Composer()
        self.composer.boxed.setChecked(controller.settings.boxed_answers)
        self.composer.set_ways(controller.settings.group_samples)
        self.composer.set_max_width(self.chat.column.maximumWidth())  # under the messages
        chat_column = QWidget()
        column = QVBoxLayout(chat_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.chat, 1)
        self.silence_bar = EngineSilenceBar()
        column.addWidget(self.silence_bar)
        column.addWidget(self.composer)
        self.pages = QStackedWidget()
        self.pages.addWidget(chat_column)
        self.welcome: WelcomePage | None = None
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        # Why a model was refused, until read: over the chat and the first-run page alike.
        self.problem = ProblemBanner()
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.setSpacing(0)
        right_column.addWidget(self.problem)
        right_column.addWidget(self.pages, 1)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 920])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.figures = StatusFigures(self.statusBar(), controller, self.monitor)
        self.rate_label, self.memory_label = self.figures.rate_label, self.figures.memory_label
        self.monitor.start()
        app = QApplication.instance()
        if app is not None:  # quit without closing the window (SIGTERM): threads stop too
            app.aboutToQuit.connect(self.shutdown)

        self._wire()
        self.machines.start()
        self._shortcuts()
        self.setTabOrder(self.sidebar, self.chat)
        self.setTabOrder(self.chat, self.composer.input)
        self.setTabOrder(self.composer.input, self.composer.send_button)
        model_restored = self._restore_state()
        if welcome and not model_restored:
            self.show_welcome()
        self.restyle()
        self.statusBar().showMessage("Ready")

    # -- wiring -------------------------------------------------------------------------

    def _wire(self) -> None:
        c = self.controller
        self.composer.send_requested.connect(self._send)
        self.composer.think_requested.connect(self._think)
        self.composer.ways_changed.connect(self._set_ways)
        self.composer.stop_requested.connect(c.stop)
        self.composer.boxed_toggled.connect(self._set_boxed)
        self.chat.edit_requested.connect(self._edit_and_resend)
        self.sidebar.conversation_selected.connect(c.open_conversation)
        self.sidebar.new_requested.connect(self.new_chat)
        self.sidebar.conversation_deleted.connect(c.forget)
        self.sidebar.conversation_restored.connect(c.open_conversation)
        self.sidebar.export_requested.connect(self.export_chat)
        self.picker.model_chosen.connect(self._on_model_chosen)
        self.tools.model_chosen.connect(lambda path: self.picker.choose(Path(path)))
        self.picker.check_failed.connect(self._on_model_failed)
        # The ladder plans again when measured speeds change (Compare, Reset measurements).
        self.ladder.ready.connect(lambda _hw: self.picker.replan())
        c.conversation_opened.connect(self._on_conversation_opened)
        c.conversation_touched.connect(self.conversations.touch)
        c.busy_changed.connect(self._on_busy)
        c.notice.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.reply_failed.connect(self.problem.show_problem)
        c.reply_finished.connect(self._on_reply_finished)
        c.engine_silent.connect(self.silence_bar.show_silence)
        self.silence_bar.stop_requested.connect(c.stop)
        self.machines.route_changed.connect(self._on_route)

    def _shortcuts(self) -> None:
        for keys, slot in (
            ("Ctrl+N", self.new_chat),
            ("Ctrl+F", self.sidebar.focus_search),
            ("Ctrl+L", self.composer.focus),
            ("Ctrl+O", self.picker.open_file),
        ):
            QShortcut(QKeySequence(keys), self, slot)
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.controller.stop)
        stop.setContext(Qt.ShortcutContext.WindowShortcut)

    # -- actions ------------------------------------------------------------------------

    def new_chat(self) -> None:
        self.controller.new_conversation()
        self.composer.focus()

    def _send(self, text: str) -> None:
        if self.controller.send(text):
            self.composer.accept()

    def _think(self, text: str, ways: int) -> None:
        if self.controller.send(text, samples=ways):
            self.composer.accept()

    def _set_ways(self, ways: int) -> None:
        self._apply_settings(dataclasses.replace(self.controller.settings, group_samples=ways))

    def _edit_and_resend(self, position: int, text: str) -> None:
        later = self.controller.later_messages(position)
        if later > 1:
            answer = QMessageBox.question(
                self,
                "Replace the rest of this chat?",
                f"Sending the edited message replaces the {later} messages after it.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.controller.edit_and_resend(position, text)

    def _set_boxed(self, on: bool) -> None:
        self._apply_settings(dataclasses.replace(self.controller.settings, boxed_answers=on))

    def open_settings(self) -> None:
        dialog = SettingsDialog(
            self.controller.settings,
            self.services.tokens,
            self,
            hardware_hint=self.picker.plan_hint(),
        )
        dialog.settings_applied.connect(self._apply_settings)
        dialog.exec()

    def attach_api(self, api: ApiServerController) -> None:
        """The local API server: shown in the status bar while it serves; told of the
        chat's model and of setting changes."""
        self.api = api
        self.api_label = ApiStatus(api, self.statusBar())
        if self.controller.model is not None and not self.controller.model.is_replay:
            api.set_default_model(self.controller.model.name, self.controller.model.path)

    def _apply_settings(self, settings: Settings) -> None:
        self._keep_settings(settings)
        if self.api is not None:
            self.api.apply(settings)
        self.chat.thinking_open = settings.thinking_panel == "open"
        if self.composer.boxed.isChecked() != settings.boxed_answers:
            self.composer.boxed.setChecked(settings.boxed_answers)
        self.composer.set_ways(settings.group_samples)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, settings.theme, settings.font_size)
            self.restyle()

    def _keep_settings(self, settings: Settings) -> None:
        """Use ``settings`` from now on and save them (the look is ``_apply_settings``')."""
        self.controller.set_settings(settings)
        try:
            self.services.save_settings(settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Settings could not be saved: {exc.strerror}.", 8000)

    def export_chat(self, cid: int) -> None:
        """Ask where to save chat ``cid``, then write it as Markdown or JSON, atomically.

        Problems are one sentence in a warning box, never a traceback: a folder that does not
        exist is refused rather than created (a mistyped path would otherwise hide the file
        somewhere the user never meant), and a failed write leaves no half-written file.
        """
        conv = self.controller.store.conversation(cid)
        if conv is None:
            return
        # Characters some file systems refuse, or that would read as a path, become spaces.
        words = "".join(ch if ch.isalnum() or ch in "-_" else " " for ch in conv.title).split()
        name = " ".join(words)[:100].strip() or "chat"
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export chat",
            str(Path.home() / f"{name}.md"),
            "Markdown (*.md);;JSON (*.json)",
        )
        if not path:
            return
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".json" if "JSON" in chosen else ".md")
        if not target.parent.is_dir():
            problem = f"The folder “{target.parent}” does not exist. Choose an existing folder."
        else:
            try:
                export_conversation(conv, self.controller.store.messages(cid), target)
            except AppError as exc:
                problem = str(exc)
            except OSError as exc:
                problem = (
                    f"Could not write {target.name}: {exc.strerror or exc}. "
                    "Check that the folder is writable."
                )
            else:
                self.statusBar().showMessage(f"Exported to {target}", 8000)
                return
        QMessageBox.warning(self, "Export failed", problem)

    def restyle(self) -> None:
        """Colours follow the palette: recompute the style sheet after a theme change."""
        self.setStyleSheet(stylesheet(QApplication.palette()))
        self.problem.restyle()

    # -- model --------------------------------------------------------------------------

    def show_welcome(self) -> None:
        """The first-run page in place of the chat, until a model is chosen."""
        if self.welcome is None:
            self.welcome = WelcomePage(self.services, ladder=self.ladder)
            self.welcome.model_ready.connect(lambda path: self.picker.choose(Path(path)))
            self.welcome.open_file_requested.connect(self.picker.open_file)
            self.pages.addWidget(self.welcome)
            self.welcome.start()
        self.pages.setCurrentWidget(self.welcome)

    def _on_model_chosen(self, info: ModelInfo) -> None:
        self.pages.setCurrentIndex(0)  # the chat (the welcome page, if shown, has done its job)
        self.problem.dismiss()  # a model refused earlier is no longer the question
        self.controller.set_model(ModelChoice(name=info.label, path=info.path))
        self.tools.set_model_in_use(info.path)
        self.composer.focus()  # the next thing to do is to ask
        if self.api is not None:
            self.api.set_default_model(Path(info.path).stem, info.path)
        self.chat.set_empty_text(f"Model: {info.label}")
        if self.state is not None:
            self.state.setValue("model/last", info.path)
            self.state.setValue("model/recent", self.picker.recent_paths())

    def _on_route(self, route: ChatRoute) -> None:
        self.controller.set_route(route)
        self.route_label.setText(route.description)
        self.route_action.setVisible(bool(route.description))
        if text := route.description:
            self.statusBar().showMessage(f"The chat runs {text[0].lower()}{text[1:]}.", 8000)

    def _on_model_failed(self, path: str, message: str) -> None:
        self.problem.show_problem(message)

    # -- live status --------------------------------------------------------------------

    def _on_conversation_opened(self, cid: int, _rows: list[object]) -> None:
        self.sidebar.select(cid)  # a new chat (0) is in no row: the old one is not lit
        if cid and self.state is not None:
            self.state.setValue("chat/last", cid)

    def _on_reply_finished(self, row: MessageRow) -> None:
        if row.state == "complete":  # the model loaded and answered: the problem is past
            self.problem.dismiss()

    def _on_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        if busy:
            self.statusBar().clearMessage()  # not "Ready" while the model works

    # -- state --------------------------------------------------------------------------

    def _restore_state(self) -> bool:
        """Geometry, recent models, the last chat; True when a last model was chosen."""
        if self.state is None:
            return False
        geometry = self.state.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.state.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        recent = self.state.value("model/recent") or []
        if isinstance(recent, str):
            recent = [recent]
        last = self.state.value("model/last")
        self.picker.set_recent([str(p) for p in recent if Path(str(p)).exists()])
        model_restored = bool(last) and Path(str(last)).exists()
        if model_restored:
            self.picker.choose(Path(str(last)))
        cid = self.state.value("chat/last")
        if cid and self.controller.store.conversation(int(cid)) is not None:
            self.controller.open_conversation(int(cid))
        else:
            self.controller.new_conversation()
        return model_restored

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.state is not None:
            self.state.setValue("window/geometry", self.saveGeometry())
            self.state.setValue("window/splitter", self.splitter.saveState())
            self.state.sync()
        self.shutdown()
        super().closeEvent(event)

    def bring_forward(self) -> None:
        """Another start of Ponder asked for this window (see ``SingleInstance``)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def shutdown(self) -> bool:
        """Stop the window's threads: the monitor, and downloads (paused, parts kept).
        Called on close and by the app before it exits; safe to call twice. False when a
        thread would not stop (the app must then exit without destroying it)."""
        self.monitor.stop()
        return self.tools.shutdown()
