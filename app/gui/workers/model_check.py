"""Check a chosen GGUF off the GUI thread: valid header, name, quantization and its fit.

Reading a header (tens of MB of metadata for big tokenizers) and probing the hardware take
long enough to stutter the window, so both run on Qt's thread pool (``BackgroundJobs``);
the answer comes back on the GUI thread, whatever happens on the way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from PySide6.QtCore import QObject, Signal

from app.core.errors import AppError
from app.core.gguf import read_model
from app.core.paths import app_paths
from app.gui.workers.background import BackgroundJobs
from app.hardware.planner import FitPlan, plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import shape_from_file
from app.inference.system import machine_snapshot
from app.modelhub.discovery import FoundModel, default_roots, discover
from app.modelhub.store import ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    quantization: str
    fit: FitPlan | None

    @property
    def label(self) -> str:
        return f"{self.name} · {self.quantization}" if self.quantization else self.name


# Free RAM and VRAM change as other programs start and stop: a verdict planned with a
# snapshot from hours ago could say "fits" when it no longer does.
HARDWARE_MAX_AGE_S = 30.0
_hw_lock = threading.Lock()
_hw: tuple[float, HardwareSnapshot] | None = None


def hardware(max_age_s: float = HARDWARE_MAX_AGE_S) -> HardwareSnapshot:
    """The machine as it is now, give or take ``max_age_s`` (probing is cheap after the
    first time: the bandwidth figure is cached on disk)."""
    global _hw  # noqa: PLW0603 (one snapshot per process)
    with _hw_lock:
        now = time.monotonic()
        if _hw is None or now - _hw[0] > max_age_s:
            snap = machine_snapshot()
            # The chat's own engine is not a rival for memory: the model a plan is for
            # would replace the one it holds. Its private memory counts as free (Linux,
            # where it is known; its mapped model file is page cache, already free).
            snap = dataclasses.replace(snap, ram_available=snap.ram_available + _own_memory())
            _hw = (now, snap)
        return _hw[1]


def _own_memory() -> int:
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            info = child.memory_info()
            total += max(0, info.rss - getattr(info, "shared", info.rss))
    return total


def inspect_model(path: Path, n_ctx: int = 0, gpu_layers: int = -1) -> ModelInfo:
    """Validate a GGUF and plan it for this machine; raises ``AppError`` with the reason."""
    header = read_model(path)
    name = str(header.get("general.name") or path.stem)
    fit: FitPlan | None = None
    try:
        fit = plan(
            shape_from_file(path, header),
            hardware(),
            n_ctx=n_ctx or None,
            gpu_layers=None if gpu_layers < 0 else gpu_layers,
        )
    except AppError as exc:  # CannotSizeError among them: the fit stays unknown
        log.info("no fit estimate for %s: %s", path, exc)
    return ModelInfo(str(path), name, header.quantization, fit)


def models_on_disk() -> list[FoundModel]:
    """GGUFs in Ponder's folder and those LM Studio, Ollama, Jan, GPT4All and the Hugging
    Face cache downloaded (listing and stat only: no header is read here)."""
    paths = app_paths().ensure()
    store = ModelStore.from_paths(paths)
    roots = default_roots(models_dir=paths.models_dir, folders=store.folders())
    return [m for m in discover(roots) if m.problem is None]


class ModelChecker(QObject):
    """Checks a model file, or lists the models on disk, off the GUI thread.

    Signals:
        checked(ModelInfo): ``check(path)`` found a usable model.
        failed(str path, str message): it did not; one sentence and what to do (a bug
            says so, with the log file's path).
        found(list[FoundModel]): ``scan()``'s answer (empty when the folders could not
            be listed: the list is a convenience, the picker works without it).
    """

    checked = Signal(object)
    failed = Signal(str, str)
    found = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = BackgroundJobs(self)

    def scan(self) -> None:
        def work() -> list[FoundModel]:
            try:
                return models_on_disk()
            except OSError as exc:
                raise AppError(
                    f"The model folders cannot be listed: {exc.strerror or exc}."
                ) from exc

        self._jobs.run(
            work, self.found.emit, self._on_scan_failed, what="Looking for models on disk"
        )

    def _on_scan_failed(self, message: str) -> None:
        log.warning("model discovery failed: %s", message)
        self.found.emit([])

    def check(self, path: Path, n_ctx: int = 0, gpu_layers: int = -1) -> None:
        def work() -> ModelInfo:
            try:
                return inspect_model(path, n_ctx, gpu_layers)
            except OSError as exc:
                raise AppError(f"{path} cannot be read: {exc.strerror or exc}.") from exc

        self._jobs.run(
            work,
            self.checked.emit,
            lambda message: self.failed.emit(str(path), message),
            what=f"Checking {path.name}",
        )
