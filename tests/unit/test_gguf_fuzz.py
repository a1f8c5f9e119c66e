"""Thousands of mutated GGUF headers: only our own rejection error, never a crash or hang."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.gguf import GGUFError, parse_header


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _kv(key: str, type_id: int, payload: bytes) -> bytes:
    return _string(key) + struct.pack("<I", type_id) + payload


def small_gguf() -> bytes:
    """A complete, valid two-tensor GGUF (written by hand, as llama.cpp lays it out)."""
    kvs = [
        _kv("general.architecture", 8, _string("llama")),
        _kv("llama.block_count", 4, struct.pack("<I", 1)),
        _kv("llama.context_length", 4, struct.pack("<I", 2048)),
        _kv(
            "tokenizer.ggml.tokens",
            9,
            struct.pack("<IQ", 8, 3) + _string("<s>") + _string("a") + _string("b"),
        ),
        _kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, 1, 2)),
    ]
    tensors = [
        _string("token_embd.weight")
        + struct.pack("<I", 2)
        + struct.pack("<QQ", 32, 3)
        + struct.pack("<IQ", 0, 0),
        _string("blk.0.attn_q.weight")
        + struct.pack("<I", 2)
        + struct.pack("<QQ", 32, 32)
        + struct.pack("<IQ", 8, 384),
    ]
    head = (
        b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    )
    head += b"\0" * (-len(head) % 32)
    return head + b"\1" * (384 + 34 * 32)


SEED = small_gguf()


def parse(data: bytes) -> None:
    parse_header(lambda off, n: data[off : off + n], len(data), "fuzz.gguf")


def test_the_seed_file_is_valid() -> None:
    h = parse_header(lambda off, n: SEED[off : off + n], len(SEED), "seed.gguf")
    assert [t.name for t in h.tensors] == ["token_embd.weight", "blk.0.attn_q.weight"]
    assert not h.truncated


@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_headers_fail_only_with_our_error(data: st.DataObject) -> None:
    buf = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["byte", "u64", "cut"]))
        pos = data.draw(st.integers(0, len(buf) - 1))
        if kind == "byte":
            buf[pos] = data.draw(st.integers(0, 255))
        elif kind == "u64" and pos + 8 <= len(buf):
            buf[pos : pos + 8] = struct.pack(
                "<Q",
                data.draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**40, 2**63 - 1, 2**64 - 1])),
            )
        elif kind == "cut":
            del buf[pos:]
            break
    with contextlib.suppress(GGUFError):
        parse(bytes(buf))
