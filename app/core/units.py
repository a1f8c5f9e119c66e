"""Shared defaults and how sizes and counts are written for people."""

from __future__ import annotations

# R1's recommended sampling (DeepSeek's model card): temperature 0.6, top-p 0.95.
R1_TEMPERATURE = 0.6
R1_TOP_P = 0.95
# Default context: long enough for R1's reasoning traces, small enough for most machines.
DEFAULT_CONTEXT = 16384


def format_bytes(n: float) -> str:
    """Decimal units, as disks and download pages show them: 4.68 GB, 99.6 MB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if unit == "GB" else f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def format_tokens(n: int) -> str:
    """A count of tokens as people read it: 1 token, 2,310 tokens."""
    return f"{n:,} token" if n == 1 else f"{n:,} tokens"
