"""Hiding secrets (the Hub token) from every text Ponder writes: logs, errors, reports.

Pure Python and cheap to import: the app installs it at start-up, before anything that
could log a token exists (app/modelhub/secrets.py feeds it the tokens it handles).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "[redacted]"
# Hub user access tokens; redacted even when this process never saw them.
_HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")


_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(secret: str) -> None:
    """Add a value ``redact`` must hide wherever it appears."""
    if secret:
        with _known_lock:
            _known.add(secret)


def redact(text: str) -> str:
    """``text`` with every known token (and anything shaped like a Hub token) hidden."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, REDACTED)
    return _HF_TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, arguments and traceback text without the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # mismatched %-args: logging would print them raw otherwise
            message = f"{record.msg} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_installed: list[RedactingFilter] = []  # the process-wide redactor, once installed


def install_log_redaction() -> None:
    """Redact tokens from every log record of this process (idempotent).

    A filter on the root logger alone would miss records propagated from child loggers
    (logging consults only the originating logger's filters), so the filter also runs in
    the record factory, where every record of every logger is born, and on the root
    logger's current handlers.
    """
    root = logging.getLogger()
    redactor = _installed[0] if _installed else RedactingFilter()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redactor)
    if _installed:
        return
    _installed.append(redactor)
    root.addFilter(redactor)
    make_record = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
