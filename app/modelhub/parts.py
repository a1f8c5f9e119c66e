"""Part files: where a download's unfinished bytes wait between runs, and their bookkeeping.

Each file of a download goes to ``<downloads_dir>/<repo>/<file>.part`` with
``<file>.part.json`` beside it (what the bytes are: size, SHA-256, ETag, commit, URL; and
how many are known to be on disk) and ``<file>.part.lock`` while a run writes it, so any
later run, in any process, continues where the last stopped, and two never write one part.
``transfer`` fills a part; ``downloader`` decides what to keep, verifies and installs it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from app.core.atomic import write_atomic
from app.core.errors import DownloadError
from app.modelhub.hub import RemoteFile

_STATE_VERSION = 1


class PartJob:
    """One file of a download: where its part and state live, and what the Hub said."""

    def __init__(self, file: RemoteFile, part: Path, target: Path) -> None:
        self.file = file
        self.part = part
        self.state = part.with_name(part.name + ".json")
        self.target = target
        self.size = file.size
        self.sha256 = file.sha256
        self.etag: str | None = None
        self.commit: str | None = None
        self.url = ""
        self.on_disk = 0
        self.installed = False
        self.digest: str | None = None  # SHA-256 of the complete part, once verified

    def identity(self) -> dict[str, Any]:
        return {"repo": self.file.repo, "filename": self.file.filename, "size": self.size,
                "sha256": self.sha256, "etag": self.etag}  # fmt: skip

    def save_state(self, written: int, **extra: Any) -> None:
        state = {"version": _STATE_VERSION, **self.identity(), "url": self.url,
                 "commit": self.commit, "bytes": written, **extra}  # fmt: skip
        write_atomic(self.state, json.dumps(state, indent=1))

    def load_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            return None
        identity = self.identity()
        if self.sha256 and state.get("sha256") == self.sha256:
            # The content hash names the bytes; an ETag is only a server's label for them
            # (a mirror set with HF_ENDPOINT may label the same file differently each time).
            identity.pop("etag")
        same = all(state.get(k) == v for k, v in identity.items())
        return state if same else None


def part_path(downloads_dir: Path, file: RemoteFile) -> Path:
    """Where the partial download of ``file`` lives (its state is ``<part>.json``)."""
    return downloads_dir / file.repo / f"{file.filename}.part"


def has_parts(downloads_dir: Path, repo: str, filenames: list[str]) -> bool:
    """True when an earlier run left part of ``repo``'s ``filenames`` on disk (a download
    resumes it; ``discard_parts`` deletes it)."""
    return any(
        part_path(downloads_dir, RemoteFile(repo, name, 0, None)).exists() for name in filenames
    )


@contextlib.contextmanager
def lock(job: PartJob) -> Iterator[None]:
    """Hold the part's lock file while writing it (or deleting it).

    Raises:
        DownloadError: another run (another Ponder) writes it now.
    """
    job.part.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(job.part) + ".lock", timeout=0)
    try:
        with lock:
            yield
    except Timeout:
        raise DownloadError(
            f"{job.file.name} is already being downloaded by another Ponder.",
            "Wait for that download to finish, or stop it first.",
        ) from None


def usable_part(job: PartJob, *, discard: bool) -> int:
    """Bytes of an earlier run that can be kept; a part of another version is deleted
    (when ``discard``: only under the lock, never by a run that is about to refuse)."""
    state = job.load_state()
    installed = state is not None and state.get("installed") and not job.part.exists()
    if installed and job.target.exists() and job.target.stat().st_size == job.size:
        job.installed = True  # killed between installing shards: this one is in place
        return job.size
    size = job.part.stat().st_size if job.part.exists() else 0
    if state is None or size > job.size:
        if discard:
            discard_part(job)
        return 0
    return size


def discard_part(job: PartJob) -> None:
    """Delete the part and its state (under its lock: no other run may be using them)."""
    job.part.unlink(missing_ok=True)
    job.state.unlink(missing_ok=True)


def remove_lock_files(parts: list[Path], downloads_dir: Path) -> None:
    """Remove the lock files of a download that is over, once their locks are released
    (Windows refuses to delete a held one), and the folders that leaves empty. Another run
    may have taken a lock meanwhile: then its file stays, which is harmless."""
    for part in parts:
        with contextlib.suppress(OSError):
            Path(f"{part}.lock").unlink(missing_ok=True)
        _prune_empty(part.parent, downloads_dir)


def discard_parts(downloads_dir: Path, repo: str, filenames: list[str]) -> None:
    """Delete what a paused or failed download of ``repo``'s ``filenames`` left behind
    (parts, their state and lock files) and the folders that leaves empty: what "Cancel"
    on a download that is not running means.

    Raises:
        DownloadError: another Ponder (say `ponder models download` in a terminal) is
            downloading one of these files now; nothing was deleted.
    """
    jobs = [
        PartJob(f, part_path(downloads_dir, f), Path())
        for f in (RemoteFile(repo, name, 0, None) for name in filenames)
    ]
    with contextlib.ExitStack() as locks:
        for job in jobs:
            locks.enter_context(lock(job))
        for job in jobs:
            discard_part(job)
    remove_lock_files([job.part for job in jobs], downloads_dir)


def _prune_empty(folder: Path, downloads_dir: Path) -> None:
    while folder != downloads_dir and downloads_dir in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent
