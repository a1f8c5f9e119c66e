"""The first-run page: what this computer can run, and the recommended model in one click.

Shown in place of the chat while no model is chosen. It plans every catalog size for this
machine (the ladder, recommended row highlighted), offers the recommended R1 build (or the
row the user picks) as one download with progress, pause and cancel, and lists models
already on disk with "Open a GGUF file…". Before offering a download it asks the Hub for
the file (off the GUI thread); when that fails for lack of a network it says so plainly and
leaves the offline ways in. Nothing is sent anywhere except that request and the download
the user asks for.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import OfflineError
from app.core.units import format_bytes
from app.gui.services import Services
from app.gui.viewmodels.ladder_model import MEMORY, QUANT, LadderModel, LadderRow
from app.gui.views.hardware_panel import LadderTable
from app.gui.workers.background import BackgroundJobs
from app.gui.workers.download_worker import DownloadState
from app.gui.workers.model_check import ModelChecker
from app.hardware.probe import HardwareSnapshot
from app.modelhub.catalog import CatalogQuant
from app.modelhub.discovery import FoundModel
from app.modelhub.hub import model_files
from app.modelhub.progress import Progress, progress_text

NO_TELEMETRY = (
    "Ponder sends nothing about you or your chats anywhere. The network is used only to "
    "download the models you ask for."
)


class WelcomePage(QWidget):
    """Signals:
    model_ready(str): a model to chat with: downloaded, found on disk or opened.
    open_file_requested(): the user wants to pick a GGUF file.
    """

    model_ready = Signal(str)
    open_file_requested = Signal()

    def __init__(
        self,
        services: Services,
        *,
        ladder: LadderModel | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self._tokens, self._catalog = services.tokens, services.catalog
        self.ladder = ladder or LadderModel(self)
        self._pick: LadderRow | None = None
        # Downloads go through the app's one queue: the Models window shows (and can pause
        # or cancel) the same download, and no two threads ever write one part file.
        self.downloads = services.downloads
        for signal, slot in (
            (self.downloads.progressed, self._on_progress),
            (self.downloads.installed, self._on_installed),
            (self.downloads.failed, self._on_failed),
            (self.downloads.stopped, self._on_stopped),
        ):
            signal.connect(slot)
        self._key: str | None = None  # the download this page started
        self._on_hub: dict[str, int] = {}  # model id -> bytes, files the Hub confirmed
        self._jobs = BackgroundJobs(self)
        self._checker = ModelChecker(self)
        self._checker.found.connect(self._on_found)
        self.offline = False
        self._build()
        self.ladder.ready.connect(self._on_ladder)
        self.ladder.failed.connect(self.machine.setText)
        self.table.view.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._choose_row(current.row())
        )

    def _build(self) -> None:
        body = QWidget()
        col = QVBoxLayout(body)
        col.setContentsMargins(24, 20, 24, 20)
        col.setSpacing(10)
        title = QLabel("Welcome to Ponder")
        title.setObjectName("welcomeTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        col.addWidget(title)
        col.addWidget(
            _wrapped("Chat offline with reasoning models and watch them think. First, a model:")
        )
        self.machine = _wrapped("Looking at this computer…")
        self.machine.setAccessibleName("This computer")
        col.addWidget(self.machine)
        self.table = LadderTable(self.ladder)
        self.table.status.hide()  # the pick line below says it, with the download
        # The page is narrow beside the chat list (a 1024 px window leaves it ~700 px):
        # the quantization and the memory are said in the pick line and each row's
        # tooltip, so the names and verdicts keep their room (the Hardware window has all).
        for column in (QUANT, MEMORY):
            self.table.view.setColumnHidden(column, True)
        self.table.setMinimumHeight(260)
        self.ladder.ready.connect(self._fit_table)  # a bound slot: dropped with the page
        # A narrow page wraps verdicts onto two lines: the table grows with its rows.
        self.table.view.verticalHeader().sectionResized.connect(self._fit_table)
        col.addWidget(self.table)

        self.pick_label = _wrapped("")
        self.pick_label.setAccessibleName("Recommended model")
        self.pick_label.setTextFormat(Qt.TextFormat.RichText)
        col.addWidget(self.pick_label)
        row = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start_download)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(lambda: self._check_hub(again=True))
        for b in (self.download_button, self.pause_button, self.cancel_button, self.retry_button):
            row.addWidget(b)
        row.addStretch(1)
        col.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Download progress")
        col.addWidget(self.progress)
        self.status = _wrapped("")
        self.status.setAccessibleName("Download status")
        col.addWidget(self.status)

        col.addSpacing(12)
        col.addWidget(_bold("Already have a model?"))
        open_row = QHBoxLayout()
        self.open_button = QPushButton("Open a GGUF file…")
        self.open_button.clicked.connect(self.open_file_requested)
        open_row.addWidget(self.open_button)
        open_row.addStretch(1)
        col.addLayout(open_row)
        self.found_label = _wrapped("Looking for models on this computer…")
        col.addWidget(self.found_label)
        self.found = QListWidget()
        self.found.setAccessibleName("Models found on this computer")
        self.found.setMaximumHeight(140)
        self.found.itemActivated.connect(self._use_found)
        self.found.hide()
        col.addWidget(self.found)
        col.addSpacing(8)
        privacy = _wrapped(NO_TELEMETRY)
        privacy.setObjectName("welcomePrivacy")
        col.addWidget(privacy)
        col.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._set_downloading(False)
        self.retry_button.hide()

    # -- start ----------------------------------------------------------------------

    def start(self) -> None:
        """Plan the ladder and look for models on disk (both off the GUI thread)."""
        self.ladder.refresh()
        self._checker.scan()

    def _on_ladder(self, hw: HardwareSnapshot) -> None:
        self.machine.setText(f"This computer: {machine_summary(hw)}.")
        pick = self.ladder.recommended_row
        if pick is None:
            self.pick_label.setText(
                "None of the R1 sizes fits in this computer's free memory. Close other apps, "
                "or open a smaller GGUF you already have."
            )
            return
        if self.table.view.currentIndex().row() == pick:
            self._choose_row(pick)
        else:
            self.table.view.selectRow(pick)  # the current row changes: _choose_row follows

    def _fit_table(self, *_: object) -> None:
        """Tall enough for every row: the choice is the page's point, and the page has
        the room (it scrolls as a whole when the window is short)."""
        view = self.table.view
        rows = sum(view.rowHeight(r) for r in range(self.ladder.rowCount()))
        frame = 2 * view.frameWidth()
        self.table.setMinimumHeight(max(260, view.horizontalHeader().height() + rows + frame))

    def _choose_row(self, row: int) -> None:
        if self._key is not None or not 0 <= row < self.ladder.rowCount():
            return  # the download in progress stays the pick
        r = self.ladder.row_at(row)
        self._pick = r
        recommended = row == self.ladder.recommended_row
        head = "Recommended for this computer" if recommended else "Your pick"
        self.pick_label.setText(
            f"{head}: <b>{r.name} {r.quant}</b> · {r.download_text} download · "
            f"{r.verdict_text}, {r.speed_text} · needs {r.memory_text}"
        )
        if r.plan.verdict == "too_large":
            self.download_button.setEnabled(False)
            self.download_button.setText(f"Download {r.size_label}")
            self.retry_button.hide()  # "Try again" must not enable a download that cannot run
            self.status.setText(f"{r.name} does not fit: {r.plan.summary}")
            return
        self.download_button.setText(f"Download {r.size_label} ({r.download_text})")
        now = self.downloads.state(_key_of(r))
        if now is not None and now.status == "running":  # started in the Models window
            self._key = _key_of(r)
            self._set_downloading(True)
            self.status.setText(progress_text(now.progress, sizes=True))
            return
        self._check_hub()

    # -- the Hub ----------------------------------------------------------------------

    def _quant(self, r: LadderRow) -> CatalogQuant:
        return self._catalog.get(r.id).quant(r.quant)

    def _check_hub(self, *, again: bool = False) -> None:
        """Ask the Hub for the picked file; the answer enables Download or explains. A
        file the Hub has already confirmed is not asked about again when picked again."""
        if self._pick is None:
            return
        if not again and (size := self._on_hub.get(self._pick.id)) is not None:
            self._on_probe(self._pick.id, size, False, "")
            return
        q, model_id, tokens = self._quant(self._pick), self._pick.id, self._tokens
        self.download_button.setEnabled(False)
        self.retry_button.hide()
        self.status.setText("Checking the Hugging Face Hub…")

        def work() -> int | None:
            """The picked file's size on the Hub; None when the Hub cannot be reached."""
            try:
                files = model_files(q.repo_id, q.first_file.path, token=tokens.for_hub())
            except OfflineError:
                return None
            return sum(f.size for f in files)

        self._jobs.run(
            work,
            lambda total: self._on_probe(model_id, total, total is None, ""),
            lambda problem: self._on_probe(model_id, None, False, problem),
            what="The Hub check",
        )

    def _on_probe(self, model_id: str, total: int | None, offline: bool, problem: str) -> None:
        if self._pick is None or model_id != self._pick.id or self._key is not None:
            return
        if self._pick.plan.verdict == "too_large":
            return  # picked meanwhile: the page already says why it cannot be downloaded
        self.offline = offline
        if total is not None:
            self._on_hub[model_id] = total
        if self.offline:
            self.status.setText(
                "You are offline: Ponder cannot reach the Hugging Face Hub to download a "
                "model. Open a GGUF file you already have, or use one found on this computer."
            )
            self.retry_button.show()
        elif problem:
            self.status.setText(problem)
            self.retry_button.show()
        else:
            self.status.setText(f"Ready to download {format_bytes(total or 0)} from the Hub.")
            now = self.downloads.state(_key_of(self._pick))
            if now is not None and now.status in ("paused", "failed"):
                self.status.setText(_resume_text(now))
                self.download_button.setText("Resume the download")
            self.download_button.setEnabled(True)

    # -- the download -----------------------------------------------------------------

    def start_download(self) -> None:
        if self._pick is None or self._key is not None or self._pick.plan.verdict == "too_large":
            return
        r = self._pick
        key = _key_of(r)  # the Models window's row for it shows the same download
        if not self.downloads.start(key, self._quant(r)):
            self.status.setText(f"{r.name} {r.quant} is already downloading (see Models).")
            return
        self._key = key
        self._set_downloading(True)
        self.status.setText(f"Starting the download of {r.name} {r.quant}…")

    def _set_downloading(self, on: bool) -> None:
        self.download_button.setVisible(not on)
        self.pause_button.setVisible(on)
        self.cancel_button.setVisible(on)
        self.progress.setVisible(on)
        self.table.setEnabled(not on)

    def _mine(self, key: str) -> bool:
        return key == self._key

    def _on_progress(self, key: str, p: Progress) -> None:
        if not self._mine(key):
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * p.done / p.total) if p.total else 0)
        self.status.setText(progress_text(p, sizes=True))

    def _done(self) -> None:
        self._key = None
        self._set_downloading(False)

    def _on_installed(self, key: str, paths: list[str]) -> None:
        if not self._mine(key):
            return
        self._done()
        self.status.setText(f"Installed {Path(paths[0]).name}.")
        if self.isVisible():  # not when the user has moved on to a chat with another model
            self.status.setText(f"Installed {Path(paths[0]).name}. Loading it…")
            self.model_ready.emit(paths[0])

    def _on_failed(self, key: str, message: str) -> None:
        if not self._mine(key):
            return
        self._done()
        self.status.setText(message)
        self.download_button.setText("Resume the download")
        self.download_button.setEnabled(True)

    def _on_stopped(self, key: str, cancelled: bool) -> None:
        if not self._mine(key):
            return
        self._done()
        if cancelled:
            self.status.setText("Download cancelled; nothing of it was kept.")
            self.download_button.setText("Download")
        else:
            self.status.setText("Paused. What was downloaded is kept; resume at any time.")
            self.download_button.setText("Resume the download")
        self.download_button.setEnabled(True)

    def _pause(self) -> None:
        if self._key is not None:
            self.downloads.pause(self._key)

    def _cancel(self) -> None:
        if self._key is not None:
            self.downloads.cancel(self._key)

    # -- models on disk -----------------------------------------------------------------

    def _on_found(self, models: list[FoundModel]) -> None:
        self.found.clear()
        for m in models:
            item = QListWidgetItem(f"{m.name} · {format_bytes(m.size_bytes)} · {m.source.label}")
            item.setData(Qt.ItemDataRole.UserRole, str(m.path))
            item.setToolTip(str(m.path))
            self.found.addItem(item)
        if models:
            self.found_label.setText(
                f"Found on this computer ({len(models)}); double-click one to use it:"
            )
            self.found.show()
        else:
            self.found_label.setText(
                "No models found in Ponder's folder, LM Studio, Ollama, Jan, GPT4All or the "
                "Hugging Face cache."
            )
            self.found.hide()

    def _use_found(self, item: QListWidgetItem) -> None:
        self.model_ready.emit(str(item.data(Qt.ItemDataRole.UserRole)))


def _key_of(r: LadderRow) -> str:
    """The download queue's key of a ladder row (the Models window's row key)."""
    return f"{r.id}/{r.quant}"


def _resume_text(now: DownloadState) -> str:
    p = now.progress
    at = f" at {p.done / p.total:.0%}" if p is not None and p.total > 0 else ""
    if now.status == "failed":
        return f"The download stopped{at}: {now.error} What was downloaded is kept."
    return f"Paused{at}. What was downloaded is kept; resume at any time."


def machine_summary(hw: HardwareSnapshot) -> str:
    """``Xeon, 2 cores · 21.3 GB of 24.0 GB RAM free · no GPU · llama.cpp for CPU``."""
    gpus = (
        ", ".join(f"{g.name} ({format_bytes(g.vram_free)} free)" for g in hw.gpus)
        if hw.gpus
        else "no GPU"
    )
    return (
        f"{hw.cpu_model}, {hw.physical_cores} cores · {format_bytes(hw.ram_available)} of "
        f"{format_bytes(hw.ram_total)} RAM free · {gpus} · llama.cpp for {hw.backend}"
    )


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _bold(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label
