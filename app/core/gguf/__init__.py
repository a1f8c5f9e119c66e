"""GGUF header reading and validation (pure Python, bounded, never maps tensor data)."""

from app.core.gguf.reader import (
    ArrayStub,
    GGUFError,
    GGUFHeader,
    TensorInfo,
    check_loadable,
    parse_header,
    read_header,
)

__all__ = [
    "ArrayStub",
    "GGUFError",
    "GGUFHeader",
    "TensorInfo",
    "check_loadable",
    "parse_header",
    "read_header",
]
