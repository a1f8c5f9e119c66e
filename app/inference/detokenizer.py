"""Token bytes to text, one token at a time, without splitting a UTF-8 character.

A multi-byte character (an emoji, a CJK character) is often spread over several tokens;
decoding each token's bytes alone would print replacement characters. The incremental
decoder keeps the incomplete bytes until the character is whole. Cost per token is
constant, unlike re-detokenizing the whole output.
"""

from __future__ import annotations

import codecs


class IncrementalDetokenizer:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        """Text completed by ``piece`` (may be empty while a character is incomplete)."""
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """The end of output: incomplete bytes become U+FFFD."""
        return self._decoder.decode(b"", final=True)
