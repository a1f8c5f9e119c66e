"""The model manager: real downloads from a Hub look-alike on loopback into a private
PONDER_HOME, with progress in the row, pause, resume, cancel and gated repos; delete with
confirmation (only Ponder's own files); reveal; "Use in chat"; and the model list checked
by Qt's model tester while its rows change.

The Hub cannot be reached from here, so ``HubServer`` (tests/integration) serves the
files to the real huggingface_hub client. A full model is the real Gemma-3 270M GGUF
published under the catalog's R1 1.5B file name; where only the transfer matters the
server sends a small random blob (said so in each test), which then lists as unusable.
Keyrings cannot run here: ``DictKeyring`` stands in (keyring's own backend API).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.core.paths import app_paths
from app.core.store import ChatStore
from app.core.units import format_bytes
from app.gui.services import Services
from app.gui.viewmodels.model_list import ModelListModel
from app.gui.viewmodels.model_rows import RowKind, RowState
from app.gui.views.model_manager import ModelManagerDialog
from app.hardware.probe import probe
from app.modelhub.catalog import load_catalog
from app.modelhub.discovery import FoundModel, HeaderCache, Source, Validation
from app.modelhub.downloader import Progress, RetryPolicy
from app.modelhub.secrets import TokenStore
from app.modelhub.store import ModelStore
from tests.gui.cells import cut_cells
from tests.gui.services import window_services
from tests.integration.hub_server import HubServer
from tests.unit.test_secrets import DictKeyring

pytestmark = pytest.mark.gui

LEFT = Qt.MouseButton.LeftButton
REPO = "bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF"
FILE = "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"
KEY = "r1-distill-qwen-1.5b/Q4_K_M"
FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05, stall_s=30)


def blob(n: int) -> bytes:
    return hashlib.shake_256(b"model-manager").digest(n)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield server


@pytest.fixture
def tokens() -> TokenStore:
    return TokenStore(DictKeyring())


@pytest.fixture
def services(ponder_home: Path, tmp_path: Path, tokens: TokenStore) -> Iterator[Services]:
    chats = ChatStore(tmp_path / "chats.sqlite3")
    yield window_services(chats, tokens=tokens, retry=FAST)
    chats.close()


@pytest.fixture
def store(services: Services) -> ModelStore:
    return services.models


@pytest.fixture
def manager(qtbot: QtBot, home: Path, services: Services) -> Iterator[ModelManagerDialog]:
    dialog = ModelManagerDialog(services, hardware=lambda: probe(bandwidth=False))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: fit_text(dialog, KEY) != "…")  # the catalog's verdicts came
    yield dialog
    dialog.shutdown()
    QThreadPool.globalInstance().waitForDone()


def row_of(dialog: ModelManagerDialog, key: str) -> int:
    return dialog.model.find(key)


def state(dialog: ModelManagerDialog, key: str) -> RowState | None:
    i = row_of(dialog, key)
    return dialog.model.row_at(i).state if i >= 0 else None


def cell(dialog: ModelManagerDialog, key: str, column: int) -> str:
    return str(dialog.model.index(row_of(dialog, key), column).data())


def fit_text(dialog: ModelManagerDialog, key: str) -> str:
    return cell(dialog, key, ModelListModel.FIT)


def status_text(dialog: ModelManagerDialog, key: str) -> str:
    return cell(dialog, key, ModelListModel.STATUS)


def click(qtbot: QtBot, button: QWidget) -> None:
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, LEFT)


def wait_progress(qtbot: QtBot, dialog: ModelManagerDialog, key: str) -> float:
    qtbot.waitUntil(lambda: state(dialog, key) is RowState.DOWNLOADING, timeout=20_000)
    index = dialog.model.index(row_of(dialog, key), ModelListModel.STATUS)
    qtbot.waitUntil(lambda: 0 < (index.data(ModelListModel.ProgressRole) or 0) < 1)
    return float(index.data(ModelListModel.ProgressRole))


def parts_left() -> list[Path]:
    downloads = app_paths().downloads_dir
    return [p for p in downloads.rglob("*") if p.is_file()] if downloads.exists() else []


def test_a_download_shows_progress_in_its_row_then_lists_as_installed(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer, store: ModelStore, gemma_path: Path
) -> None:
    """The real Gemma GGUF, served slowly enough to watch, under the catalog's file name."""
    hub.add_file(REPO, FILE, gemma_path)
    hub.faults.rate = 120e6
    assert status_text(manager, KEY) == "Not downloaded"
    assert manager.select(KEY)
    click(qtbot, manager.download_button)
    wait_progress(qtbot, manager, KEY)
    text = status_text(manager, KEY)
    assert "%" in text and "/s" in text  # percent and rate, as the row shows them
    assert not manager.available_view.grab().isNull()  # the bar paints in the row
    assert manager.pause_button.isEnabled() and manager.cancel_button.isEnabled()
    assert not manager.download_button.isEnabled()

    target = store.install_path(REPO, FILE)
    qtbot.waitUntil(lambda: state(manager, str(target)) is RowState.READY, timeout=60_000)
    assert target.stat().st_size == gemma_path.stat().st_size
    assert status_text(manager, KEY) == "Installed (Ponder)"
    assert not manager.download_button.isEnabled()
    assert "Downloaded" in manager.banner.text()
    qtbot.waitUntil(lambda: fit_text(manager, str(target)) != "…")
    assert fit_text(manager, str(target)).startswith(("Fits", "CPU", "Partial"))
    installed = [manager.installed.index(r, 0).data() for r in range(manager.installed.rowCount())]
    assert len(installed) == 1 and FILE.removesuffix(".gguf") in installed[0]
    assert parts_left() == []


