"""Read table rows straight from a SQLite file's pages, for salvage.

When a table's inner b-tree page is damaged, SQLite cannot reach the leaf pages below it,
although they are intact. This reader walks every page of the file instead and decodes the
rows on each table-leaf page (SQLite's file format, https://sqlite.org/fileformat2.html),
much as the shell's ``.recover`` does. Pages on the freelist are skipped (they hold deleted
rows), and committed pages in the WAL replace the file's. Anything that does not parse is
skipped: what comes back is what the file still holds intact.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

Value = int | float | str | bytes | None

_HEADER = b"SQLite format 3\x00"
_TABLE_LEAF = 13
_WAL_MAGIC = (0x377F0682, 0x377F0683)


class _BrokenError(Exception):
    """A page or record that does not parse."""


def leaf_rows(path: Path) -> Iterator[tuple[int, list[Value]]]:
    """(rowid, values) of every row on every intact table-leaf page of the database."""
    data = path.read_bytes()
    if len(data) < 512 or not data.startswith(_HEADER):
        return
    page_size = struct.unpack(">H", data[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1) or data[56:60] not in (b"\0\0\0\1",):
        return  # not a size SQLite writes, or text not in UTF-8
    usable = page_size - data[20]
    view = memoryview(data)  # pages are views into the file's bytes, not copies
    pages = {n + 1: view[o : o + page_size] for n, o in enumerate(range(0, len(data), page_size))}
    pages.update(_wal_pages(path.with_name(path.name + "-wal"), page_size))
    free = _freelist(pages, struct.unpack(">I", data[32:36])[0])
    for number in sorted(pages):
        page = pages[number]
        start = 100 if number == 1 else 0
        if number in free or len(page) < page_size or page[start] != _TABLE_LEAF:
            continue
        with contextlib.suppress(_BrokenError, IndexError, struct.error, UnicodeDecodeError):
            cells = struct.unpack(">H", page[start + 3 : start + 5])[0]
            for i in range(cells):
                offset = struct.unpack(">H", page[start + 8 + 2 * i : start + 10 + 2 * i])[0]
                with contextlib.suppress(
                    _BrokenError, IndexError, struct.error, UnicodeDecodeError
                ):
                    yield _cell(pages, page, offset, usable)


def _cell(
    pages: dict[int, memoryview], page: memoryview, offset: int, usable: int
) -> tuple[int, list[Value]]:
    size, offset = _varint(page, offset)
    rowid, offset = _varint(page, offset)
    if rowid >= 1 << 63:
        rowid -= 1 << 64
    local = _local_size(size, usable)
    payload = bytes(page[offset : offset + local])
    if local < size:  # the rest is on a chain of overflow pages
        parts: list[bytes | memoryview] = [payload]
        next_page = struct.unpack(">I", page[offset + local : offset + local + 4])[0]
        seen: set[int] = set()
        remaining = size - local
        while remaining > 0:
            if next_page in seen or next_page not in pages:
                raise _BrokenError
            seen.add(next_page)
            overflow = pages[next_page]
            parts.append(overflow[4 : 4 + min(remaining, usable - 4)])
            remaining -= usable - 4
            next_page = struct.unpack(">I", overflow[:4])[0]
        payload = b"".join(parts)
    if len(payload) != size:
        raise _BrokenError
    return rowid, _record(payload)


def _local_size(size: int, usable: int) -> int:
    """How much of a table-leaf cell's payload is on the page itself."""
    most = usable - 35
    if size <= most:
        return size
    least = (usable - 12) * 32 // 255 - 23
    k = least + (size - least) % (usable - 4)
    return k if k <= most else least


def _record(payload: bytes) -> list[Value]:
    header_size, offset = _varint(payload, 0)
    if not 0 < header_size <= len(payload):
        raise _BrokenError
    types = []
    while offset < header_size:
        kind, offset = _varint(payload, offset)
        types.append(kind)
    body = header_size
    values: list[Value] = []
    for kind in types:
        value, body = _value(payload, body, kind)
        values.append(value)
    if body != len(payload):
        raise _BrokenError
    return values


_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


def _value(payload: bytes, at: int, kind: int) -> tuple[Value, int]:
    if kind == 0:
        return None, at
    if kind in _INT_SIZES:
        end = at + _INT_SIZES[kind]
        if end > len(payload):
            raise _BrokenError
        return int.from_bytes(payload[at:end], "big", signed=True), end
    if kind == 7:
        return struct.unpack(">d", payload[at : at + 8])[0], at + 8
    if kind in (8, 9):
        return kind - 8, at
    if kind < 12:
        raise _BrokenError
    end = at + (kind - 12) // 2
    if end > len(payload):
        raise _BrokenError
    raw = payload[at:end]
    return (raw.decode("utf-8") if kind % 2 else raw), end


def _varint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise _BrokenError  # not reached


def _freelist(pages: dict[int, memoryview], trunk: int) -> set[int]:
    free: set[int] = set()
    with contextlib.suppress(IndexError, struct.error, KeyError):
        while trunk and trunk not in free:
            free.add(trunk)
            page = pages[trunk]
            count = struct.unpack(">I", page[4:8])[0]
            free.update(struct.unpack(f">{count}I", page[8 : 8 + 4 * count]))
            trunk = struct.unpack(">I", page[:4])[0]
    return free


def _wal_pages(wal: Path, page_size: int) -> dict[int, memoryview]:
    """The pages of the WAL's committed transactions (the latest copy of each)."""
    try:
        data = wal.read_bytes()
    except OSError:
        return {}
    if len(data) < 32 or struct.unpack(">I", data[:4])[0] not in _WAL_MAGIC:
        return {}
    if struct.unpack(">I", data[8:12])[0] != page_size:
        return {}
    salts = data[16:24]
    view = memoryview(data)
    committed: dict[int, memoryview] = {}
    pending: dict[int, memoryview] = {}
    frame = 24 + page_size
    for at in range(32, len(data) - frame + 1, frame):
        number, commit = struct.unpack(">II", data[at : at + 8])
        if data[at + 8 : at + 16] != salts:
            break  # a frame left from an earlier use of the WAL file
        pending[number] = view[at + 24 : at + frame]
        if commit:
            committed.update(pending)
            pending = {}
    return committed
