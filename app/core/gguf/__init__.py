"""GGUF header reading and validation (pure Python, bounded, never maps tensor data)."""

from app.core.gguf.reader import (
    ArrayStub,
    GGUFError,
    GGUFHeader,
    TensorInfo,
    check_complete,
    check_loadable,
    check_parts,
    parse_header,
    read_header,
    read_model,
    shard_info,
    split_index,
    split_parts,
)

__all__ = [
    "ArrayStub",
    "GGUFError",
    "GGUFHeader",
    "TensorInfo",
    "check_complete",
    "check_loadable",
    "check_parts",
    "parse_header",
    "read_header",
    "read_model",
    "shard_info",
    "split_index",
    "split_parts",
]
