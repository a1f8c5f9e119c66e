"""Split a real GGUF into parts the way llama.cpp's `llama-gguf-split --split` does.

The first part carries all the model's metadata plus ``split.no``, ``split.count`` and
``split.tensors.count``; the later parts carry only those three keys and their share of
the tensors. Tensor data is copied byte for byte, each tensor aligned as in the source.
llama.cpp loads the result (the engine test proves it), so tests get real split models
without a 671B download or building the split tool.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from app.core.gguf import read_header

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY, _U16, _I32 = 8, 9, 2, 5


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key: str, type_id: int, payload: bytes) -> bytes:
    """One metadata entry (GGUF value types: 4 uint32, 5 int32, 7 bool, 8 string, 9 array)."""
    return _string(key) + struct.pack("<I", type_id) + payload


def string(s: str) -> bytes:
    return _string(s)


def array(type_id: int, fmt: str, values: list[int]) -> bytes:
    return struct.pack("<IQ", type_id, len(values)) + struct.pack(f"<{len(values)}{fmt}", *values)


def layers_gguf(kvs: list[bytes], n_layers: int, tensor_bytes: int = 16384) -> bytes:
    """A small, complete GGUF: the metadata given and one F32 64x64 tensor per layer."""
    tensors = [
        _string(f"blk.{i}.attn_q.weight") + struct.pack("<IQQIQ", 2, 64, 64, 0, i * tensor_bytes)
        for i in range(n_layers)
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, n_layers, len(kvs)) + b"".join(kvs)
    head += b"".join(tensors)
    head += b"\0" * (-len(head) % 32)
    return head + b"\0" * (n_layers * tensor_bytes)


def _skip_value(f: BinaryIO, type_id: int) -> None:
    if type_id in _SCALAR_SIZES:
        f.seek(_SCALAR_SIZES[type_id], 1)
    elif type_id == _STRING:
        (n,) = struct.unpack("<Q", f.read(8))
        f.seek(n, 1)
    else:
        assert type_id == _ARRAY
        elem, count = struct.unpack("<IQ", f.read(12))
        if elem in _SCALAR_SIZES:
            f.seek(_SCALAR_SIZES[elem] * count, 1)
        else:
            for _ in range(count):
                _skip_value(f, elem)


def _split_kvs(no: int, count: int, n_tensors: int) -> list[bytes]:
    return [
        _string("split.no") + struct.pack("<IH", _U16, no),
        _string("split.count") + struct.pack("<IH", _U16, count),
        _string("split.tensors.count") + struct.pack("<Ii", _I32, n_tensors),
    ]


def split_gguf(source: Path, folder: Path, stem: str, parts: int) -> list[Path]:
    """Write ``source`` as ``folder/stem-0000i-of-0000N.gguf``; returns the parts in order."""
    header = read_header(source)
    align = header.alignment
    with source.open("rb") as f:
        _magic, version, _n_t, n_kv = struct.unpack("<4sIQQ", f.read(24))
        start = f.tell()
        for _ in range(n_kv):  # walk the metadata to find where it ends
            (n,) = struct.unpack("<Q", f.read(8))
            f.seek(n, 1)
            (type_id,) = struct.unpack("<I", f.read(4))
            _skip_value(f, type_id)
        kv_end = f.tell()
        f.seek(start)
        model_kvs = f.read(kv_end - start)

        tensors = header.tensors
        per_part = -(-len(tensors) // parts)
        groups = [tensors[i : i + per_part] for i in range(0, len(tensors), per_part)]
        assert len(groups) == parts, "fewer tensors than parts"
        folder.mkdir(parents=True, exist_ok=True)
        out: list[Path] = []
        for no, group in enumerate(groups):
            kvs = _split_kvs(no, parts, len(tensors))
            meta = (model_kvs + b"".join(kvs)) if no == 0 else b"".join(kvs)
            n_kv_part = (n_kv if no == 0 else 0) + len(kvs)
            infos, offset = [], 0
            for t in group:
                infos.append(
                    _string(t.name)
                    + struct.pack("<I", len(t.shape))
                    + struct.pack(f"<{len(t.shape)}Q", *t.shape)
                    + struct.pack("<IQ", t.type_id, offset)
                )
                offset += -(-t.n_bytes // align) * align
            head = struct.pack("<4sIQQ", b"GGUF", version, len(group), n_kv_part)
            head += meta + b"".join(infos)
            head += b"\0" * (-len(head) % align)
            path = folder / f"{stem}-{no + 1:05d}-of-{parts:05d}.gguf"
            with path.open("wb") as dst:
                dst.write(head)
                for t in group:
                    f.seek(header.data_offset + t.offset)
                    data = f.read(t.n_bytes)
                    dst.write(data + b"\0" * (-len(data) % align))
            out.append(path)
    return out


def giant_gguf(path: Path, gib: int = 400) -> Path:
    """A llama-architecture GGUF whose two layers hold ``gib`` GiB of F32 weights, written
    as a sparse file: its size is real (the header and the file agree, so every check of
    the file passes) but it takes no disk. No machine here can load it, so the fit planner
    refuses it: how tests meet "a model too large" without a 400 GB download."""
    n_layers, cols = 2, 65536
    rows = gib * 2**30 // (4 * cols * n_layers)
    kvs = [
        kv("general.architecture", 8, string("llama")),
        kv("general.name", 8, string("Giant")),
        kv("llama.block_count", 4, struct.pack("<I", n_layers)),
        kv("llama.embedding_length", 4, struct.pack("<I", cols)),
        kv("llama.feed_forward_length", 4, struct.pack("<I", cols)),
        kv("llama.attention.head_count", 4, struct.pack("<I", 64)),
        kv("llama.context_length", 4, struct.pack("<I", 4096)),
    ]
    size = 4 * cols * rows
    tensors = [
        _string(f"blk.{i}.ffn_up.weight") + struct.pack("<IQQIQ", 2, cols, rows, 0, i * size)
        for i in range(n_layers)
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, n_layers, len(kvs)) + b"".join(kvs)
    head += b"".join(tensors)
    head += b"\0" * (-len(head) % 32)
    with path.open("wb") as f:
        f.write(head)
        f.truncate(len(head) + n_layers * size)
    return path