def test_pause_keeps_the_part_and_resume_finishes_it(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer, store: ModelStore
) -> None:
    """A 3 MB random blob: only the transfer matters (it then lists as unusable)."""
    hub.add_file(REPO, FILE, blob(3_000_000))
    hub.faults.rate = 1e6
    manager.select(KEY)
    click(qtbot, manager.download_button)
    wait_progress(qtbot, manager, KEY)
    click(qtbot, manager.pause_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.PAUSED)
    assert status_text(manager, KEY).startswith("Paused at ")
    assert any(p.name.endswith(".part") and p.stat().st_size > 0 for p in parts_left())
    assert manager.resume_button.isEnabled()

    hub.faults.rate = None
    click(qtbot, manager.resume_button)
    target = store.install_path(REPO, FILE)
    qtbot.waitUntil(lambda: state(manager, str(target)) is RowState.UNUSABLE, timeout=30_000)
    assert hub.file_gets(FILE)[-1].range is not None  # resumed, not started over
    assert status_text(manager, str(target)).startswith("Unusable: ")
    assert fit_text(manager, str(target)) == ""
    manager.select(str(target))
    assert not manager.use_button.isEnabled()  # an unusable file cannot go to the chat


def test_a_paused_download_another_ponder_is_writing_stays_paused_when_cancel_fails(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer
) -> None:
    """Cancel on a paused row deletes its parts in the background. When that fails (here
    another Ponder holds the part's lock), the row and the app's download queue still say
    Paused, so Resume is offered for the parts that are still there; only a delete that
    happened stands as cancelled."""
    hub.add_file(REPO, FILE, blob(3_000_000))
    hub.faults.rate = 1e6
    manager.select(KEY)
    click(qtbot, manager.download_button)
    wait_progress(qtbot, manager, KEY)
    click(qtbot, manager.pause_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.PAUSED)
    part = next(p for p in parts_left() if p.name.endswith(".part"))

    with FileLock(f"{part}.lock", timeout=0), qtbot.waitSignal(manager.scanner.failed):
        click(qtbot, manager.cancel_button)
    assert state(manager, KEY) is RowState.PAUSED
    queued = manager.downloads.state(KEY)
    assert queued is not None and queued.status == "paused"
    assert part.exists()

    click(qtbot, manager.cancel_button)  # nobody holds it now
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.NOT_DOWNLOADED)
    assert parts_left() == []


def test_cancel_leaves_nothing_installed(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer, store: ModelStore
) -> None:
    """A 4 MB random blob, served slowly: only the transfer matters."""
    hub.add_file(REPO, FILE, blob(4_000_000))
    hub.faults.rate = 1e6
    manager.select(KEY)
    click(qtbot, manager.download_button)
    wait_progress(qtbot, manager, KEY)
    click(qtbot, manager.cancel_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.NOT_DOWNLOADED)
    qtbot.waitUntil(lambda: not manager.downloading())
    assert not store.install_path(REPO, FILE).exists()
    assert parts_left() == []
    assert manager.installed.rowCount() == 0
    assert manager.download_button.isEnabled()


