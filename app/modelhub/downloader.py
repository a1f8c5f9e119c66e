"""Resumable, verified downloads of Hub files: the transfer huggingface_hub lacks.

huggingface_hub writes to a uniquely named temporary file and deletes it on failure, so a
40 GB download cut at 90% starts over. Here each file goes to a part file that outlives
the run (``parts``: ``<downloads_dir>/<repo>/<file>.part`` and its state), so any later
run, in any process, continues with ``Range: bytes=N-``. A resumed part is re-hashed first (hashlib
cannot save its state) and the SHA-256 is checked against the Hub's LFS hash before
anything is installed; a mismatch deletes the part and is never installed. Split models
(``-00001-of-00003.gguf``) are one download: progress over all shards, installed together.

Failures a network has are retried with exponential backoff and jitter (dropped
connections, timeouts, 5xx; 429 waits for ``Retry-After``) and a watchdog reconnects a
stream that sends nothing for ``RetryPolicy.stall_s``. Pause and cancel come from another
thread through a ``StopToken``, honoured within a fraction of a second even mid-stall.
huggingface_hub supplies URLs, auth headers, file metadata and its HTTP client (httpx2).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub import get_hf_file_metadata

from app.core.errors import (
    AppError,
    BadInputError,
    ChecksumMismatchError,
    DownloadError,
    DownloadStoppedError,
    NotEnoughSpaceError,
)
from app.core.units import format_bytes
from app.modelhub import provenance
from app.modelhub.hub import RemoteFile, auth_headers, file_url, hub_errors, resolve_endpoint
from app.modelhub.parts import (
    PartJob,
    discard_part,
    discard_parts,
    has_parts,
    lock,
    part_path,
    remove_lock_files,
    usable_part,
)
from app.modelhub.progress import Progress, ProgressMeter
from app.modelhub.retry import (
    RetryPolicy,
    StopToken,
    is_transient,
    retrying,
    stopped,
    transient_from,
)
from app.modelhub.transfer import Transfer

__all__ = [
    "DEFAULT_MARGIN",
    "Progress",
    "ProgressMeter",
    "RetryPolicy",
    "StopToken",
    "discard_parts",
    "download",
    "has_parts",
    "part_path",
]

log = logging.getLogger(__name__)

DEFAULT_MARGIN = 512 << 20  # room left on the disk for everything else


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def download(
    files: list[RemoteFile],
    dest_dir: Path,
    *,
    downloads_dir: Path,
    token: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: StopToken | None = None,
    endpoint: str | None = None,
    retry: RetryPolicy | None = None,
    margin: int = DEFAULT_MARGIN,
    disk_free: Callable[[Path], int] = _disk_free,
) -> list[Path]:
    """Download ``files`` (one model: a single GGUF, or all shards of a split one) into
    ``dest_dir`` and return the installed paths in order.

    Each file is installed as ``dest_dir / file.name`` by an atomic rename (or copy and
    rename across filesystems) only after its SHA-256 matched, and only once every file
    of the model is complete. ``progress`` is called from this thread, a few times a
    second. ``stop.pause()`` raises ``DownloadPausedError`` and keeps the parts;
    ``stop.cancel()`` raises ``DownloadStoppedError`` and deletes them. ``disk_free`` and
    ``margin`` decide the space check (tests make it see a full disk).

    Raises:
        AppError: one sentence and a way forward (offline, gated, not found, disk space,
            checksum mismatch, retries exhausted); the part stays unless it was corrupt.
    """
    if not files:
        raise BadInputError("There is nothing to download.", "Pick a model file.")
    base = resolve_endpoint(endpoint)
    stop = stop or StopToken()
    retry = retry or RetryPolicy()
    headers = {**auth_headers(token), "Accept-Encoding": "identity"}
    jobs = [PartJob(f, part_path(downloads_dir, f), dest_dir / f.name) for f in files]
    for job in jobs:
        _resolve(job, base, token, retry, stop)
    for job in jobs:
        job.on_disk = usable_part(job, discard=False)
    _check_space(jobs, dest_dir, downloads_dir, margin, disk_free)
    meter = ProgressMeter(sum(j.size for j in jobs), progress)
    finished = False  # installed or cancelled: nothing of this download stays behind
    try:
        with contextlib.ExitStack() as locks:
            for job in jobs:
                locks.enter_context(lock(job))
            for job in jobs:
                job.on_disk = usable_part(job, discard=True)
            try:
                for job in jobs:
                    _fetch(job, base=base, headers=headers, meter=meter, stop=stop, retry=retry)
            except DownloadStoppedError:
                if stop.cancelled:
                    for job in jobs:
                        discard_part(job)  # under the lock: no other run is using them
                    finished = True
                raise
            except AppError:
                # A failure before the first byte leaves nothing to resume: an empty part
                # would show as "Paused" next time. Parts with bytes stay for a resume.
                for job in jobs:
                    if not job.installed and job.on_disk == 0:
                        discard_part(job)
                finished = not any(job.part.exists() for job in jobs)
                raise
            meter.installing()
            paths = [_install(job, stop) for job in jobs]
            _fsync_dir(dest_dir)
            for job in jobs:
                discard_part(job)
            finished = True
    finally:
        if finished:
            remove_lock_files([job.part for job in jobs], downloads_dir)
    meter.finish()
    return paths


def _resolve(
    job: PartJob, base: str, token: str | None, retry: RetryPolicy, stop: StopToken
) -> None:
    """Ask the Hub (HEAD) for the file's size, ETag and commit; check them against the
    caller's listing so a changed file is caught before a byte is written."""
    f = job.file
    job.url = file_url(f, base)

    def head() -> Any:
        try:
            return get_hf_file_metadata(
                job.url, token=token, timeout=retry.connect_timeout_s, endpoint=base
            )
        except Exception as exc:
            if is_transient(exc):
                raise transient_from(exc, base) from exc
            raise

    with hub_errors(base, repo=f.repo, revision=f.revision, filename=f.filename):
        meta = retrying(f.name, retry, stop, head)
    job.etag, job.commit = meta.etag, meta.commit_hash
    if meta.size is not None:
        if job.size and meta.size != job.size:
            raise DownloadError(
                f"{f.name} on the Hub is now {format_bytes(meta.size)}, not the "
                f"{format_bytes(job.size)} listed.",
                "Refresh the model list and pick the file again.",
            )
        job.size = meta.size
    if not job.size:
        raise DownloadError(f"The Hub did not say how large {f.name} is.", "Try again later.")
    etag_sha = meta.etag if meta.etag and len(meta.etag) == 64 else None
    if job.sha256 and etag_sha and etag_sha != job.sha256.lower():
        raise DownloadError(
            f"{f.name} on the Hub no longer matches the listed SHA-256.",
            "Refresh the model list and pick the file again.",
        )
    job.sha256 = (job.sha256 or etag_sha or "").lower() or None


