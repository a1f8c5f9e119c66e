"""What went wrong with the chat database, found early and said in a user's words.

SQLite reports a fault as a result code. A user can act on three of them, and each needs
its own advice: the file is damaged (salvage what can be read), another program holds it
(close that program and retry; moving the file aside would set a healthy file aside), or it
cannot be written (make it writable; meanwhile nothing new is saved). At open, the checks
here find each of them before the app reads or writes anything: damage without writing to
the file, a lock or a read-only file with a write that is rolled back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psutil

from app.core.errors import AppError, DatabaseDamagedError, DatabaseLockedError, SaveError

log = logging.getLogger(__name__)

_DAMAGED_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_LOCKED_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_READ_ONLY_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN}

# What reading a damaged file raises: SQLite's errors, and text (even SQLite's own error
# message, quoting a damaged schema) that is not UTF-8.
READ_ERRORS = (sqlite3.Error, UnicodeDecodeError)

SALVAGE_HINT = (
    "Ponder can salvage what can still be read into a new database, and keeps the damaged "
    "file beside it."
)
SALVAGE_LATER_HINT = (
    "What is on screen is kept; quit Ponder and start it again to salvage what can be read."
)


def primary_code(exc: Exception) -> int | None:
    """SQLite's primary result code (extended codes carry it in their low byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_damage(exc: Exception) -> bool:
    # A damaged page can also surface as text that is not UTF-8 (no result code).
    return (
        primary_code(exc) in _DAMAGED_CODES
        or isinstance(exc, UnicodeDecodeError)
        or (primary_code(exc) is None and "decode to UTF-8" in str(exc))
    )


def is_locked(exc: Exception) -> bool:
    return primary_code(exc) in _LOCKED_CODES


def is_read_only(exc: Exception) -> bool:
    return primary_code(exc) in _READ_ONLY_CODES


def damaged(path: Path, hint: str = SALVAGE_HINT) -> DatabaseDamagedError:
    """The one sentence for a damaged chat database, whatever SQLite called the damage
    ("file is not a database", "database disk image is malformed", text that is not UTF-8:
    the log has SQLite's words)."""
    return DatabaseDamagedError(f"The chat database {path} is damaged.", hint)


def locked(path: Path) -> DatabaseLockedError:
    holder = lock_holder(path)
    who = f"another program ({holder})" if holder else "another program"
    return DatabaseLockedError(
        f"The chat database {path} is in use by {who}.",
        "The file is fine: close that program (or wait for it to finish), then retry.",
    )


def fault(path: Path, exc: Exception, *, writing: bool) -> AppError:
    """The user's words for ``exc`` raised by a read or, with ``writing``, a write (always
    a ``SaveError`` then: callers keep what is on screen and try again later)."""
    if is_damage(exc):
        return damaged(path, SALVAGE_LATER_HINT)
    if is_locked(exc):
        return locked(path)
    if is_read_only(exc):
        return SaveError(
            f"Ponder could not save to the chat database: {read_only_reason(path)}.",
            "Make it writable again; what is on screen is kept.",
        )
    if writing:
        return SaveError(
            f"Ponder could not save to the chat database ({exc}).",
            "Free some disk space or check the folder's permissions; what is on screen is kept.",
        )
    return AppError(
        f"Ponder could not read the chat database {path} ({exc}).",
        "Check the disk, then start Ponder again.",
    )


def not_saved(path: Path, reason: str) -> SaveError:
    """The start-up notice for a database Ponder can read but not write."""
    return SaveError(
        f"Ponder cannot save to the chat database {path}: {reason}.",
        "Your chats open and you can keep chatting, but nothing new is kept after Ponder "
        "closes. Make it writable (or set PONDER_HOME to a writable folder), then start "
        "Ponder again.",
    )


def read_only_reason(path: Path) -> str:
    """Why ``path`` cannot be written, as the end of a sentence."""
    folder = path.parent
    with contextlib.suppress(OSError, AttributeError):  # no statvfs on Windows
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is read-only"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is read-only"
    return f"{path} cannot be written"


