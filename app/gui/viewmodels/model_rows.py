"""One line of the model manager's table: an installed file or a catalog model x quant,
its state, and the texts it shows of itself (status, why it cannot be deleted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import assert_never

from app.modelhub.discovery import Source
from app.modelhub.progress import Progress, progress_text


class RowKind(StrEnum):
    INSTALLED = "installed"
    AVAILABLE = "available"


class RowState(StrEnum):
    CHECKING = "checking"  # installed: header not read yet
    READY = "ready"
    UNUSABLE = "unusable"
    NOT_DOWNLOADED = "not_downloaded"  # available
    ON_DISK = "on_disk"  # available, and a copy was found on disk
    STARTING = "starting"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    FAILED = "failed"


ACTIVE = (RowState.STARTING, RowState.DOWNLOADING)
OPENED = "Opened from a file"  # "From" of a model in use that no scan found


@dataclass
class ModelRow:
    """One line of the table. ``key`` is the path (installed) or ``id/QUANT`` (available)."""

    key: str
    kind: RowKind
    name: str
    quant: str
    size_bytes: int
    where: str
    state: RowState
    path: Path | None = None
    files: tuple[Path, ...] = ()
    removable: bool = False
    catalog_id: str | None = None
    file_name: str | None = None  # available: the first file's name, to spot a copy on disk
    licence: str = ""
    problem: str | None = None  # why an installed file cannot load
    error: str | None = None  # why the last download failed
    fit: str | None = None
    verdict: str | None = None
    progress: Progress | None = None
    also_at: tuple[str, ...] = field(default_factory=tuple)
    where_found: str = ""  # available rows: which app's copy is on disk
    order: int = 0  # available rows: place in the catalog (smallest model first)
    repo_id: str = ""  # available rows: the Hub repo (``where`` shows its publisher)
    short_name: str = ""  # available rows: the name without the catalog's shared start
    in_use: bool = False  # installed rows: the chat's model
    opened: bool = False  # installed rows: listed because it is in use, not found by a scan

    @property
    def fraction(self) -> float | None:
        p = self.progress
        if p is None or self.state not in (*ACTIVE, RowState.PAUSED) or p.total <= 0:
            return None
        return min(1.0, p.done / p.total)

    def status_text(self) -> str:
        s = self.state
        if s is RowState.CHECKING:
            return "Checking…"
        if s is RowState.READY:
            return "In use" if self.in_use else "Ready"
        if s is RowState.UNUSABLE:
            return f"Unusable: {self.problem}"
        if s is RowState.ON_DISK:
            return "Installed" + (f" ({self.where_found})" if self.where_found else "")
        if s is RowState.STARTING:
            return "Starting…"
        if s is RowState.DOWNLOADING:
            return progress_text(self.progress)
        if s is RowState.PAUSED:
            pct = f" at {self.fraction:.0%}" if self.fraction is not None else ""
            return f"Paused{pct}"
        if s is RowState.FAILED:
            return f"Failed: {self.error}"
        if s is RowState.NOT_DOWNLOADED:
            return "Not downloaded"
        assert_never(s)

    def delete_refusal(self) -> str | None:
        """Why Ponder will not delete this installed model's files; None when it may."""
        if self.path is None:
            return None
        if self.in_use:
            return "The chat is using this model: choose another one first, then delete it."
        if self.removable:
            return None
        if self.opened:
            return (
                f"{self.path.name} was opened from a file outside Ponder's folder; Ponder "
                "does not delete it."
            )
        if self.where == Source.FOLDER.label:
            return (
                f"{self.path.name} is in a folder you added; Ponder only lists it. Delete it "
                "in your file manager, or use Remove folder to stop listing the folder."
            )
        return (
            f"{self.path.name} belongs to {self.where}; Ponder only lists it and never "
            f"deletes other apps' files. Remove it in {self.where}."
        )
