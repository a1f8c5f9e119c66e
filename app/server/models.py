"""The models the API offers: those on this computer, each with its fit here."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.core.errors import AppError
from app.hardware.planner import plan
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import shape_from_file
from app.modelhub.discovery import FoundModel
from app.server.api import ServedModel


class ServedModels:
    """Lists the usable models (``find`` scans the disk) and plans each one's fit once.

    Args:
        find: The models on this computer (the app's discovery, or the CLI's).
        machine: This machine as the fit planner sees it.
        default: A model offered even if discovery does not list it (``-m PATH``, the
            model open in the app's chat).
    """

    def __init__(
        self,
        find: Callable[[], list[FoundModel]],
        machine: Callable[[], HardwareSnapshot],
        default: ServedModel | None = None,
    ) -> None:
        self.find, self.machine, self.default = find, machine, default
        self._fits: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self) -> list[ServedModel]:
        found = [m for m in self.find() if m.problem is None]
        models = [ServedModel(m.name, str(m.path), m.size_bytes) for m in found]
        default = self.default
        if default is not None and all(m.path != default.path for m in models):
            models.insert(0, default)
        return [ServedModel(m.id, m.path, m.size_bytes, self._fit(m.path)) for m in models]

    def _fit(self, path: str) -> str:
        if path.endswith(".jsonl"):
            return "a recorded reply (replay)"
        with self._lock:
            if path not in self._fits:
                try:
                    self._fits[path] = plan(shape_from_file(path), self.machine()).summary
                except (AppError, OSError) as exc:  # the planner says CannotSizeError
                    self._fits[path] = f"cannot be sized: {exc}"
            return self._fits[path]
