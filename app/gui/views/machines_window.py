"""The Machines window: other computers the chat can use.

Workers lend their memory to a model pooled across machines (llama.cpp's rpc-server,
started by `ponder worker`): the list with what each offers, the switch that makes the
chat's model run across them, and every catalog size with its verdict across them. A
server (llama-server, vLLM, Ollama, LM Studio, DeepSeek's API) is the other way: the chat
goes through it instead of a model here. The window only shows and asks; the state, the
jobs and the route live in ``MachinesController``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.remote import DEFAULT_WORKER_PORT
from app.gui.viewmodels.machine_tables import WorkerTableModel
from app.gui.viewmodels.machines import MachinesController

WORKER_COMMAND = "ponder worker --host ADDRESS"
NO_PASSWORD = (
    "<b>A worker's port has no password:</b> anyone who can reach it can use that "
    "computer's memory and processor. Run workers only on this computer (loopback) or on a "
    "network you trust, never where the internet can reach them."
)
SERVER_FEATURES = (
    "The think budget and Answer now work only where the server supports them (llama.cpp's "
    "llama-server does); elsewhere a reply thinks as long as the server lets it."
)


def _note(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def _table(name: str) -> QTableView:
    view = QTableView()
    view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setWordWrap(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return view


class WorkersTab(QWidget):
    """Add, remove and test workers; pool the chat's model; the ladder across them."""

    def __init__(self, machines: MachinesController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.machines = machines
        self.intro = intro = _note(
            "A worker is another computer that lends its memory (and processor or GPU) to a "
            "model too large for this one. On that computer, run "
            f"<code>{WORKER_COMMAND}</code> (ADDRESS: that computer's own address on your "
            f"network; it listens on port {DEFAULT_WORKER_PORT}), then add "
            f"ADDRESS:{DEFAULT_WORKER_PORT} here. Both computers need the same Ponder version.",
            "workerIntro",
        )
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.warning = _note(NO_PASSWORD, "noPasswordNote")
        self.warning.setTextFormat(Qt.TextFormat.RichText)

        self.address = QLineEdit()
        self.address.setPlaceholderText(
            f"HOST:PORT, for example 192.168.1.20:{DEFAULT_WORKER_PORT}"
        )
        self.address.setAccessibleName("Worker address")
        self.address.returnPressed.connect(self._on_add)
        self.add_button = QPushButton("&Add")
        self.add_button.clicked.connect(self._on_add)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.clicked.connect(self._on_remove)
        self.test_button = QPushButton("&Test")
        self.test_button.setToolTip("Ask every worker again what it offers")
        self.test_button.clicked.connect(machines.test_workers)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        for button in (self.add_button, self.remove_button, self.test_button):
            row.addWidget(button)
        self.problem = _note("", "workerProblem")
        self.problem.hide()

        self.table = _table("Workers and what each offers")
        self.table.setModel(machines.workers)
        # Room for three workers before it scrolls: the ladder below needs the height more.
        row_height = self.table.verticalHeader().defaultSectionSize()
        header_height = self.table.horizontalHeader().sizeHint().height()
        frame = 2 * self.table.frameWidth()
        self.table.setMaximumHeight(header_height + 3 * row_height + frame)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        machines.workers.modelReset.connect(self._update_buttons)

        self.pooled = QCheckBox("Run the chat's model across these machines")
        self.pooled.toggled.connect(self._on_pooled)
        self.pooled_state = _note("", "pooledState")

        self.ladder_state = _note(machines.ladder_text, "pooledLadderState")
        self.ladder = _table("Model sizes and what these machines can run together")
        self.ladder.setModel(machines.ladder)
        self.ladder.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.ladder.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        ladder_box = QGroupBox("What these machines can run together")
        ladder_layout = QVBoxLayout(ladder_box)
        ladder_layout.addWidget(self.ladder_state)
        ladder_layout.addWidget(self.ladder, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.warning)
        layout.addLayout(row)
        layout.addWidget(self.problem)
        layout.addWidget(self.table)
        switch_row = QHBoxLayout()
        switch_row.addWidget(self.pooled)
        switch_row.addSpacing(12)
        switch_row.addWidget(self.pooled_state, 1)
        layout.addLayout(switch_row)
        layout.addWidget(ladder_box, 1)

        machines.workers_changed.connect(self.show_state)
        machines.settings_changed.connect(self.show_state)
        machines.ladder_changed.connect(self.ladder_state.setText)
        self.show_state()
        self._update_buttons()

    def show_state(self) -> None:
        self.pooled.blockSignals(True)
        self.pooled.setChecked(self.machines.settings.pooled)
        self.pooled.blockSignals(False)
        self.pooled_state.setText(self.machines.pooled_text())

    def _on_add(self) -> None:
        problem = self.machines.add_worker(self.address.text())
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        if not problem:
            self.address.clear()

    def _on_remove(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.machines.remove_worker(str(rows[0].data(WorkerTableModel.AddressRole)))

    def _on_pooled(self, on: bool) -> None:
        self.machines.set_pooled(on)

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.table.selectionModel().hasSelection())
        self.test_button.setEnabled(bool(self.machines.settings.workers))


class ServerTab(QWidget):
    """An OpenAI-compatible server: its address, model, API key, Test, and the switch."""

    def __init__(self, machines: MachinesController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.machines = machines
        s = machines.settings
        intro = _note(
            "Chat through a model served elsewhere: llama.cpp's llama-server, vLLM, Ollama, "
            "LM Studio or DeepSeek's API (any server that speaks OpenAI's chat API). The "
            "chat's messages then go to that server instead of a model on this computer."
        )
        self.url = QLineEdit(s.server_url)
        self.url.setPlaceholderText("http://127.0.0.1:8080 or https://api.deepseek.com")
        self.url.setAccessibleName("Server address")
        self.url.editingFinished.connect(self._keep_server)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setAccessibleName("Model on the server")
        self.model.setEditText(s.server_model)
        line = self.model.lineEdit()
        if line is not None:
            line.setPlaceholderText("the first the server lists")
            line.editingFinished.connect(self._keep_server)
        self.model.activated.connect(lambda _i: self._keep_server())
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional: a local server needs none")
        self.key.setAccessibleName("API key")
        self.key.textChanged.connect(self._update_buttons)
        self.keep_key = QPushButton("&Keep key")
        self.keep_key.setToolTip("Store the key in the system keyring (never in a file)")
        self.keep_key.clicked.connect(self._on_keep_key)
        self.forget_key = QPushButton("&Forget key")
        self.forget_key.clicked.connect(machines.forget_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.keep_key)
        key_row.addWidget(self.forget_key)
        self.key_state = _note(machines.key_text, "serverKeyState")
        key_column = QVBoxLayout()
        key_column.addLayout(key_row)
        key_column.addWidget(self.key_state)
        key_label = QLabel("API ke&y:")
        key_label.setBuddy(self.key)  # addRow(text, layout) would show the & itself
        form = QFormLayout()
        form.addRow("&Address:", self.url)
        form.addRow("&Model:", self.model)
        form.addRow(key_label, key_column)

        self.test_button = QPushButton("&Test")
        self.test_button.setToolTip("Ask the server for its models (GET /v1/models)")
        self.test_button.clicked.connect(self._on_test)
        self.result = _note("", "serverResult")
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.result, 1)
        self.use = QCheckBox("&Chat through this server")
        self.use.toggled.connect(self._on_use)
        self.features = features = _note(SERVER_FEATURES, "serverFeatures")

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.use)
        layout.addWidget(features)
        layout.addStretch(1)

        machines.server_checked.connect(self._on_checked)
        machines.key_changed.connect(self._on_key_changed)
        machines.settings_changed.connect(self.show_state)
        self.show_state()
        self._update_buttons()

    def show_state(self) -> None:
        self.use.blockSignals(True)
        self.use.setChecked(self.machines.settings.use_server)
        self.use.blockSignals(False)

    def _keep_server(self) -> bool:
        problem = self.machines.set_server(self.url.text(), self.model.currentText())
        if problem:
            self.result.setText(problem)
        return not problem

    def _on_test(self) -> None:
        if not self._keep_server():
            return
        problem = self.machines.test_server(self.url.text(), self.key.text())
        self.result.setText(problem or "Asking the server…")
        self.test_button.setEnabled(bool(problem))

    def _on_checked(self, ok: bool, text: str) -> None:
        self.result.setText(text)
        self.test_button.setEnabled(True)
        if ok and self.machines.server_models:
            chosen = self.model.currentText().strip()
            self.model.clear()
            self.model.addItems(list(self.machines.server_models))
            # None chosen: show (and keep) the one the server would take, its first.
            self.model.setEditText(chosen or self.machines.server_models[0])
            self._keep_server()

    def _on_use(self, on: bool) -> None:
        if on and self.key.text().strip():
            self._on_keep_key()  # typed for this server: what else would it be for
        if self._keep_server() and (problem := self.machines.set_use_server(on)):
            self.result.setText(problem)
        self.show_state()

    def _on_keep_key(self) -> None:
        key = self.key.text().strip()
        if key:
            self.machines.keep_key(key)
            self.keep_key.setEnabled(False)

    def _on_key_changed(self, text: str) -> None:
        self.key_state.setText(text)
        self.key.clear()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.keep_key.setEnabled(bool(self.key.text().strip()))


class MachinesWindow(QWidget):
    """The two ways to use other computers, one tab each. Esc closes it."""

    def __init__(self, machines: MachinesController, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Machines")
        self.setObjectName("machinesWindow")
        self.resize(980, 720)
        self.workers = WorkersTab(machines)
        self.server = ServerTab(machines)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.workers, "&Workers")
        self.tabs.addTab(self.server, "&Server")
        QVBoxLayout(self).addWidget(self.tabs)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        # As a dialog does: Esc that no field wanted closes the window (it is only hidden:
        # its state lives on in the controller).
        if event.key() == Qt.Key.Key_Escape and not event.modifiers():
            self.close()
            return
        super().keyPressEvent(event)
