"""Real faulty chat databases for tests: damaged pages, a lock held by another process, a
file or folder the kernel will not let anyone write (root included).

Read-only is made with a read-only bind mount or a read-only tmpfs: our build machines run
the tests as root, where chmod alone stops nothing. Where mounting is refused, the test is
skipped with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.conversation import Role
from app.core.store import ChatStore

PAGE = 4096


@dataclass(frozen=True)
class Original:
    """What a test database held before it was damaged: (title, [(role, content)])."""

    chats: dict[int, tuple[str, list[tuple[Role, str]]]]

    @property
    def message_count(self) -> int:
        return sum(len(messages) for _title, messages in self.chats.values())


def make_chats(path: Path, conversations: int = 12, messages: int = 10) -> Original:
    """A real Ponder database: questions, and answers long enough to need overflow pages."""
    store = ChatStore(path)
    chats = {}
    for c in range(conversations):
        cid = store.create_conversation(f"Chat {c}", model="R1 7B")
        rows = []
        for m in range(messages):
            role: Role = "user" if m % 2 == 0 else "assistant"
            text = f"Question {c}.{m}?" if role == "user" else f"Answer {c}.{m}. " * (40 + 30 * m)
            store.add_message(cid, role, text, reasoning="Let me think. " * (5 * m))
            rows.append((role, text))
        chats[cid] = (f"Chat {c}", rows)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return Original(chats)


def damage(path: Path, pages: list[int], seed: int = 7) -> None:
    """Overwrite these pages (1-based) with random bytes, as a failing disk might."""
    noise = random.Random(seed)
    with path.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * PAGE)
            f.write(noise.randbytes(PAGE))


def later_pages(path: Path, count: int = 6, seed: int = 3) -> list[int]:
    """Pages from the second half of the file (the first page, the schema, stays valid)."""
    total = path.stat().st_size // PAGE
    return sorted(random.Random(seed).sample(range(total // 2, total + 1), count))


def root_page(path: Path, table: str) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(
            db.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)).fetchone()[0]
        )
    finally:
        db.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here ({proc.stderr.strip() or 'not root'}): mount {args}")


@contextlib.contextmanager
def read_only_file(source: Path, target: Path) -> Iterator[Path]:
    """``source`` appears at ``target`` through a read-only bind mount; the folder stays
    writable (so SQLite may make its -wal and -shm beside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch()
    _mount("--bind", str(source), str(target))
    try:
        _mount("-o", "remount,bind,ro", str(target))
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


@contextlib.contextmanager
def read_only_folder(folder: Path, files: list[Path]) -> Iterator[Path]:
    """A tmpfs at ``folder`` holding copies of ``files``, then remounted read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder))
    try:
        for file in files:
            shutil.copy2(file, folder / file.name)
        _mount("-o", "remount,ro", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# Another program with an exclusive lock on the database, as a database browser or a
# backup tool in the middle of a write holds it.
_HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "whole":
    db.execute("PRAGMA locking_mode=EXCLUSIVE")  # no other connection may even read
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE conversations SET title = title")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@contextlib.contextmanager
def lock_held(path: Path, *, whole_file: bool = True) -> Iterator[subprocess.Popen[str]]:
    """A second process holds an exclusive lock on ``path`` until the block ends (or
    ``release``): on the whole file, or (``whole_file=False``, a writer beside readers
    that are already there) the write lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), "whole" if whole_file else "write"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen[str]) -> None:
    """The holder lets go of the lock and exits."""
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()
