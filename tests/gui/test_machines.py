"""The Machines window: workers that pool their memory for the chat's model, the catalog's
sizes across them, and a server to chat through with its API key kept out of files.

Everything real on loopback: two `ponder worker` processes (llama.cpp's rpc-server from
Ponder's build), llama-server started by the pooled engine for the real 270M model, and a
small SSE server standing in for an OpenAI-compatible one. The OS keyring cannot run here,
so keyring's own backend API holds the key (``DictKeyring``, as in the token tests).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.paths import app_paths
from app.core.settings import Settings, load_settings
from app.core.store import MessageRow
from app.gui.viewmodels.chat_controller import ChatController, ModelChoice
from app.gui.views.machines_window import MachinesWindow
from app.gui.views.main_window import MainWindow
from app.gui.views.settings_dialog import SettingsDialog
from app.hardware.shape import load_catalog
from app.modelhub.secrets import TokenStore
from tests.gui.services import services_for
from tests.loopback import free_port, start_workers, stop_workers
from tests.unit.test_secrets import DictKeyring

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
LEFT = Qt.MouseButton.LeftButton
API_KEY = "sk-machinesTESTkeyNEVERinFILES0123456789"


@pytest.fixture
def workers() -> Iterator[list[str]]:
    """Two `ponder worker` processes on loopback; their addresses."""
    started = start_workers(None, None)
    try:
        yield [address for address, _ in started]
    finally:
        stop_workers(started)


def open_machines(qtbot: QtBot, window: MainWindow) -> MachinesWindow:
    window.tools.machines_action.trigger()
    machines = window.tools.machines
    assert isinstance(machines, MachinesWindow)
    qtbot.waitExposed(machines)
    return machines


def add(qtbot: QtBot, machines: MachinesWindow, address: str) -> None:
    tab = machines.workers
    tab.address.clear()
    qtbot.keyClicks(tab.address, address)
    qtbot.mouseClick(tab.add_button, LEFT)


def cell(machines: MachinesWindow, row: int, column: int) -> str:
    model = machines.workers.table.model()
    return str(model.data(model.index(row, column)))


def wait_idle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.machines.busy, timeout=30_000)


def saved_settings() -> Settings:
    return load_settings(app_paths().settings_file)


# -- the window -----------------------------------------------------------------------------


def test_machines_opens_from_the_toolbar_says_how_to_start_a_worker_and_esc_closes_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert [a.text() for a in window.tools.actions][-1] == "Machines"
    machines = open_machines(qtbot, window)
    tab = machines.workers
    assert "<code>ponder worker --host ADDRESS</code>" in tab.intro.text()
    assert "has no password:" in tab.warning.text() and "trust" in tab.warning.text()
    features = machines.server.features.text()
    assert "Answer now work only where the server supports them" in features
    assert not tab.test_button.isEnabled()  # nothing to test yet
    machines.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is machines)
    qtbot.keyClick(tab.address, Qt.Key.Key_Escape)  # from a field, as a user would
    qtbot.waitUntil(lambda: not machines.isVisible())
    window.tools.machines_action.trigger()
    assert window.tools.machines is machines and machines.isVisible()  # the same window


# -- workers --------------------------------------------------------------------------------


def test_two_workers_show_reachable_with_memory_same_build_and_round_trip(
    qtbot: QtBot, window: MainWindow, workers: list[str]
) -> None:
    machines = open_machines(qtbot, window)
    for address in workers:
        add(qtbot, machines, address)
    assert not machines.workers.problem.isVisible()
    qtbot.waitUntil(lambda: [cell(machines, r, 1) for r in (0, 1)] == ["Reachable"] * 2)
    for row, address in enumerate(workers):
        assert cell(machines, row, 0) == address
        assert " free of " in cell(machines, row, 2) and "GB" in cell(machines, row, 2)
        assert cell(machines, row, 3) == "Same build"
        assert cell(machines, row, 4).endswith(" ms")
    assert saved_settings().workers == tuple(workers)  # kept for next time

    # Remove the first: gone from the list and from the settings file.
    machines.workers.table.selectRow(0)
    qtbot.mouseClick(machines.workers.remove_button, LEFT)
    assert cell(machines, 0, 0) == workers[1]
    assert saved_settings().workers == (workers[1],)


def test_an_address_with_nothing_listening_says_why_and_the_chat_stays_here(
    qtbot: QtBot, window: MainWindow
) -> None:
    gone = f"127.0.0.1:{free_port()}"
    machines = open_machines(qtbot, window)
    add(qtbot, machines, gone)
    qtbot.waitUntil(lambda: cell(machines, 0, 1) != "Asking…")
    assert cell(machines, 0, 1) == "Not reachable (connection refused)"
    assert cell(machines, 0, 2) == ""
    machines.workers.pooled.click()
    wait_idle(qtbot, window)
    assert machines.workers.pooled_state.text() == (
        "No worker is usable now, so the chat's model runs on this computer."
    )
    assert window.controller.route.workers == ()
    assert not window.route_label.isVisible()


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("my-laptop", "“my-laptop” is not HOST:PORT: write the worker's address and port"),
        ("10.0.0.5:99999", "“10.0.0.5:99999” has no valid port"),
        ("10.0.0.5:rpc", "“10.0.0.5:rpc” has no valid port"),
        ("bad host:50052", "“bad host:50052” is not HOST:PORT"),
    ],
)
def test_a_malformed_address_is_refused_with_a_sentence(
    qtbot: QtBot, window: MainWindow, typed: str, sentence: str
) -> None:
    machines = open_machines(qtbot, window)
    add(qtbot, machines, typed)
    problem = machines.workers.problem
    assert problem.isVisible() and problem.text().startswith(sentence)
    assert problem.text().endswith(".") and problem.text().count(". ") == 0  # one sentence
    assert machines.workers.table.model().rowCount() == 0
    assert machines.workers.address.text() == typed  # left to correct


def test_the_same_address_twice_is_refused(
    qtbot: QtBot, window: MainWindow, workers: list[str]
) -> None:
    machines = open_machines(qtbot, window)
    add(qtbot, machines, workers[0])
    add(qtbot, machines, workers[0])
    assert machines.workers.problem.text() == f"{workers[0]} is already in the list."
    assert machines.workers.table.model().rowCount() == 1
    wait_idle(qtbot, window)


def test_the_ladder_shows_every_size_with_its_verdict_across_the_workers(
    qtbot: QtBot, window: MainWindow, workers: list[str]
) -> None:
    machines = open_machines(qtbot, window)
    tab = machines.workers
    assert "Add a worker" in tab.ladder_state.text()
    for address in workers:
        add(qtbot, machines, address)
    catalog = load_catalog()["models"]
    ladder = tab.ladder.model()
    qtbot.waitUntil(lambda: ladder.rowCount() == len(catalog), timeout=30_000)
    wait_idle(qtbot, window)
    full_name = Qt.ItemDataRole.AccessibleTextRole  # the cell shows "Distill Qwen 1.5B"
    verdicts = {
        str(ladder.data(ladder.index(r, 0), full_name)): str(ladder.data(ladder.index(r, 3)))
        for r in range(ladder.rowCount())
    }
    assert ladder.headerData(0, Qt.Orientation.Horizontal) == "DeepSeek-R1 model"
    assert ladder.data(ladder.index(0, 0)) == "Distill Qwen 1.5B"
    # Both loopback workers offer this machine's free memory: the distills run, the 671B
    # (over 150 GB even at 1.6 bits) does not.
    assert verdicts["DeepSeek-R1 Distill Qwen 1.5B"].startswith("Runs across 2 machines (")
    assert "tok/s predicted (network included)" in verdicts["DeepSeek-R1 Distill Qwen 1.5B"]
    big = verdicts["DeepSeek-R1 671B (mixture of experts)"]
    assert big.startswith("Too large across 2 machines: needs ") and " GB of " in big
    assert "the largest that runs is" in tab.ladder_state.text()
    tip = str(ladder.data(ladder.index(0, 3), Qt.ItemDataRole.ToolTipRole))
    assert workers[0] in tip and workers[1] in tip  # the split, worker by worker


def test_the_switch_runs_the_chat_pooled_across_two_workers(
    qtbot: QtBot, window: MainWindow, workers: list[str], gemma_path: Path
) -> None:
    controller = window.controller
    controller.set_settings(dataclasses.replace(controller.settings, max_tokens=8))
    controller.set_model(ModelChoice("Gemma 270M", str(gemma_path)))
    machines = open_machines(qtbot, window)
    for address in workers:
        add(qtbot, machines, address)
    qtbot.waitUntil(lambda: [cell(machines, r, 1) for r in (0, 1)] == ["Reachable"] * 2)
    machines.workers.pooled.click()
    assert machines.workers.pooled_state.text() == (
        "The chat's model runs pooled across 2 machines."
    )
    assert window.route_label.text() == "Pooled across 2 machines"
    qtbot.waitUntil(lambda: window.route_label.isVisibleTo(window))
    assert saved_settings().pooled is True

    with qtbot.waitSignal(controller.reply_finished, timeout=240_000) as finished:
        assert controller.send("Hello")
    row: MessageRow = finished.args[0]
    assert row.state == "complete", row.stats
    assert row.stats is not None and row.stats["backend"] == "pooled (2 workers)"
    assert "pooled (2 workers)" in window.rate_label.text()

    # Off again: the next message would load the model here.
    machines.workers.pooled.click()
    assert controller.route.workers == ()
    qtbot.waitUntil(lambda: not window.route_label.isVisibleTo(window))


def test_pooled_from_the_settings_file_pools_from_the_start(
    qtbot: QtBot, window: MainWindow, workers: list[str]
) -> None:
    """A later start: the workers are asked at once, before the window is opened."""
    saved = dataclasses.replace(Settings(), workers=tuple(workers), pooled=True)
    controller = ChatController(window.controller.store, window.controller.worker, saved)
    fresh = MainWindow(controller, services_for(controller))
    qtbot.addWidget(fresh)
    assert fresh.controller.route.workers == tuple(workers)  # all of them, until they answer
    qtbot.waitUntil(lambda: not fresh.machines.busy, timeout=30_000)
    assert fresh.controller.route.workers == tuple(workers)
    assert fresh.tools.machines is None  # never opened


def test_settings_from_the_settings_dialog_keep_the_workers(qtbot: QtBot) -> None:
    mine = Settings(workers=("127.0.0.1:50052",), pooled=True, server_url="http://127.0.0.1:1")
    dialog = SettingsDialog(mine, TokenStore(DictKeyring()))
    qtbot.addWidget(dialog)
    dialog.temperature.setValue(0.8)
    kept = dialog.settings()
    assert kept.temperature == 0.8
    assert (kept.workers, kept.pooled, kept.server_url) == (
        mine.workers,
        True,
        "http://127.0.0.1:1",
    )


# -- a server -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen_keys: list[str]


@pytest.fixture
def sse_server() -> Iterator[_Server]:
    """An OpenAI-compatible stand-in: lists one model, streams R1-style chunks."""

    class Handler(BaseHTTPRequestHandler):
        def _json(self, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            server.seen_keys.append(self.headers.get("Authorization", ""))
            if self.path == "/v1/models":
                self._json({"object": "list", "data": [{"id": "fake-r1"}, {"id": "other"}]})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            server.seen_keys.append(self.headers.get("Authorization", ""))
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for text in ("<think>\n", "The user ", "greets me.", "\n</think>\n\n", "Hello!"):
                chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.seen_keys = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dict_keyring() -> Iterator[DictKeyring]:
    before = keyring.get_keyring()
    kr = DictKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


def test_a_chat_through_a_server_with_its_key_kept_out_of_every_file(
    qtbot: QtBot,
    window: MainWindow,
    sse_server: _Server,
    dict_keyring: DictKeyring,
    ponder_home: Path,
) -> None:
    url = f"http://127.0.0.1:{sse_server.server_address[1]}"
    machines = open_machines(qtbot, window)
    machines.tabs.setCurrentWidget(machines.server)
    tab = machines.server
    qtbot.keyClicks(tab.url, url)
    qtbot.keyClicks(tab.key, API_KEY)
    qtbot.mouseClick(tab.keep_key, LEFT)
    qtbot.waitUntil(lambda: "stored in the system keyring" in tab.key_state.text())
    assert dict_keyring.store[("ponder", "openai-server")] == API_KEY
    assert tab.key.text() == ""  # not left on screen

    qtbot.mouseClick(tab.test_button, LEFT)
    qtbot.waitUntil(tab.test_button.isEnabled, timeout=20_000)
    assert tab.result.text() == (
        "The server answers (2 models); not llama.cpp's server: the think budget and "
        "Answer now may not work."
    )
    assert tab.model.currentText() == "fake-r1"
    assert [tab.model.itemText(i) for i in range(tab.model.count())] == ["fake-r1", "other"]

    tab.use.click()
    assert window.route_label.text() == f"Through fake-r1 at {url.split('://')[1]}"
    assert window.controller.model is None  # no model here: the server answers
    with qtbot.waitSignal(window.controller.reply_finished, timeout=60_000) as finished:
        assert window.controller.send("hi")
    row: MessageRow = finished.args[0]
    assert row.state == "complete"
    assert row.reasoning.strip() == "The user greets me." and row.content.strip() == "Hello!"
    assert row.stats is not None and row.stats["backend"] == "endpoint"
    assert sse_server.seen_keys and set(sse_server.seen_keys) == {f"Bearer {API_KEY}"}

    window.controller.shutdown()
    settings_file = app_paths().settings_file
    saved = json.loads(settings_file.read_text())
    assert saved["server_url"] == url and saved["server_model"] == "fake-r1"
    assert saved["use_server"] is True
    for path in ponder_home.rglob("*"):  # settings, the chats' database, logs
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_without_a_keyring_the_key_is_kept_for_this_session_only(
    qtbot: QtBot, window: MainWindow
) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        machines = open_machines(qtbot, window)
        tab = machines.server
        qtbot.keyClicks(tab.key, API_KEY)
        qtbot.mouseClick(tab.keep_key, LEFT)
        qtbot.waitUntil(lambda: "this session only" in tab.key_state.text())
        qtbot.keyClicks(tab.url, "http://127.0.0.1:9")
        tab.use.click()
        server = window.controller.route.server
        assert server is not None and server.api_key == API_KEY
        wait_idle(qtbot, window)
    finally:
        keyring.set_keyring(before)


def test_a_server_that_is_not_there_is_one_sentence(qtbot: QtBot, window: MainWindow) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    machines = open_machines(qtbot, window)
    tab = machines.server
    qtbot.keyClicks(tab.url, "not a url")
    qtbot.mouseClick(tab.test_button, LEFT)
    assert tab.result.text().startswith("“not a url” is not a server address")
    tab.url.clear()
    qtbot.keyClicks(tab.url, url)
    qtbot.mouseClick(tab.test_button, LEFT)
    qtbot.waitUntil(tab.test_button.isEnabled, timeout=20_000)
    assert tab.result.text() == f"Cannot reach the server at {url} (connection refused)."