def test_a_gated_repo_says_to_accept_the_licence_and_works_with_a_token(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer, tokens: TokenStore
) -> None:
    """A small random blob in a gated repo: only the answers matter."""
    hub.add_file(REPO, FILE, blob(200_000))
    hub.gate(REPO, "hf_accepted0123456789abcdefghijklmnop")
    manager.select(KEY)
    click(qtbot, manager.download_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.FAILED, timeout=20_000)
    assert "gated model and needs a token" in status_text(manager, KEY)
    assert "Accept the licence on the model page" in manager.banner.text()
    assert "Traceback" not in manager.banner.text()

    tokens.set_token("hf_accepted0123456789abcdefghijklmnop")
    click(qtbot, manager.download_button)  # try again, now with the token
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.ON_DISK, timeout=20_000)
    assert hub.file_gets(FILE)[-1].authorization


def test_a_corrupted_download_is_not_installed_and_says_why(
    qtbot: QtBot, manager: ModelManagerDialog, hub: HubServer, store: ModelStore
) -> None:
    """A small random blob with one byte flipped in transit: only the hash check matters."""
    hub.add_file(REPO, FILE, blob(300_000))
    hub.faults.corrupt_at = 1000
    manager.select(KEY)
    click(qtbot, manager.download_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.FAILED, timeout=20_000)
    assert "damaged in transfer" in manager.banner.text()
    assert not store.install_path(REPO, FILE).exists()
    assert manager.download_button.isEnabled()  # it can be tried again


def test_offline_says_the_hub_cannot_be_reached(
    qtbot: QtBot, manager: ModelManagerDialog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loopback port nothing listens on stands in for a machine without a network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    manager.select(KEY)
    click(qtbot, manager.download_button)
    qtbot.waitUntil(lambda: state(manager, KEY) is RowState.FAILED, timeout=30_000)
    assert "Cannot reach the Hugging Face Hub" in status_text(manager, KEY)
    assert "models already on disk still work" in manager.banner.text()


def test_delete_asks_first_naming_the_file_and_its_size(
    qtbot: QtBot, manager: ModelManagerDialog, store: ModelStore
) -> None:
    """A small file in Ponder's folder (its content does not matter to deleting it)."""
    path = store.install_path("org/Tiny-GGUF", "tiny-Q4_K_M.gguf")
    path.parent.mkdir(parents=True)
    path.write_bytes(blob(123_456))
    manager.refresh()
    qtbot.waitUntil(lambda: manager.select(str(path)))
    click(qtbot, manager.delete_button)
    box = manager.message_box
    assert box is not None and box.isVisible()
    assert "tiny-Q4_K_M.gguf" in box.text() and format_bytes(123_456) in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    QThreadPool.globalInstance().waitForDone()
    assert path.exists()  # cancelled: kept

    click(qtbot, manager.delete_button)
    box = manager.message_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: row_of(manager, str(path)) < 0)
    assert not path.exists()
    assert manager.installed.rowCount() == 0


def test_another_apps_model_cannot_be_deleted_and_delete_says_why(
    qtbot: QtBot, manager: ModelManagerDialog, home: Path
) -> None:
    """Delete stayed enabled for LM Studio's file and explained only once clicked: it is
    disabled, its tooltip saying why. A small file in LM Studio's folder of the private
    HOME."""
    path = home / ".lmstudio" / "models" / "org" / "Other-GGUF" / "other-Q8_0.gguf"
    path.parent.mkdir(parents=True)
    path.write_bytes(blob(1000))
    manager.refresh()
    qtbot.waitUntil(lambda: manager.select(str(path)))
    assert cell(manager, str(path), ModelListModel.WHERE) == "LM Studio"
    assert manager.delete_button.isVisible() and not manager.delete_button.isEnabled()
    tip = manager.delete_button.toolTip()
    assert "belongs to LM Studio" in tip and "Remove it in LM Studio" in tip
    qtbot.mouseClick(manager.delete_button, LEFT)  # a disabled button: nothing happens
    assert manager.message_box is None
    QThreadPool.globalInstance().waitForDone()
    assert path.exists()

    mine = manager._store.install_path("org/Tiny-GGUF", "tiny-Q4_K_M.gguf")
    mine.parent.mkdir(parents=True)
    mine.write_bytes(blob(1000))
    manager.refresh()
    qtbot.waitUntil(lambda: manager.select(str(mine)))
    assert manager.delete_button.isEnabled()  # Ponder's own file: its tooltip says what
    assert manager.delete_button.toolTip() == "Delete the file from disk"