def _check_space(
    jobs: list[PartJob], dest: Path, downloads: Path, margin: int, disk_free: Callable[[Path], int]
) -> None:
    """Refuse to start, writing nothing, when a disk cannot take the rest plus ``margin``."""
    parts_root, dest_root = _existing(downloads), _existing(dest)
    needs = {parts_root: sum(j.size - j.on_disk for j in jobs)}
    if dest_root.stat().st_dev != parts_root.stat().st_dev:
        needs[dest_root] = sum(j.size for j in jobs if not j.installed)  # copied across
    for where, need in needs.items():
        free = disk_free(where)
        if need and free < need + margin:
            raise NotEnoughSpaceError(
                f"Not enough disk space: the download needs {format_bytes(need + margin)} "
                f"(with {format_bytes(margin)} to spare) and {where} has "
                f"{format_bytes(free)} free.",
                "Free some space or choose another models folder, then try again.",
            )


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _fetch(
    job: PartJob,
    *,
    base: str,
    headers: dict[str, str],
    meter: ProgressMeter,
    stop: StopToken,
    retry: RetryPolicy,
) -> None:
    """Bring ``job.part`` to the full, verified file (a no-op for one already verified)."""
    if job.installed:
        meter.restore(job.size)
        return
    meter.file = job.file.name
    state = job.load_state()
    verified = state is not None and state.get("verified") and job.on_disk == job.size
    if verified and state and state.get("mtime_ns") == job.part.stat().st_mtime_ns:
        meter.restore(job.size)
        job.digest = state.get("digest") or job.sha256
        return
    hasher = _rehash(job, meter, stop)
    job.save_state(job.on_disk)  # the state exists before the part: a part alone is stale
    job.part.touch()
    transfer = Transfer(
        job, hasher, base=base, headers=headers, meter=meter, stop=stop, retry=retry
    )
    retrying(job.file.name, retry, stop, transfer.run_until_complete)
    job.digest = transfer.hasher.hexdigest()
    if job.sha256 and job.digest != job.sha256:
        discard_part(job)
        raise ChecksumMismatchError(
            f"{job.file.name} was damaged in transfer: its SHA-256 does not match the "
            "Hub's, so it was deleted and not installed.",
            "Download it again; if this repeats, your network or proxy is altering data.",
        )
    job.save_state(job.size, verified=True, mtime_ns=job.part.stat().st_mtime_ns, digest=job.digest)


def _rehash(job: PartJob, meter: ProgressMeter, stop: StopToken) -> Any:
    """Hash the bytes an earlier run wrote, so the final check covers the whole file."""
    hasher = hashlib.sha256()
    if not job.on_disk:
        return hasher
    meter.stage = "checking"
    with job.part.open("rb") as f:
        left = job.on_disk
        while left:
            if stop.is_set():
                raise stopped(stop)
            block = f.read(min(8 << 20, left))
            if not block:
                break
            hasher.update(block)
            left -= len(block)
            meter.restore(len(block))
    meter.stage = "downloading"
    return hasher


def _install(job: PartJob, stop: StopToken | None = None) -> Path:
    """Move the verified part into place atomically (copy, fsync, rename across disks).

    A copy across disks (many GB) stops on a pause (the app quitting): the verified part
    stays and the next run installs it. A cancel this late lets the install finish."""
    target = job.target
    if job.installed:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    job.save_state(job.size, verified=True, installed=True)
    try:
        try:
            os.replace(job.part, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            tmp = target.with_name(f".{target.name}.installing")
            try:
                with job.part.open("rb") as src, tmp.open("wb") as dst:
                    while chunk := src.read(8 << 20):
                        if stop is not None and stop.is_set() and not stop.cancelled:
                            raise stopped(stop)
                        dst.write(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)  # a copy cut short must not fill the disk
            job.part.unlink()
    except OSError as exc:
        raise AppError(
            f"Could not install {target.name} into {target.parent}: {exc.strerror or exc}.",
            "Check that the models folder is writable and has space.",
        ) from exc
    if job.digest:
        prov = provenance.Provenance(
            job.file.repo, job.file.filename, job.digest, job.size, job.commit
        )
        try:
            provenance.record(target, prov)
        except AppError:  # the model is in place; only offline `verify` loses its hash
            log.warning("could not record where %s came from", target.name, exc_info=True)
    return target


def _fsync_dir(path: Path) -> None:
    """Make the renames durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
