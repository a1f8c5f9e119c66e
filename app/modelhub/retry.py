"""When a download tries again and when it stops: the retry policy, the errors worth
retrying, and the stop token another thread uses to pause or cancel.

Both the metadata HEAD (``downloader``) and the byte transfer (``transfer``) go through
``retrying``, so one policy decides how hard every network step tries, and a pause asked
for during a backoff wait is honoured at once instead of after the wait.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from huggingface_hub import errors as hf_errors

from app.core.errors import (
    AppError,
    DownloadError,
    DownloadPausedError,
    DownloadStoppedError,
    OfflineError,
)
from app.modelhub.hub import translate

__all__ = [
    "RetryPolicy",
    "StopToken",
    "TransientError",
    "is_retry_status",
    "is_transient",
    "parse_retry_after",
    "retrying",
    "stopped",
    "transient_from",
]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


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


def is_retry_status(status: int) -> bool:
    """Whether an HTTP status is the server's trouble (timeouts, rate limits, 5xx), which
    waiting may cure, rather than an answer about the request itself."""
    return status in _RETRY_STATUS or status >= 500


def is_transient(exc: BaseException) -> bool:
    """Whether a huggingface_hub or network error may go away if we wait and retry."""
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return False
    if isinstance(exc, hf_errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return is_retry_status(status)
    return isinstance(exc, httpx2.TransportError | ConnectionError)


def stopped(stop: StopToken) -> DownloadStoppedError:
    """The error a pause or cancel ends a download with."""
    if stop.cancelled:
        return DownloadStoppedError("Download cancelled; its partial files were deleted.")
    return DownloadPausedError(
        "Download paused.", "Run the same download again to resume where it stopped."
    )