def test_a_model_opened_from_a_file_is_listed_as_in_use_while_it_is(
    qtbot: QtBot, manager: ModelManagerDialog, gemma_path: Path, tmp_path: Path
) -> None:
    """The Installed tab was empty, with no hint, while the chat used a model opened by
    its path from a folder no scan looks in."""
    elsewhere = tmp_path / "downloads" / "gemma-3-270m-Q4_K_M.gguf"
    elsewhere.parent.mkdir()
    elsewhere.symlink_to(gemma_path)
    assert manager.installed.rowCount() == 0
    manager.set_model_in_use(str(elsewhere))
    key = str(elsewhere)
    assert manager.installed.rowCount() == 1
    assert cell(manager, key, ModelListModel.WHERE) == "Opened from a file"
    qtbot.waitUntil(lambda: state(manager, key) is RowState.READY, timeout=20_000)
    assert status_text(manager, key) == "In use"
    qtbot.waitUntil(lambda: fit_text(manager, key) != "…", timeout=20_000)
    assert fit_text(manager, key).startswith(("Fits", "CPU", "Partial"))
    assert manager.select(key)
    assert not manager.delete_button.isEnabled()
    assert "The chat is using this model" in manager.delete_button.toolTip()

    with qtbot.waitSignal(manager.scanner.found, timeout=20_000):
        manager.refresh()  # a rescan does not find it, and it stays listed
    assert cell(manager, key, ModelListModel.WHERE) == "Opened from a file"
    assert status_text(manager, key) == "In use"

    manager.set_model_in_use(None)  # another chat, no model: it is not listed any more
    assert row_of(manager, key) < 0 and manager.installed.rowCount() == 0


