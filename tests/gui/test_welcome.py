"""The first-run page: this machine's ladder, the recommended model in one click, and the
offline ways in. Downloads come from the Hub look-alike on loopback (the real Hub cannot be
reached from here); the bytes are a small random blob published under the recommended
file's name, since what is tested is the page and the transfer, not the model."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QScrollArea
from pytestqt.qtbot import QtBot

from app.core.paths import app_paths
from app.core.store import ChatStore
from app.gui.render.math import MathRenderer
from app.gui.services import Services
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.viewmodels.ladder_model import DOWNLOAD, NAME, SPEED, VERDICT
from app.gui.viewmodels.model_rows import RowState
from app.gui.views.main_window import MainWindow
from app.gui.views.model_manager import ModelManagerDialog
from app.gui.views.welcome import NO_TELEMETRY, WelcomePage
from app.modelhub.catalog import CatalogQuant, load_catalog
from tests.gui.cells import cut_cells
from tests.gui.services import services_for, window_services
from tests.integration.hub_server import HubServer

pytestmark = pytest.mark.gui

BLOB = os.urandom(3_000_000)


@pytest.fixture
def offline_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there


@pytest.fixture
def hub(offline_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


@pytest.fixture
def services(ponder_home: Path, tmp_path: Path) -> Iterator[Services]:
    chats = ChatStore(tmp_path / "chats.sqlite3")
    made = window_services(chats)
    yield made
    made.downloads.shutdown()
    chats.close()


def make_page(qtbot: QtBot, services: Services) -> WelcomePage:
    page = WelcomePage(services)
    qtbot.addWidget(page)
    page.resize(1000, 800)
    page.show()
    page.start()
    qtbot.waitUntil(lambda: page.ladder.rowCount() > 0, timeout=30_000)
    return page


def recommended_quant(page: WelcomePage) -> CatalogQuant:
    pick = page.ladder.recommended_row
    assert pick is not None, "a 24 GB machine runs at least the 1.5B"
    row = page.ladder.row_at(pick)
    return load_catalog().get(row.id).quant(row.quant)


def publish(hub: HubServer, q: CatalogQuant) -> None:
    for f in q.files:
        hub.add_file(q.repo_id, f.path, BLOB)


def test_one_click_download_of_the_recommended_model(
    qtbot: QtBot, hub: HubServer, services: Services
) -> None:
    page = make_page(qtbot, services)
    q = recommended_quant(page)
    assert "Recommended for this computer" in page.pick_label.text()
    assert page.table.view.currentIndex().row() == page.ladder.recommended_row
    assert "cores" in page.machine.text() and "RAM free" in page.machine.text()
    privacy = page.findChild(type(page.machine), "welcomePrivacy")
    assert privacy is not None and privacy.text() == NO_TELEMETRY

    # The page asked the Hub as soon as it picked the model; nothing was published then.
    qtbot.waitUntil(page.retry_button.isVisible, timeout=10_000)
    publish(hub, q)
    page.retry_button.click()  # the first check found nothing: try again
    qtbot.waitUntil(page.download_button.isEnabled, timeout=10_000)
    assert "Ready to download" in page.status.text()
    with qtbot.waitSignal(page.model_ready, timeout=60_000) as ready:
        page.download_button.click()
    path = Path(ready.args[0])
    assert path.name == Path(q.first_file.path).name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(BLOB).hexdigest()
    assert page.progress.value() == 1000 and "Installed" in page.status.text()


def test_cancel_keeps_nothing_and_offers_the_download_again(
    qtbot: QtBot, hub: HubServer, services: Services
) -> None:
    page = make_page(qtbot, services)
    q = recommended_quant(page)
    # The page asked the Hub as soon as it picked the model; nothing was published then.
    qtbot.waitUntil(page.retry_button.isVisible, timeout=10_000)
    publish(hub, q)
    hub.faults.stall_after, hub.faults.stall_s = 1_000_000, 30
    page.retry_button.click()
    qtbot.waitUntil(page.download_button.isEnabled, timeout=10_000)
    page.download_button.click()
    assert hub.stalls.wait(20), "the download never started"
    assert page.cancel_button.isVisible() and not page.download_button.isVisible()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in page.status.text(), timeout=10_000)
    assert page.download_button.isVisible() and page.download_button.isEnabled()
    downloads = app_paths().downloads_dir
    assert not any(p.is_file() for p in downloads.rglob("*"))
    models = app_paths().models_dir
    assert not models.exists() or not any(p.is_file() for p in models.rglob("*.gguf"))


def test_offline_says_so_and_offers_models_on_disk(
    qtbot: QtBot, offline_env: None, gemma_path: Path, services: Services
) -> None:
    mine = app_paths().ensure().models_dir / "imported" / "gemma-3-270m-q4_k_m.gguf"
    mine.parent.mkdir(parents=True)
    try:
        os.link(gemma_path, mine)
    except OSError:
        shutil.copyfile(gemma_path, mine)

    page = make_page(qtbot, services)
    qtbot.waitUntil(lambda: page.offline, timeout=30_000)
    assert "You are offline" in page.status.text()
    assert not page.download_button.isEnabled() and page.retry_button.isVisible()
    assert page.open_button.isVisible()
    with qtbot.waitSignal(page.open_file_requested):
        page.open_button.click()

    qtbot.waitUntil(lambda: page.found.count() == 1, timeout=10_000)
    item = page.found.item(0)
    assert "gemma-3-270m-q4_k_m" in item.text() and "Ponder" in item.text()
    page.found.scrollToItem(item)
    where = page.found.visualItemRect(item).center()
    with qtbot.waitSignal(page.model_ready) as ready:  # what "double-click one" means
        qtbot.mouseClick(page.found.viewport(), Qt.MouseButton.LeftButton, pos=where)
        qtbot.mouseDClick(page.found.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert Path(ready.args[0]) == mine


def test_the_models_window_shows_and_controls_the_same_download(
    qtbot: QtBot, hub: HubServer, services: Services
) -> None:
    """One queue for the app: a download started on the first-run page is the Models
    window's row too, and pausing it there pauses it here (no second writer)."""
    queue = services.downloads
    page = WelcomePage(services)
    models = ModelManagerDialog(services)
    for w in (page, models):
        qtbot.addWidget(w)
    page.show()
    page.start()
    qtbot.waitUntil(lambda: page.ladder.rowCount() > 0, timeout=30_000)
    q = recommended_quant(page)
    # The page asked the Hub as soon as it picked the model; nothing was published then.
    qtbot.waitUntil(page.retry_button.isVisible, timeout=10_000)
    publish(hub, q)
    hub.faults.stall_after, hub.faults.stall_s = 1_000_000, 30
    page.retry_button.click()
    qtbot.waitUntil(page.download_button.isEnabled, timeout=10_000)
    page.download_button.click()
    assert hub.stalls.wait(20), "the download never started"
    (key,) = queue.running()
    assert models.downloading() == [key]

    def row_state() -> RowState | None:
        row = models.model.find(key)
        return models.model.row_at(row).state if row >= 0 else None

    qtbot.waitUntil(lambda: row_state() is RowState.DOWNLOADING, timeout=10_000)
    assert models.select(key)
    with qtbot.waitSignal(queue.stopped, timeout=15_000):
        models.pause_button.click()
    assert row_state() is RowState.PAUSED
    assert "Paused" in page.status.text() and page.download_button.isVisible()
    queue.shutdown()


