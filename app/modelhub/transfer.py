"""The byte transfer behind ``downloader``: HTTP Range GETs into a ``.part`` file, with
retries, a stall watchdog, pause/cancel, progress, and the part's JSON state.

The network is read on the calling thread while a writer thread hashes and writes (both
hashlib and file writes release the GIL), so hashing and the disk overlap the transfer:
that is what keeps the downloader near curl's speed on a fast link.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import errors as hf_errors
from huggingface_hub import get_session
from huggingface_hub.utils import hf_raise_for_status

from app.core.atomic import write_atomic
from app.core.errors import (
    AppError,
    DownloadError,
    DownloadPausedError,
    DownloadStoppedError,
    NotEnoughSpaceError,
    OfflineError,
)
from app.modelhub.hub import RemoteFile, http_status_error, hub_errors, translate

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_STATE_VERSION = 1
_CHECKPOINT_S = 5.0
_FSYNC_BYTES = 64 << 20  # flush to disk as we go, so the final fsync is short
_QUEUE_CHUNKS = 16  # received chunks waiting for the disk
_READ_BYTES = 1 << 20


def _read_in_larger_pieces() -> None:
    """httpcore reads a body 64 KB per recv; on a fast link the Python work per read, not
    the network, then caps the rate (about half of curl's on loopback). Letting each recv
    return up to 1 MB removes that overhead for every httpx2 connection in the process;
    it only changes how much one read may return, never what is read."""
    try:
        from httpcore2._sync import http11
    except ImportError:  # huggingface_hub moved to another HTTP stack: keep its default
        return
    if getattr(http11.HTTP11Connection, "READ_NUM_BYTES", 0) < _READ_BYTES:
        http11.HTTP11Connection.READ_NUM_BYTES = _READ_BYTES


_read_in_larger_pieces()


class StopToken:
    """Ask a running download, from any thread, to pause (keep the part) or cancel (delete
    it). ``threading.Event``-like: ``is_set`` and ``wait`` work as on an Event."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.cancelled = False

    def pause(self) -> None:
        self._event.set()

    def cancel(self) -> None:
        self.cancelled = True
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``attempts`` counts consecutive failures without a byte of progress;
    waits grow ``base_s * 2**n`` (capped, with jitter); ``stall_s`` is the watchdog."""

    attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 60.0
    stall_s: float = 30.0
    connect_timeout_s: float = 20.0
    max_retry_after_s: float = 600.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        return min(self.cap_s, self.base_s * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Progress:
    """Where a download stands. ``done`` only goes back when a part had to be discarded.

    Attributes:
        done: bytes of the model on disk (all shards).
        total: bytes of the model.
        rate: smoothed transfer rate in bytes per second (0 until measured).
        eta_s: seconds left at that rate (None while unknown).
        file: the file being worked on.
        stage: "checking" (re-hashing a part before resuming), "downloading" or "done".
    """

    done: int
    total: int
    rate: float
    eta_s: float | None
    file: str
    stage: str = "downloading"


class ProgressMeter:
    """Counts bytes and reports them at most every ``interval`` seconds, with a rate
    smoothed over about ``tau`` seconds so the ETA does not jump with every burst."""

    def __init__(
        self,
        total: int,
        callback: Callable[[Progress], None] | None,
        interval: float = 0.2,
        tau: float = 3.0,
    ) -> None:
        self.total = total
        self.done = 0
        self.file = ""
        self.stage = "downloading"
        self.rate = 0.0
        self._callback = callback
        self._interval = interval
        self._tau = tau
        self._net = 0  # bytes that came over the network (the rate ignores restored ones)
        self._mark_t = time.monotonic()
        self._mark_net = 0
        self._last_emit = 0.0

    def add(self, n: int) -> None:
        self.done += n
        self._net += n
        self._maybe_emit()

    def restore(self, n: int) -> None:
        """Count bytes already on disk from an earlier run (not part of the rate)."""
        self.done += n
        self._maybe_emit()

    def rewind(self, n: int) -> None:
        self.done -= n
        self._emit()

    def finish(self) -> None:
        self.done, self.stage = self.total, "done"
        self._emit()

    def _maybe_emit(self) -> None:
        now = time.monotonic()
        if now - self._last_emit >= self._interval:
            dt = now - self._mark_t
            if dt > 0:
                current = (self._net - self._mark_net) / dt
                weight = 1 - math.exp(-dt / self._tau)
                self.rate = (
                    current if self.rate == 0 else self.rate + weight * (current - self.rate)
                )
                self._mark_t, self._mark_net = now, self._net
            self._emit(now)

    def _emit(self, now: float | None = None) -> None:
        self._last_emit = now if now is not None else time.monotonic()
        if self._callback is None:
            return
        left = self.total - self.done
        eta = left / self.rate if self.rate > 0 else (0.0 if left == 0 else None)
        self._callback(Progress(self.done, self.total, self.rate, eta, self.file, self.stage))


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
        same = all(state.get(k) == v for k, v in self.identity().items())
        return state if same else None


def retrying(what: str, retry: RetryPolicy, stop: StopToken, call: Callable[[], Any]) -> Any:
    """Run ``call``; on transient failures wait and run it again, ``retry.attempts`` times."""
    failures = 0
    while True:
        try:
            return call()
        except TransientError as exc:
            failures = 0 if exc.progressed else failures
            failures += 1
            if failures >= retry.attempts:
                raise exc.final(what) from exc.__cause__
            if stop.wait(retry.delay(failures, exc.retry_after)):
                raise stopped(stop) from None


class TransientError(Exception):
    """A failure worth retrying; ``error`` is what the user sees if retries run out."""

    def __init__(
        self, error: AppError, *, progressed: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.progressed = progressed
        self.retry_after = retry_after

    def final(self, what: str) -> AppError:
        if isinstance(self.error, OfflineError):
            return OfflineError(
                self.error.message,
                "Check your connection, then run the download again: it resumes where it stopped.",
            )
        return DownloadError(
            f"The download of {what} kept failing: {self.error.message}",
            "Run the download again later: it resumes where it stopped.",
        )


def transient_from(exc: BaseException, base: str, *, progressed: bool = False) -> TransientError:
    """Wrap a retryable huggingface_hub or network error with the sentence it ends in."""
    response = getattr(exc, "response", None)
    err = translate(exc, base) or DownloadError(f"the connection failed ({exc}).")
    wait = parse_retry_after(response) if response is not None else None
    return TransientError(err, progressed=progressed, retry_after=wait)


def parse_retry_after(response: httpx2.Response) -> float | None:
    """Seconds a 429/503 asks us to wait (``Retry-After`` in seconds; dates are rare)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def is_transient(exc: BaseException) -> bool:
    """Whether a huggingface_hub or network error may go away if we wait and retry."""
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return False
    if isinstance(exc, hf_errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status in _RETRY_STATUS or status >= 500
    return isinstance(exc, httpx2.TransportError | ConnectionError)


def stopped(stop: StopToken) -> DownloadStoppedError:
    """The error a pause or cancel ends a download with."""
    if stop.cancelled:
        return DownloadStoppedError("Download cancelled; its partial files were deleted.")
    return DownloadPausedError(
        "Download paused.", "Run the same download again to resume where it stopped."
    )


class Transfer:
    """HTTP GETs of one file from where its part ends to its end (one per attempt)."""

    def __init__(
        self,
        job: PartJob,
        hasher: Any,
        *,
        base: str,
        headers: dict[str, str],
        meter: ProgressMeter,
        stop: StopToken,
        retry: RetryPolicy,
    ) -> None:
        self.job, self.hasher, self.base, self.headers = job, hasher, base, headers
        self.meter, self.stop, self.retry = meter, stop, retry
        self.timeout = httpx2.Timeout(retry.stall_s + 5, connect=retry.connect_timeout_s)

    def run_until_complete(self) -> None:
        while self.job.on_disk < self.job.size:
            self._one_request()

    def _restart(self) -> None:
        """Forget the part (the server ignored Range or sent other bytes): start over."""
        self.meter.rewind(self.job.on_disk)
        self.job.on_disk = 0
        self.hasher = hashlib.sha256()
        with self.job.part.open("wb"):
            pass

    def _one_request(self) -> None:
        job = self.job
        start = job.on_disk
        headers = dict(self.headers)
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            with get_session().stream(
                "GET", job.url, headers=headers, timeout=self.timeout
            ) as response:
                self._check_response(response, start)
                self._stream(response)
        except TransientError:
            raise
        except (httpx2.TransportError, ConnectionError) as exc:
            if self.stop.is_set():
                raise stopped(self.stop) from None
            raise transient_from(exc, self.base, progressed=job.on_disk > start) from exc
        finally:
            job.save_state(job.on_disk)
        if self.stop.is_set():
            raise stopped(self.stop)
        if job.on_disk < job.size:
            raise TransientError(
                DownloadError("the connection closed early."), progressed=job.on_disk > start
            )

    def _check_response(self, response: httpx2.Response, start: int) -> None:
        status = response.status_code
        if status in _RETRY_STATUS or status >= 500:
            error = http_status_error(status, self.base, self.job.file.repo)
            raise TransientError(error, retry_after=parse_retry_after(response))
        if status == 416:  # the Hub's file no longer extends past our part: start over
            self._restart()
            raise TransientError(DownloadError("the server had no bytes past the part."))
        if status >= 400:
            response.read()
            f = self.job.file
            with hub_errors(self.base, repo=f.repo, revision=f.revision, filename=f.filename):
                hf_raise_for_status(response)
            raise http_status_error(status, self.base, f.repo)
        if status == 200 and start:
            self._restart()  # Range ignored: the body is the whole file
        elif status == 206:
            want = f"bytes {start}-{self.job.size - 1}/{self.job.size}".replace(" ", "")
            if response.headers.get("Content-Range", "").replace(" ", "") != want:
                self._restart()
                raise TransientError(DownloadError("the server sent a range we did not ask for."))
        elif status != 200:
            raise TransientError(DownloadError(f"the server answered {status}."))

    def _stream(self, response: httpx2.Response) -> None:
        job, meter, stop = self.job, self.meter, self.stop
        room = job.size - job.on_disk
        too_much = False
        with (
            _Watchdog(response, self.retry.stall_s, stop) as dog,
            _Writer(job, self.hasher) as writer,
        ):
            try:
                for chunk in response.iter_raw():
                    dog.feed()
                    if len(chunk) > room:
                        too_much = True
                        break
                    room -= len(chunk)
                    writer.put(chunk)
                    meter.add(len(chunk))
                    if stop.is_set():
                        break
            except (httpx2.TransportError, ConnectionError):
                if dog.reason == "stall":
                    raise TransientError(
                        DownloadError(f"no data arrived for {self.retry.stall_s:.0f} s."),
                        progressed=True,
                    ) from None
                raise
        if too_much:
            self._restart()
            raise TransientError(DownloadError("the server sent more than the file holds."))


class _Writer:
    """Appends received chunks to the part on one thread and hashes them on another,
    fsyncing as it goes and recording progress in the state file every few seconds."""

    def __init__(self, job: PartJob, hasher: Any) -> None:
        self._job = job
        self._hasher = hasher
        self._queue: queue.Queue[bytes | None] = queue.Queue(_QUEUE_CHUNKS)
        self._hash_queue: queue.Queue[bytes | None] = queue.Queue(_QUEUE_CHUNKS)
        self._error: AppError | None = None
        self._file = job.part.open("r+b")
        self._file.seek(job.on_disk)
        self._file.truncate()
        self._threads = [
            threading.Thread(target=self._run, name="download-writer", daemon=True),
            threading.Thread(target=self._hash, name="download-hasher", daemon=True),
        ]

    def __enter__(self) -> _Writer:
        for thread in self._threads:
            thread.start()
        return self

    def put(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)
        self._hash_queue.put(chunk)

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._hash_queue.put(None)
        for thread in self._threads:
            thread.join()
        self._file.close()
        if self._error is not None:
            raise self._error

    def _hash(self) -> None:
        while (chunk := self._hash_queue.get()) is not None:
            self._hasher.update(chunk)

    def _run(self) -> None:
        job, f = self._job, self._file
        unsynced = 0
        last_state = time.monotonic()
        try:
            while (chunk := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # drain, so the reader never blocks on a full queue
                f.write(chunk)
                job.on_disk += len(chunk)
                unsynced += len(chunk)
                if unsynced >= _FSYNC_BYTES:
                    f.flush()
                    os.fsync(f.fileno())
                    unsynced = 0
                    if time.monotonic() - last_state > _CHECKPOINT_S:
                        job.save_state(job.on_disk)
                        last_state = time.monotonic()
            f.flush()
            os.fsync(f.fileno())
        except OSError as exc:
            self._error = write_error(job, exc)
            while self._queue.get() is not None:
                pass
        except AppError as exc:  # the state file could not be written
            self._error = exc
            while self._queue.get() is not None:
                pass


class _Watchdog:
    """Shuts the connection when the stream stalls or a stop is asked for, so a blocked
    read returns at once instead of after the read timeout."""

    def __init__(self, response: httpx2.Response, stall_s: float, stop: StopToken) -> None:
        stream = response.extensions.get("network_stream")
        self._sock: socket.socket | None = stream.get_extra_info("socket") if stream else None
        self._stall_s = stall_s
        self._stop = stop
        self._last = time.monotonic()
        self._done = threading.Event()
        self.reason: str | None = None
        self._thread = threading.Thread(target=self._run, name="download-watchdog", daemon=True)

    def feed(self) -> None:
        self._last = time.monotonic()

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.2):
            if self._stop.is_set():
                self.reason = "stop"
            elif time.monotonic() - self._last > self._stall_s:
                self.reason = "stall"
            else:
                continue
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
            return


def write_error(job: PartJob, exc: OSError) -> AppError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NotEnoughSpaceError(
            f"The disk filled up while downloading {job.file.name}.",
            "Free some space, then run the download again: it resumes where it stopped.",
        )
    return DownloadError(
        f"Could not write {job.part}: {exc.strerror or exc}.",
        "Check that the downloads folder is writable.",
    )