class UrlCatcher(QObject):
    """Receives what QDesktopServices would hand to the file manager."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_an_added_folder_lists_its_model_to_reveal_and_use_in_chat(
    qtbot: QtBot, manager: ModelManagerDialog, store: ModelStore, gemma_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "my-models"
    folder.mkdir()
    link = folder / "gemma-3-270m-Q4_K_M.gguf"
    link.symlink_to(gemma_path)
    manager.add_folder(folder)
    qtbot.waitUntil(lambda: state(manager, str(link)) is RowState.READY, timeout=20_000)
    assert store.folders() == [folder]
    assert cell(manager, str(link), ModelListModel.WHERE) == "Your folder"
    assert cell(manager, str(link), ModelListModel.QUANT) == "Q4_K_M"
    qtbot.waitUntil(lambda: fit_text(manager, str(link)) != "…")
    manager.select(str(link))

    catcher = UrlCatcher()
    # PySide6 types the slot name as bytes but accepts only a str.
    QDesktopServices.setUrlHandler("file", catcher, "open")  # type: ignore[arg-type]
    try:
        click(qtbot, manager.reveal_button)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert catcher.urls == [QUrl.fromLocalFile(str(folder))]

    with qtbot.waitSignal(manager.model_chosen) as chosen:
        click(qtbot, manager.use_button)
    assert chosen.args == [str(link)]


# The folder menu is a popup: the offscreen platform cannot grab the keyboard for it.
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")
def test_an_added_folder_can_be_removed_and_its_files_stay(
    qtbot: QtBot, manager: ModelManagerDialog, store: ModelStore, gemma_path: Path, tmp_path: Path
) -> None:
    """A folder added in the Models window could never be removed there: Remove folder's
    menu lists it, and choosing it stops the listing."""
    assert not manager.remove_folder_button.isEnabled()  # nothing added yet
    folder = tmp_path / "my-models"
    folder.mkdir()
    link = folder / "gemma-3-270m-Q4_K_M.gguf"
    link.symlink_to(gemma_path)
    manager.add_folder(folder)
    qtbot.waitUntil(lambda: state(manager, str(link)) is RowState.READY, timeout=20_000)
    assert manager.remove_folder_button.isEnabled()
    [item] = manager.folders_menu.actions()
    assert item.text() == str(folder)

    def choose() -> None:  # the button's menu is open now: pick the folder in it
        assert QApplication.activePopupWidget() is manager.folders_menu
        manager.folders_menu.setActiveAction(item)
        qtbot.keyClick(manager.folders_menu, Qt.Key.Key_Return)

    QTimer.singleShot(0, choose)
    click(qtbot, manager.remove_folder_button)
    qtbot.waitUntil(lambda: state(manager, str(link)) is None, timeout=20_000)
    assert store.folders() == [] and manager.added_folders() == []
    assert not manager.remove_folder_button.isEnabled()
    assert manager.folders_menu.actions() == []
    assert manager.banner.text() == f"Stopped listing {folder}; its files stay where they are."
    assert link.is_symlink() and gemma_path.exists()


def test_a_bug_checking_one_model_is_said_in_its_row_and_the_others_are_checked(
    qtbot: QtBot,
    manager: ModelManagerDialog,
    gemma_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error checking one model ended the whole check: that row and every
    one after it said "Checking…" for good."""
    folder = tmp_path / "my-models"
    folder.mkdir()
    (folder / "a-odd-Q4_K_M.gguf").write_bytes(blob(4096))
    good = folder / "gemma-3-270m-Q4_K_M.gguf"
    good.symlink_to(gemma_path)
    validate = HeaderCache.validate

    def buggy(cache: HeaderCache, model: FoundModel) -> Validation:
        if model.path.name.startswith("a-odd"):
            raise RuntimeError("a bug in the header check")
        return validate(cache, model)

    monkeypatch.setattr(HeaderCache, "validate", buggy)
    manager.add_folder(folder)
    odd = str(folder / "a-odd-Q4_K_M.gguf")
    qtbot.waitUntil(lambda: state(manager, odd) is RowState.UNUSABLE, timeout=20_000)
    assert status_text(manager, odd) == (
        "Unusable: Checking a-odd-Q4_K_M.gguf failed (RuntimeError); the log file "
        f"{app_paths().app_log} has the details."
    )
    qtbot.waitUntil(lambda: state(manager, str(good)) is RowState.READY, timeout=20_000)


def test_search_narrows_both_lists(qtbot: QtBot, manager: ModelManagerDialog) -> None:
    every = manager.available.rowCount()
    qtbot.keyClicks(manager.search, "70b q8")
    names = {manager.available.index(r, 0).data() for r in range(manager.available.rowCount())}
    quants = {manager.available.index(r, 1).data() for r in range(manager.available.rowCount())}
    assert 0 < manager.available.rowCount() < every
    assert all("70B" in n for n in names) and quants == {"Q8_0"}
    manager.search.clear()
    assert manager.available.rowCount() == every


def test_the_model_passes_qts_model_tester_while_rows_change(
    qtmodeltester: ModelTester, tmp_path: Path
) -> None:
    model = ModelListModel()
    qtmodeltester.check(model)  # stays attached: every change below is checked too
    model.set_catalog(load_catalog())
    files = []
    for i in range(4):
        f = tmp_path / f"m{i}-Q4_K_M.gguf"
        f.write_bytes(b"x" * (i + 1))
        files.append(FoundModel(f"m{i}", Source.FOLDER, (f,), i + 1, "Q4_K_M"))
    model.set_installed(files, {str(files[0].path)})
    model.set_checked(str(files[0].path), None, "Q4_K_M")
    model.set_fit(str(files[0].path), "CPU only, ~20 tok/s", "cpu")
    model.set_checked(str(files[1].path), "Not a GGUF file.", None)
    model.set_download(KEY, RowState.DOWNLOADING, progress=Progress(5, 10, 2.0, 2.5, FILE))
    index = model.index(model.find(KEY), ModelListModel.STATUS)
    assert index.data(ModelListModel.ProgressRole) == 0.5
    model.set_installed([files[2], files[3]], set())  # two rows vanish, two stay
    assert [r.key for r in model.rows() if r.kind is RowKind.INSTALLED] == [
        str(files[2].path),
        str(files[3].path),
    ]
    model.set_installed([], set())
    qtmodeltester.check(model)