def test_a_model_too_large_cannot_be_downloaded_by_trying_again(
    qtbot: QtBot, offline_env: None, services: Services
) -> None:
    """Offline, the page offers "Try again". Picking the 671B (too large for this machine)
    must leave nothing that starts its download, nor a button still named after the model
    picked before."""
    page = make_page(qtbot, services)
    qtbot.waitUntil(lambda: page.offline, timeout=30_000)
    before = page.download_button.text()
    rows = range(page.ladder.rowCount())
    big = next(i for i in rows if page.ladder.row_at(i).plan.verdict == "too_large")
    page.table.view.selectRow(big)
    assert "does not fit" in page.status.text()
    assert not page.retry_button.isVisible()
    assert not page.download_button.isEnabled() and page.download_button.text() != before
    page.start_download()  # what a stray click or shortcut would do
    assert page.cancel_button.isHidden()


def test_a_download_started_in_the_models_window_is_the_pages_too(
    qtbot: QtBot, hub: HubServer, services: Services
) -> None:
    """One download state: the page shows a download of its pick that the Models window
    started (and the Pause there pauses it), and a Models window opened after the page
    paused one shows it paused at once, not "Not downloaded"."""
    page = make_page(qtbot, services)
    q = recommended_quant(page)
    key = f"{page.ladder.row_at(page.ladder.recommended_row or 0).id}/{q.name}"
    page.close()
    publish(hub, q)
    hub.faults.stall_after, hub.faults.stall_s = 1_000_000, 30
    assert services.downloads.start(key, q)  # as the Models window's Download does
    assert hub.stalls.wait(20), "the download never started"

    page = make_page(qtbot, services)  # a page built now finds the download running
    qtbot.waitUntil(page.pause_button.isVisible, timeout=10_000)
    assert page.progress.isVisible()
    assert not page.download_button.isVisible()
    with qtbot.waitSignal(services.downloads.stopped, timeout=15_000):
        page.pause_button.click()
    now = services.downloads.state(key)
    assert now is not None and now.status == "paused"
    assert "Paused" in page.status.text()

    later = ModelManagerDialog(services)  # first opened after the pause
    qtbot.addWidget(later)
    row = later.model.find(key)
    assert later.model.row_at(row).state is RowState.PAUSED
    again = make_page(qtbot, services)  # and a page: Resume, once the Hub answers
    qtbot.waitUntil(again.download_button.isEnabled, timeout=10_000)
    assert again.download_button.text() == "Resume the download"
    assert again.status.text().startswith("Paused")


def test_the_page_fits_a_1024_by_700_window_without_a_sideways_scroll(
    qtbot: QtBot, controller: ChatController, offline_env: None, app_font: QApplication
) -> None:
    """In a 1024 px window, beside the chat list, the ladder was wider than the page: a
    sideways scroll bar, and names cut to "DeepSeek-R… Qwen 1.5B". The names now say what
    differs (the shared "DeepSeek-R1" is the heading) and every row is whole."""
    win = MainWindow(controller, services_for(controller), math=MathRenderer(), welcome=True)
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    qtbot.waitExposed(win)
    page = win.welcome
    assert page is not None
    qtbot.waitUntil(lambda: page.ladder.recommended_row is not None, timeout=30_000)
    view = page.table.view
    assert page.ladder.headerData(NAME, Qt.Orientation.Horizontal) == "DeepSeek-R1 model"
    assert view.model().index(1, NAME).data() == "Distill Qwen 7B"
    scroll = page.findChild(QScrollArea)
    assert scroll is not None
    qtbot.waitUntil(lambda: view.viewport().width() < page.width())  # laid out
    assert not scroll.horizontalScrollBar().isVisible()
    assert not view.horizontalScrollBar().isVisible()
    assert cut_cells(view, [NAME, DOWNLOAD, VERDICT, SPEED]) == []
    # What the hidden columns said is in the pick line: the quantization and the memory.
    row = page.ladder.row_at(page.ladder.recommended_row or 0)
    assert row.quant in page.pick_label.text() and row.memory_text in page.pick_label.text()
