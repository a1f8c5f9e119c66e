"""Multi-byte characters spread over several tokens come out whole."""

from __future__ import annotations

import itertools

from app.inference.detokenizer import IncrementalDetokenizer

TEXT = "Größe: 世界 🤔 → ∑ x²"


def test_every_split_of_the_bytes_gives_the_text_without_replacement_chars() -> None:
    data = TEXT.encode("utf-8")
    for i, j in itertools.combinations(range(1, len(data)), 2):
        detok = IncrementalDetokenizer()
        parts = [detok.feed(data[:i]), detok.feed(data[i:j]), detok.feed(data[j:])]
        assert "\ufffd" not in "".join(parts)
        assert "".join(parts) + detok.flush() == TEXT


def test_one_byte_per_token() -> None:
    detok = IncrementalDetokenizer()
    out = "".join(detok.feed(bytes([b])) for b in "🤔".encode())
    assert out == "🤔"


def test_output_ending_inside_a_character_shows_a_replacement() -> None:
    detok = IncrementalDetokenizer()
    assert detok.feed("a🤔".encode()[:3]) == "a"
    assert detok.flush() == "\ufffd"
