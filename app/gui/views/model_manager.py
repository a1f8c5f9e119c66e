"""The model manager window: models on disk and models to download, with their fit.

Installed lists every GGUF Ponder can see (its own folder, the Hugging Face cache, LM
Studio, Ollama, Jan, GPT4All, folders the user added); Available lists the catalog's
models in each quantization with its size and whether it fits this machine. A download
shows its progress in its row and can be paused, resumed or cancelled; a finished one
appears under Installed, as does the chat's model when it was opened from a file no scan
finds. Only files in Ponder's own folder can be deleted: for other apps' models, and the
model in use, Delete is disabled and its tooltip says why.

The window is not modal and closing it only hides it: downloads go on in the background.
Call ``shutdown()`` before the application quits (it pauses running downloads, which
resume on the next Download).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.units import format_bytes
from app.gui.services import Services
from app.gui.viewmodels.model_downloads import ModelDownloads
from app.gui.viewmodels.model_list import ModelFilter, ModelListModel
from app.gui.viewmodels.model_rows import ACTIVE, ModelRow, RowKind, RowState
from app.gui.views.model_table import model_table
from app.gui.workers.model_check import ModelChecker, ModelInfo
from app.gui.workers.model_check import hardware as machine_hardware
from app.gui.workers.model_scan import ModelScanner
from app.hardware.probe import HardwareSnapshot
from app.modelhub.discovery import FoundModel, Source, guess_quantization

_Index = QModelIndex | QPersistentModelIndex
DELETE_TIP = "Delete the file from disk"


def _button(text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    button.setToolTip(tip)
    button.setAccessibleName(text.rstrip("…"))
    button.setAccessibleDescription(tip)
    return button


class ModelManagerDialog(QDialog):
    """Browse, download, delete and choose models.

    Args:
        services: the app's: its models folder and the user's added folders
            (``models``), the catalog, the one download queue and where partial
            downloads wait.
        hardware: this machine for the fit verdicts; called on a worker thread.

    Signals:
        model_chosen(str): "Use in chat" on a usable model: the path to load.
    """

    model_chosen = Signal(str)

    def __init__(
        self,
        services: Services,
        *,
        hardware: Callable[[], HardwareSnapshot] = machine_hardware,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setModal(False)
        self._store = store = services.models
        catalog = services.catalog
        self._downloads_dir = services.paths.downloads_dir
        # The app's one queue: the first-run page shows and controls the same downloads.
        self.downloads = services.downloads
        self.downloads.idle.connect(self._update_actions)
        self.message_box: QMessageBox | None = None

        self.model = ModelListModel(self)
        self.model.set_catalog(catalog)
        self.scanner = ModelScanner(store, hardware, self)
        self.download_rows = ModelDownloads(
            self.model, self.downloads, self.scanner, catalog, self._downloads_dir, parent=self
        )
        self.download_rows.message.connect(self._show_message)
        self.download_rows.installed.connect(self.refresh)
        self.scanner.found.connect(self._on_found)
        self.scanner.checked.connect(self._on_checked)
        self.scanner.catalog_planned.connect(self._on_catalog_planned)
        self.scanner.removed.connect(self._on_removed)
        self.scanner.failed.connect(self._show_message)
        # The chat's model, and the checker of one opened from a file no scan lists.
        self._in_use: str | None = None
        self._opened: FoundModel | None = None
        self._checker = ModelChecker(self)
        self._checker.checked.connect(self._on_opened_checked)
        self._checker.failed.connect(self._on_opened_failed)

        self.banner = QLabel()
        self.banner.setObjectName("managerBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setAccessibleName("Model manager message")
        self.banner.hide()
        self.search = QLineEdit(placeholderText="Search models", clearButtonEnabled=True)
        self.search.setAccessibleName("Search models")
        self.search.setToolTip("Show only models whose name, quantization or place match")
        self.search.textChanged.connect(self._on_search)
        self.add_folder_button = _button(
            "Add folder…",
            "List the models in a folder of yours (they stay where they are)",
            self._on_add_folder,
        )
        # A folder added here is listed until removed here (its files are never touched).
        self.remove_folder_button = QPushButton("Remove folder")
        self.remove_folder_button.setToolTip(
            "Stop listing a folder you added (its files stay where they are)"
        )
        self.remove_folder_button.setAccessibleName("Remove folder")
        self.remove_folder_button.setAccessibleDescription(self.remove_folder_button.toolTip())
        self.folders_menu = QMenu(self.remove_folder_button)
        self.remove_folder_button.setMenu(self.folders_menu)
        self._folders: list[Path] = []
        self.remove_folder_button.setEnabled(False)
        self.rescan_button = _button("Rescan", "Look for models on disk again", self.refresh)

        self.installed = ModelFilter(RowKind.INSTALLED, self)
        self.available = ModelFilter(RowKind.AVAILABLE, self)
        self.installed_view = model_table(self.model, self.installed, "Installed models")
        self.available_view = model_table(self.model, self.available, "Models to download")
        for view in (self.installed_view, self.available_view):
            view.selectionModel().currentRowChanged.connect(self._update_actions)
        self.installed_view.doubleClicked.connect(self._on_use)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.installed_view, "&Installed")
        self.tabs.addTab(self.available_view, "&Available")
        self.tabs.currentChanged.connect(self._update_actions)

        self.use_button = _button("Use in chat", "Load this model for the chat", self._on_use)
        self.reveal_button = _button(
            "Reveal in file manager", "Open the folder holding the file", self._on_reveal
        )
        self.delete_button = _button("Delete…", DELETE_TIP, self._on_delete)
        self.download_button = _button(
            "Download", "Download this model in this quantization", self._on_download
        )
        self.pause_button = _button(
            "Pause", "Pause the download (it resumes where it stopped)", self._on_pause
        )
        self.resume_button = _button(
            "Resume", "Continue the download where it stopped", self._on_download
        )
        self.cancel_button = _button(
            "Cancel download", "Stop and delete what was downloaded", self._on_cancel
        )
        self._installed_actions = [self.use_button, self.reveal_button, self.delete_button]
        self._available_actions = [self.download_button, self.pause_button]
        self._available_actions += [self.resume_button, self.cancel_button]

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.add_folder_button)
        top.addWidget(self.remove_folder_button)
        top.addWidget(self.rescan_button)
        actions = QHBoxLayout()
        for button in [*self._installed_actions, *self._available_actions]:
            actions.addWidget(button)
        actions.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(actions)
        layout.addWidget(close)
        self.resize(1100, 600)

        self.model.dataChanged.connect(self._update_actions)
        self._update_actions()
        self.refresh()
        self.scanner.plan_catalog(catalog, self._downloads_dir)

    # -- public ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Scan the disk again (after another app downloaded something, say)."""
        self.scanner.scan()

    def add_folder(self, folder: Path) -> None:
        """List the models in ``folder`` from now on (saved in the store's folder list)."""
        self.scanner.scan(add_folder=folder)

    def remove_folder(self, folder: Path) -> None:
        """Stop listing the models in ``folder``, an added one (its files stay)."""
        self._show_message(f"Stopped listing {folder}; its files stay where they are.")
        self.scanner.scan(remove_folder=folder)

    def set_model_in_use(self, path: str | None) -> None:
        """The chat's model (None: none). Its row says "In use" and cannot be deleted; a
        file opened by its path that no scan lists is listed too, as opened from a file."""
        self._in_use = str(Path(path)) if path else None
        self._opened = None
        if self._in_use is not None and self.model.find(self._in_use) < 0:
            self._opened = _opened_file(Path(self._in_use))
        self.model.set_in_use(self._in_use, self._opened)
        if self._opened is not None:
            self._checker.check(self._opened.path)
        self._update_actions()

    def added_folders(self) -> list[Path]:
        """The folders the user added, as of the last scan."""
        return list(self._folders)

    def current_row(self) -> ModelRow | None:
        """The row selected in the visible tab."""
        view = self._current_view()
        proxy = view.model()
        index = view.selectionModel().currentIndex()
        if not index.isValid() or not isinstance(proxy, ModelFilter):
            return None
        return self.model.row_at(proxy.mapToSource(index).row())

    def select(self, key: str) -> bool:
        """Show the row ``key`` in its tab and select it; False when it is not listed."""
        row = self.model.find(key)
        if row < 0:
            return False
        kind = self.model.row_at(row).kind
        self.tabs.setCurrentIndex(0 if kind is RowKind.INSTALLED else 1)
        view = self._current_view()
        proxy = view.model()
        assert isinstance(proxy, ModelFilter)
        index = proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        view.selectionModel().setCurrentIndex(
            index,
            view.selectionModel().SelectionFlag.ClearAndSelect
            | view.selectionModel().SelectionFlag.Rows,
        )
        view.scrollTo(index)
        return True

    def downloading(self) -> list[str]:
        """Keys of the downloads running now."""
        return self.downloads.running()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Pause every running download (parts are kept) and wait for the threads."""
        self.downloads.shutdown(timeout_ms)

    # -- building -------------------------------------------------------------------------

    def _current_view(self) -> QTableView:
        return self.installed_view if self.tabs.currentIndex() == 0 else self.available_view

    def _update_actions(self) -> None:
        row = self.current_row()
        on_installed = self.tabs.currentIndex() == 0
        for button in self._installed_actions:
            button.setVisible(on_installed)
        for button in self._available_actions:
            button.setVisible(not on_installed)
        state = row.state if row is not None else None
        self.use_button.setEnabled(state is RowState.READY)
        self.reveal_button.setEnabled(row is not None and row.path is not None)
        refusal = row.delete_refusal() if row is not None else None
        self.delete_button.setEnabled(
            row is not None and row.kind is RowKind.INSTALLED and refusal is None
        )
        # A disabled button still shows its tooltip: the reason, where the user looks.
        self.delete_button.setToolTip(refusal or DELETE_TIP)
        self.delete_button.setAccessibleDescription(refusal or DELETE_TIP)
        self.download_button.setEnabled(state in (RowState.NOT_DOWNLOADED, RowState.FAILED))
        self.pause_button.setEnabled(state in ACTIVE)
        self.resume_button.setEnabled(state is RowState.PAUSED)
        self.cancel_button.setEnabled(state in (*ACTIVE, RowState.PAUSED))

    # -- scans ----------------------------------------------------------------------------

    def _on_found(self, generation: int, models: list[FoundModel]) -> None:
        if generation != self.scanner.generation:
            return
        removable = {str(m.path) for m in models if self._store.owns(m.path)}
        self.model.set_installed(models, removable)
        self.model.set_in_use(self._in_use, self._opened)
        self._set_folders(self._store.folders())

    def _set_folders(self, folders: list[Path]) -> None:
        """The added folders, one menu item each under Remove folder."""
        self._folders = folders
        self.remove_folder_button.setEnabled(bool(folders))
        self.folders_menu.clear()
        for folder in folders:
            action = self.folders_menu.addAction(str(folder))
            action.setToolTip(f"Stop listing the models in {folder}")
            action.triggered.connect(lambda _=False, f=folder: self.remove_folder(f))

    def _on_checked(  # noqa: PLR0917 (a signal's arguments)
        self,
        generation: int,
        path: str,
        problem: str | None,
        quant: str | None,
        summary: str | None,
        verdict: str | None,
    ) -> None:
        if generation != self.scanner.generation:
            return
        self.model.set_checked(path, problem, quant)
        if problem is None:
            self.model.set_fit(path, summary, verdict)

    def _on_catalog_planned(self, fits: dict[str, tuple[str, str]], partial: list[str]) -> None:
        for key, (summary, verdict) in fits.items():
            self.model.set_fit(key, summary, verdict)
        for key in partial:
            if key not in self.downloads:
                self.model.set_download(key, RowState.PAUSED)

    def _on_search(self, text: str) -> None:
        self.installed.set_search(text)
        self.available.set_search(text)

    def _on_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models", str(Path.home()))
        if folder:
            self.add_folder(Path(folder))

    # -- installed actions ----------------------------------------------------------------

    def _on_use(self) -> None:
        row = self.current_row()
        if row is not None and row.state is RowState.READY and row.path is not None:
            self.model_chosen.emit(str(row.path))

    def _on_reveal(self) -> None:
        row = self.current_row()
        if row is not None and row.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(row.path.parent)))

    def _on_opened_checked(self, info: ModelInfo) -> None:
        fit = info.fit
        self.model.set_checked(info.path, None, info.quantization)
        self.model.set_fit(info.path, fit.summary if fit else None, fit.verdict if fit else None)

    def _on_opened_failed(self, path: str, message: str) -> None:
        self.model.set_checked(path, message, None)

    def _on_delete(self) -> None:
        row = self.current_row()
        if row is None or row.path is None or row.delete_refusal() is not None:
            return  # the button is disabled then, its tooltip saying why
        size = format_bytes(row.size_bytes)
        parts = f" and its {len(row.files) - 1} other part(s)" if len(row.files) > 1 else ""
        key, files = row.key, row.files
        self._ask(
            QMessageBox.Icon.Question,
            "Delete model",
            f"Delete {row.path.name}{parts} ({size}) from disk?\n\n{row.path}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            lambda: self.scanner.remove(key, files),
        )

    def _ask(
        self,
        icon: QMessageBox.Icon,
        title: str,
        text: str,
        buttons: QMessageBox.StandardButton,
        on_yes: Callable[[], None],
    ) -> None:
        """A window-modal box that does not block the event loop (downloads keep painting)."""
        box = QMessageBox(icon, title, text, buttons, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")

        def done(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes:
                on_yes()

        box.finished.connect(done)
        self.message_box = box
        box.open()

    def _on_removed(self, path: str) -> None:
        self._show_message(f"Deleted {Path(path).name}.")
        self.refresh()

    # -- downloads ------------------------------------------------------------------------

    def start_download(self, key: str) -> None:
        """Download (or resume) the available row ``key``."""
        if self.download_rows.start(key):
            self._hide_message()

    def _on_download(self) -> None:
        row = self.current_row()
        if row is not None and row.kind is RowKind.AVAILABLE:
            self.start_download(row.key)

    def _on_pause(self) -> None:
        if (row := self.current_row()) is not None:
            self.download_rows.pause(row)

    def _on_cancel(self) -> None:
        if (row := self.current_row()) is not None:
            self.download_rows.cancel(row)

    # -- messages -------------------------------------------------------------------------

    def _show_message(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    def _hide_message(self) -> None:
        self.banner.hide()
        self.banner.clear()


def _opened_file(path: Path) -> FoundModel | None:
    """A model file opened by its path, listed as a scan would list it (stat only); None
    when it is not a file (a server's model, a replay)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if not path.is_file() or path.suffix.lower() != ".gguf":
        return None
    return FoundModel(path.stem, Source.FOLDER, (path,), size, guess_quantization(path.name))
