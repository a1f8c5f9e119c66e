"""The byte transfer behind ``downloader``: HTTP Range GETs into a ``.part`` file, with
a stall watchdog, pause/cancel, and the part's JSON state.

The network is read on the calling thread while a writer thread hashes and writes (both
hashlib and file writes release the GIL), so hashing and the disk overlap the transfer:
that is what keeps the downloader near curl's speed on a fast link. When to retry or stop
lives in ``retry`` and the rate/ETA in ``progress``, which the downloader shares.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import socket
import threading
import time
from typing import Any

import httpx2
from huggingface_hub import get_session
from huggingface_hub.utils import hf_raise_for_status

from app.core.errors import AppError, DownloadError, NotEnoughSpaceError
from app.modelhub.hub import http_status_error, hub_errors
from app.modelhub.parts import PartJob
from app.modelhub.progress import ProgressMeter
from app.modelhub.retry import (
    RetryPolicy,
    StopToken,
    TransientError,
    is_retry_status,
    parse_retry_after,
    stopped,
    transient_from,
)

_CHECKPOINT_S = 5.0
_FSYNC_BYTES = 64 << 20  # flush to disk as we go, so the final fsync is short
# Received chunks (up to 1 MB each) waiting for the disk. While the writer waits for an
# fsync (~20 ms per 64 MB here) the network keeps arriving; 16 MB of room stalled the
# reader on a fast link (0.91x curl on loopback), 64 MB does not (0.98-1.04x). Only a link
# faster than the disk ever fills it.
_QUEUE_CHUNKS = 64
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
                self._stream(response, start)
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
        if is_retry_status(status):
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
            got = response.headers.get("Content-Range", "").replace(" ", "")
            if got != want:
                # Another file size: the file changed on the server, the part is worthless.
                # Only another range (a proxy's glitch): ask again, keeping the part.
                if not got.endswith(f"/{self.job.size}"):
                    self._restart()
                raise TransientError(DownloadError("the server sent a range we did not ask for."))
        elif status != 200:
            raise TransientError(DownloadError(f"the server answered {status}."))

    def _stream(self, response: httpx2.Response, start: int) -> None:
        job, meter, stop = self.job, self.meter, self.stop
        room = job.size - job.on_disk
        too_much = stalled = False
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
                if dog.reason != "stall":
                    raise
                stalled = True
        if stalled:
            # Progress is judged once the writer has stored what arrived: a server that
            # never sends a byte must use up the retries, not reset them on every stall.
            raise TransientError(
                DownloadError(f"no data arrived for {self.retry.stall_s:.0f} s."),
                progressed=job.on_disk > start,
            )
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
                if self._queue.empty():
                    # Caught up with the network: hand the bytes to the OS now, so a stall
                    # or a kill leaves every received byte in the part (not in our buffer).
                    f.flush()
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