def lock_holder(path: Path) -> str:
    """The program holding a lock on the database, e.g. ``"sqlitebrowser, process 4242"``;
    empty when the OS does not tell. Linux lists locks in /proc/locks; elsewhere the open
    files of every process are searched."""
    me = os.getpid()
    pids = [pid for pid in _proc_lock_holders(path) if pid != me]
    if not pids:
        pids = [pid for pid in _open_file_holders(path) if pid != me]
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            return f"{psutil.Process(pid).name()}, process {pid}"
    return f"process {pids[0]}" if pids else ""


def _proc_lock_holders(path: Path) -> list[int]:
    """Processes with a lock on the database or its WAL index, writers first."""
    ids = set()
    for name in (path.name, f"{path.name}-shm", f"{path.name}-wal"):
        with contextlib.suppress(OSError, AttributeError):  # os.major: not on Windows
            st = (path.parent / name).stat()
            ids.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    writers: list[int] = []
    readers: list[int] = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a process waiting for the lock, not holding it
            continue
        with contextlib.suppress(IndexError, ValueError):
            kind, pid, file_id = fields[3], int(fields[4]), fields[5]
            if file_id in ids:
                (writers if kind == "WRITE" else readers).append(pid)
    return list(dict.fromkeys(writers + readers))


def _open_file_holders(path: Path) -> list[int]:
    target = str(path.resolve())
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if any(f.path == target for f in proc.open_files()):
                found.append(proc.pid)
    return found


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that never writes to ``path`` (nor checkpoints its WAL when closed)."""
    wal = path.with_name(path.name + "-wal")
    uri = path.absolute().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        db.execute("PRAGMA schema_version").fetchone()  # the file is opened here
    except sqlite3.Error as exc:
        db.close()
        if not is_read_only(exc) or (wal.exists() and wal.stat().st_size):
            raise
        # A read-only folder where SQLite cannot create the WAL index (-shm): with no WAL
        # holding newer pages, the file alone is the database, and it cannot change.
        db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


class SidesAsFound:
    """Whether a database's ``-wal`` and ``-shm`` were there; ``restore`` removes the ones
    SQLite created since, while the WAL is empty, so that a damaged or read-only file is
    left as it was found. Only for a file no connection has open any more."""

    def __init__(self, path: Path) -> None:
        self.wal = path.with_name(path.name + "-wal")
        self.shm = path.with_name(path.name + "-shm")
        self.had_wal, self.had_shm = self.wal.exists(), self.shm.exists()

    def restore(self) -> None:
        with contextlib.suppress(OSError):
            if not self.had_wal and self.wal.exists() and not self.wal.stat().st_size:
                self.wal.unlink()
                if not self.had_shm:
                    self.shm.unlink(missing_ok=True)


def check_damage(path: Path, found_as: SidesAsFound) -> None:
    """SQLite's quick check of every page (tens of milliseconds for 50 MB of chats), so a
    damaged file is refused at start, before any part of the app reads from it."""
    try:
        with read_only(path) as db:
            found = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
    except READ_ERRORS as exc:
        if not is_damage(exc):
            raise
        found = [str(exc)]
    if found != ["ok"]:
        log.warning("chat database %s is damaged: %s", path, " ".join(found))
        found_as.restore()
        raise damaged(path)


def check_writable(db: sqlite3.Connection) -> None:
    """Write without changing anything, and roll back: another program holding the file
    (SQLITE_BUSY) or a file that cannot be written (SQLITE_READONLY) shows now, at start."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"PRAGMA user_version = {version}")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")


def open_error(path: Path, exc: Exception) -> AppError:
    if is_damage(exc):
        return damaged(path)
    if is_locked(exc):
        return locked(path)
    return AppError(
        f"The chat database {path} cannot be opened ({exc}).",
        "Check that the file and its folder can be read, then start Ponder again.",
    )
