"""A bounded GGUF header reader: it never maps or reads the tensor data.

Every count and length is checked against the bytes that can exist before it is used,
so a hostile or damaged file ends in ``GGUFError`` (one sentence, what to do), never in
a huge allocation, a hang or another exception. The reader works on any byte source
(a local file, or HTTP Range reads of a remote one) and on files whose tensor data is
truncated: such a header is read and reported, and ``check_loadable`` refuses it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.errors import ModelFileError
from app.core.gguf import constants as g
from app.core.units import format_bytes

ReadAt = Callable[[int, int], bytes]
_CHUNK = 1 << 20
_MAX_STRING = 64 << 20
_MAX_ARRAY_DEPTH = 2
# Arrays this large are kept as (count, element type) only, except the token list.
_KEEP_ARRAY_MAX = 4096
_KEEP_ARRAYS = frozenset({"tokenizer.ggml.tokens"})
# llama.cpp's name for the parts of a split model (llama_split_path): NAME-00001-of-00003.gguf
_SPLIT_NAME = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


class GGUFError(ModelFileError):
    """The file is not a GGUF llama.cpp can load, with the reason."""


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int  # relative to the start of the data section
    n_bytes: int

    @property
    def type_name(self) -> str:
        return g.GGML_TYPES[self.type_id][0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True, slots=True)
class ArrayStub:
    """A large metadata array that was skipped, not loaded."""

    type_id: int
    count: int


@dataclass(frozen=True)
class GGUFHeader:
    """What the header says; ``truncated`` is True when tensor data is missing."""

    source: str
    file_size: int
    version: int
    alignment: int
    data_offset: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    warnings: list[str] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def arch_get(self, suffix: str, default: Any = None) -> Any:
        """Read ``{architecture}.{suffix}``, e.g. ``arch_get("block_count")``."""
        return self.metadata.get(f"{self.architecture}.{suffix}", default)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def expected_size(self) -> int:
        """Bytes a complete file has: header, padding and all tensor data."""
        end = max((t.offset + t.n_bytes for t in self.tensors), default=0)
        return self.data_offset + end

    @property
    def truncated(self) -> bool:
        return self.file_size < self.expected_size

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def quantization(self) -> str:
        file_type = self.metadata.get("general.file_type")
        if isinstance(file_type, int) and file_type in g.FILE_TYPES:
            return g.FILE_TYPES[file_type]
        by_type: dict[str, int] = {}
        for t in self.tensors:
            by_type[t.type_name] = by_type.get(t.type_name, 0) + t.n_bytes
        return max(by_type, key=lambda k: by_type[k]) if by_type else "unknown"

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    def token_text(self, token_id: Any) -> str:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(token_id, int) and isinstance(tokens, list) and 0 <= token_id < len(tokens):
            return str(tokens[token_id])
        return ""


class _Cursor:
    """Sequential reads over ``read_at`` with bounds checks and chunked fetching."""

    def __init__(self, read_at: ReadAt, size: int) -> None:
        self._read_at = read_at
        self.size = size
        self.pos = 0
        self._buf = b""
        self._buf_start = 0

    def remaining(self) -> int:
        return self.size - self.pos

    def _check(self, n: int, what: str) -> None:
        if n < 0 or n > self.remaining():
            raise GGUFError(
                f"The file ends inside its header (reading {what}); it is truncated or corrupt.",
                "Download the model again.",
            )

    def take(self, n: int, what: str) -> bytes:
        self._check(n, what)
        start = self.pos - self._buf_start
        if start + n > len(self._buf):
            want = max(n, _CHUNK)
            self._buf = self._buf[start:] + self._read_at(
                self._buf_start + len(self._buf), want - (len(self._buf) - start)
            )
            self._buf_start = self.pos
            start = 0
            if n > len(self._buf):
                raise GGUFError(f"Could not read the header ({what}).", "Check the file.")
        self.pos += n
        return self._buf[start : start + n]

    def skip(self, n: int, what: str) -> None:
        """Advance like ``take`` without reading the bytes (a corrupt count may ask to skip
        gigabytes: nothing is allocated for them)."""
        self._check(n, what)
        self.pos += n
        if self.pos > self._buf_start + len(self._buf):
            self._buf, self._buf_start = b"", self.pos

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.unpack("<Q", what)
        if n > _MAX_STRING:
            raise GGUFError(f"The header has an impossible string length in {what}.", _REDOWNLOAD)
        return self.take(n, what).decode("utf-8", errors="replace")


_REDOWNLOAD = "The file is corrupt; download it again."


def _read_value(cur: _Cursor, type_id: int, key: str, depth: int = 0) -> Any:
    if type_id in g.SCALAR_FORMATS:
        return cur.unpack(g.SCALAR_FORMATS[type_id], key)
    if type_id == g.STRING:
        return cur.string(key)
    if type_id != g.ARRAY:
        raise GGUFError(f"The header has an unknown value type {type_id} for {key}.", _REDOWNLOAD)
    if depth >= _MAX_ARRAY_DEPTH:
        raise GGUFError(f"The header nests arrays too deeply at {key}.", _REDOWNLOAD)
    elem_type = cur.unpack("<I", key)
    count = cur.unpack("<Q", key)
    min_size = 8 if elem_type in (g.STRING, g.ARRAY) else 1
    if count * min_size > cur.remaining():
        raise GGUFError(
            f"The header claims more items in {key} than the file holds; the file "
            "is truncated or corrupt.",
            "Download the model again.",
        )
    keep = count <= _KEEP_ARRAY_MAX or key in _KEEP_ARRAYS
    if elem_type in g.SCALAR_FORMATS:
        fmt = g.SCALAR_FORMATS[elem_type]
        if not keep:
            cur.skip(count * struct.calcsize(fmt), key)
            return ArrayStub(elem_type, count)
        return list(struct.unpack(f"<{count}{fmt[1]}", cur.take(count * struct.calcsize(fmt), key)))
    if not keep and elem_type == g.STRING:
        # e.g. 150k BPE merges: walk the lengths, build no strings.
        for _ in range(count):
            n = cur.unpack("<Q", key)
            if n > _MAX_STRING:
                raise GGUFError(
                    f"The header has an impossible string length in {key}.", _REDOWNLOAD
                )
            cur.skip(n, key)
        return ArrayStub(elem_type, count)
    items = [_read_value(cur, elem_type, key, depth + 1) for _ in range(count)]
    return items if keep else ArrayStub(elem_type, count)


def _tensor_bytes(name: str, shape: tuple[int, ...], type_id: int) -> int:
    _, block, block_bytes = g.GGML_TYPES[type_id]
    if shape[0] % block:
        raise GGUFError(f"Tensor {name} has a row size that does not fit its type.", _REDOWNLOAD)
    n = block_bytes * (shape[0] // block)
    for d in shape[1:]:
        n *= d
    return n


def _read_tensor(cur: _Cursor) -> TensorInfo:
    name = cur.string("a tensor name")
    n_dims = cur.unpack("<I", name)
    if not 1 <= n_dims <= g.MAX_DIMS:
        raise GGUFError(f"Tensor {name} has {n_dims} dimensions (at most 4).", _REDOWNLOAD)
    shape = tuple(cur.unpack("<Q", name) for _ in range(n_dims))
    total = 1
    for d in shape:
        if d < 1:
            raise GGUFError(f"Tensor {name} has an empty dimension.", _REDOWNLOAD)
        total *= d
    if total >= 1 << 62:
        raise GGUFError(f"Tensor {name} is impossibly large.", _REDOWNLOAD)
    type_id = cur.unpack("<I", name)
    if type_id not in g.GGML_TYPES:
        raise GGUFError(
            f"Tensor {name} uses tensor type {type_id}, which this llama.cpp does not know.",
            "Update Ponder, or use another quantization of this model.",
        )
    offset = cur.unpack("<Q", name)
    return TensorInfo(name, shape, type_id, offset, _tensor_bytes(name, shape, type_id))


def parse_header(read_at: ReadAt, size: int, source: str) -> GGUFHeader:
    """Parse and validate a GGUF header from any byte source of known ``size``."""
    cur = _Cursor(read_at, size)
    if size < 24 or cur.take(4, "the magic") != g.GGUF_MAGIC:
        raise GGUFError(
            f"{source} is not a GGUF model file.", "Choose a .gguf file (llama.cpp's model format)."
        )
    version = cur.unpack("<I", "the version")
    if version not in g.SUPPORTED_VERSIONS:
        raise GGUFError(
            f"{source} uses GGUF version {version}, which is not supported.",
            "Use a file converted with a recent llama.cpp (GGUF v3).",
        )
    n_tensors = cur.unpack("<Q", "the tensor count")
    n_kv = cur.unpack("<Q", "the metadata count")
    # Each metadata entry needs >= 13 bytes and each tensor entry >= 28: bound both.
    if n_kv * 13 > cur.remaining() or n_tensors * 28 > cur.remaining():
        raise GGUFError(
            f"{source} claims more header entries than the file holds; it is truncated or corrupt.",
            "Download the model again.",
        )

    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string("a metadata key")
        if key in metadata:
            raise GGUFError(f"The header repeats the key {key}.", _REDOWNLOAD)
        metadata[key] = _read_value(cur, cur.unpack("<I", key), key)

    tensors = [_read_tensor(cur) for _ in range(n_tensors)]
    alignment = metadata.get("general.alignment", g.DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError("The header's alignment is not a power of two.", _REDOWNLOAD)
    data_offset = -(-cur.pos // alignment) * alignment
    header = GGUFHeader(source, size, version, alignment, data_offset, metadata, tensors)
    _validate(header)
    return header


def _validate(h: GGUFHeader) -> None:
    names: set[str] = set()
    end = 0
    for t in sorted(h.tensors, key=lambda t: t.offset):
        if t.name in names:
            raise GGUFError(f"The header lists tensor {t.name} twice.", _REDOWNLOAD)
        names.add(t.name)
        if t.offset % h.alignment:
            raise GGUFError(f"Tensor {t.name} is not aligned.", _REDOWNLOAD)
        if t.offset < end:
            raise GGUFError(f"Tensor {t.name} overlaps another tensor.", _REDOWNLOAD)
        end = t.offset + t.n_bytes
    if end >= 1 << 50:
        raise GGUFError("The header places tensor data beyond any real file size.", _REDOWNLOAD)
    if split_index(h) > 0:
        return  # a later part of a split model: tensors only, the metadata is in the first
    arch = h.architecture
    if not arch:
        raise GGUFError("The header does not name a model architecture.", _REDOWNLOAD)
    blocks = h.arch_get("block_count")
    if blocks is not None and (not isinstance(blocks, int) or not 0 < blocks <= g.MAX_BLOCK_COUNT):
        raise GGUFError(f"The header claims {blocks} layers (at most 512).", _REDOWNLOAD)
    if arch not in g.KNOWN_ARCHITECTURES:
        h.warnings.append(f"Architecture {arch!r} is not one llama.cpp is known to support.")


def read_header(path: str | Path) -> GGUFHeader:
    """Read and validate the header of a local file (tensor data is never read)."""
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"No model file at {p}.", "Check the path, or pick a model by name.")
    if p.is_dir():
        raise ModelFileError(f"{p} is a folder, not a model file.", "Choose a .gguf file.")
    try:
        with p.open("rb") as f:
            size = p.stat().st_size

            def read_at(offset: int, n: int) -> bytes:
                f.seek(offset)
                return f.read(n)

            return parse_header(read_at, size, p.name)
    except OSError as exc:
        raise ModelFileError(
            f"Could not read {p}: {exc.strerror}.", "Check the file's permissions."
        ) from exc


def shard_info(file_name: str) -> tuple[str, int, int] | None:
    """``(stem, index, count)`` for a split model's part ``stem-00002-of-00003.gguf``
    (index from 1); None for any other name."""
    m = _SPLIT_NAME.match(PurePosixPath(file_name).name)
    if m is None:
        return None
    index, count = int(m["index"]), int(m["count"])
    return (m["stem"], index, count) if 1 <= index <= count else None


def split_parts(path: str | Path, header: GGUFHeader) -> list[Path]:
    """Every file of the model whose first part is ``path``, in order (``[path]`` when the
    model is one file). Split models are named as llama.cpp's gguf-split names them; the
    other parts hold only their share of the tensors, not the model's metadata."""
    p = Path(path)
    count = header.get("split.count")
    if not isinstance(count, int) or count <= 1 or split_index(header) > 0:
        return [p]  # one file, or a later part (check_loadable says to open the first)
    info = shard_info(p.name)
    if info is None or info[1] != 1 or info[2] != count:
        raise ModelFileError(
            f"{p.name} is the first of {count} parts of a split model, but its name is not "
            f"NAME-00001-of-{count:05d}.gguf, the name llama.cpp finds the other parts by.",
            "Keep the parts' original names, side by side in one folder.",
        )
    return [p.with_name(f"{info[0]}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]


def split_index(header: GGUFHeader) -> int:
    """Which part of a split model this file is (0 for the first, or an unsplit model)."""
    no = header.get("split.no")
    return no if isinstance(no, int) and no > 0 else 0


def read_model(path: str | Path) -> GGUFHeader:
    """Read a model file for loading: its header, checked with every part of a split model
    (llama.cpp opens a split model by its first part). What every caller that is about to
    load or size a model starts with.

    Raises:
        ModelFileError: a file is missing, damaged, incomplete or out of place.
    """
    header = read_header(path)
    return check_parts(split_parts(path, header), header)


def check_parts(files: Sequence[Path], first: GGUFHeader | None = None) -> GGUFHeader:
    """Validate a model's files (one, or every part of a split model, in order): each is
    complete and is the part it should be. Returns the first part's header (``first``
    when the caller has read it already), the one with the model's metadata.

    Raises:
        ModelFileError: a file is missing, damaged, incomplete or out of place.
    """
    header = first if first is not None else read_header(files[0])
    check_loadable(header)
    count = header.get("split.count")
    if isinstance(count, int) and count > 1 and count != len(files):
        raise ModelFileError(
            f"{header.source} is part 1 of {count}, but {len(files)} of them were found.",
            "Download the missing parts into the same folder.",
        )
    for i, f in enumerate(files[1:], 1):
        part = read_header(f)
        check_complete(part)
        if split_index(part) != i:
            raise ModelFileError(
                f"{part.source} is not part {i + 1} of {header.source}'s model.",
                "Keep each split model's parts together, with the names they came with.",
            )
    return header


def check_loadable(header: GGUFHeader) -> None:
    """Refuse a file llama.cpp cannot load as a model: incomplete tensor data, or a later
    part of a split model (llama.cpp opens a split model by its first part)."""
    check_complete(header)
    if no := split_index(header):
        raise ModelFileError(
            f"{header.source} is part {no + 1} of a split model.",
            "Open its first part (the name ending in -00001-of-…); the others are read with it.",
        )


def check_complete(header: GGUFHeader) -> None:
    """Refuse a file whose tensor data is incomplete, before llama.cpp sees it."""
    if header.truncated:
        have, need = header.file_size, header.expected_size
        raise GGUFError(
            f"{header.source} is incomplete: it holds {format_bytes(have)} of the "
            f"{format_bytes(need)} its "
            "header describes.",
            "The download probably stopped early; download the model again.",
        )