def test_a_broken_copy_elsewhere_does_not_block_the_download(tmp_path: Path) -> None:
    """A half-finished file of the same name in another app's folder is not "on disk":
    the catalog row still offers its download. A rescan that finds a part which appeared
    meanwhile updates the files Delete would remove."""
    model = ModelListModel()
    model.set_catalog(load_catalog())
    broken = tmp_path / FILE
    broken.write_bytes(b"GGUF half")
    found = FoundModel("partial", Source.LMSTUDIO, (broken,), 9, "Q4_K_M")
    model.set_installed([found], set())
    model.set_checked(str(broken), "The file ends inside its header.", None)
    assert model.row_at(model.find(KEY)).state is RowState.NOT_DOWNLOADED

    model.set_checked(str(broken), None, "Q4_K_M")  # say it was fixed: now it counts
    assert model.row_at(model.find(KEY)).state is RowState.ON_DISK

    more = tmp_path / "second-part.gguf"
    more.write_bytes(b"x")
    grown = FoundModel("partial", Source.LMSTUDIO, (broken, more), 10, "Q4_K_M")
    model.set_installed([grown], set())
    assert model.row_at(model.find(str(broken))).files == (broken, more)


def test_fit_verdicts_are_marked_with_a_dot_readable_on_either_theme(
    qapp: QApplication, tmp_path: Path
) -> None:
    """Coloured text looked like a link, and its dark blue was unreadable on the dark
    theme: the verdict is a dot beside plain text, in the theme's shade."""
    from app.gui.theme import VERDICT_COLOURS, apply_theme, verdict_colour

    model = ModelListModel()
    f = tmp_path / "m-Q4_K_M.gguf"
    f.write_bytes(b"x")
    model.set_installed([FoundModel("m", Source.FOLDER, (f,), 1, "Q4_K_M")], set())
    model.set_fit(str(f), "CPU only, ~20 tok/s", "cpu")
    index = model.index(model.find(str(f)), ModelListModel.FIT)
    assert index.data(Qt.ItemDataRole.ForegroundRole) is None
    assert not index.data(Qt.ItemDataRole.DecorationRole).isNull()
    try:
        apply_theme(qapp, "dark", qapp.font().pointSize())
        assert verdict_colour("cpu") == VERDICT_COLOURS["cpu"][1]
        apply_theme(qapp, "light", qapp.font().pointSize())
        assert verdict_colour("cpu") == VERDICT_COLOURS["cpu"][0]
    finally:
        apply_theme(qapp, "system", qapp.font().pointSize())


def test_available_names_show_what_differs_and_fits_are_not_cut(
    qtbot: QtBot, manager: ModelManagerDialog
) -> None:
    """Every Available row read "DeepSeek-R1 Distill Qwe…", and a fit verdict such as
    "Too large: needs 154.66 GB, has 24.00 GB" was cut at 230 px. The shared start is the
    Name heading; the rest of each name is whole, the full name in its tooltip."""
    manager.tabs.setCurrentIndex(1)
    view, proxy = manager.available_view, manager.available
    assert proxy.headerData(ModelListModel.NAME, Qt.Orientation.Horizontal) == "DeepSeek-R1 model"
    names = {proxy.index(r, ModelListModel.NAME).data() for r in range(proxy.rowCount())}
    assert {"Distill Qwen 7B", "Distill Llama 8B", "R1-0528 Qwen3 8B"} <= names
    qwen7 = next(
        proxy.index(r, ModelListModel.NAME)
        for r in range(proxy.rowCount())
        if proxy.index(r, ModelListModel.NAME).data() == "Distill Qwen 7B"
    )
    tip = str(qwen7.data(Qt.ItemDataRole.ToolTipRole))
    assert tip.startswith("DeepSeek-R1 Distill Qwen 7B Q")
    assert cut_cells(view, [ModelListModel.NAME]) == []  # at the window's own size
    manager.resize(1440, 800)
    qtbot.waitUntil(lambda: view.width() > 1300)
    fits = [str(proxy.index(r, ModelListModel.FIT).data()) for r in range(proxy.rowCount())]
    assert any(f.startswith("Too large: needs ") for f in fits)
    assert cut_cells(view, [ModelListModel.NAME, ModelListModel.FIT]) == []
    assert manager.installed.headerData(ModelListModel.NAME, Qt.Orientation.Horizontal) == "Name"
