"""Cut a streaming Markdown answer into top-level blocks that are safe to render on their own.

A chat view renders each completed block once and never touches it again, so a block must
only be handed out when nothing that arrives later can change how it renders. Splitting at
blank lines gets that right for paragraphs, headings and tables, with a few exceptions this
module knows about:

- a fenced code block (``` or ~~~, three or more) may hold blank lines; it ends at a closing
  fence of the same character and at least the same length, and that fence completes it;
- display math (``$$ ... $$`` and ``\\[ ... \\]``) may hold blank lines too;
- a blank line followed by an indented line is a list item's (or an indented code block's)
  continuation, and a blank line followed by another item of the same list is a loose list;
  cutting there would restart the numbering or turn the continuation into a code block.
  So a blank line only ends a block once the next non-blank line is known to start
  something new (usually its first character tells).

Decisions are the same however the text is chunked, so the blocks are too; each character
is looked at about once, so a feed costs time proportional to its own length. Reference-style
link definitions are not carried across blocks; model answers use inline links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_LIST_ITEM = re.compile(r" {0,3}(?:([-+*])|\d{1,9}([.)]))(?:[ \t]|\r?\n|$)")
_MATH_DELIM = re.compile(r"\$\$|\\\[|\\\]")
# A line start that may still become a list item marker, once more characters arrive.
_UNDECIDED = re.compile(r"(?:[-+*]|\d{1,9}[.)]?)\r?")
_CODE_SPAN = re.compile(r"(`+)[^`].*?(?<!`)\1(?!`)")


@dataclass(frozen=True, slots=True)
class _Fence:
    char: str
    length: int
    first: bool  # the fence opened its block, so closing it completes the block


def _fence_open(line: str) -> _Fence | None:
    m = _FENCE_OPEN.match(line)
    if m is None:
        return None
    marker, info = m.group(1), m.group(2)
    if marker[0] == "`" and "`" in info:
        return None  # ```code``` on one line is inline code, not a fence
    return _Fence(marker[0], len(marker), first=False)


def _fence_closes(line: str, fence: _Fence) -> bool:
    stripped = line.strip()
    return (
        len(stripped) >= fence.length
        and stripped[0] == fence.char
        and stripped == fence.char * len(stripped)
    )


def _list_kind(line: str) -> str | None:
    """``-``/``+``/``*`` for a bullet item, ``.``/``)`` for an ordered one, else None."""
    m = _LIST_ITEM.match(line)
    if m is None:
        return None
    return m.group(1) or m.group(2)


class BlockSplitter:
    """Streaming Markdown -> completed top-level blocks. Cost proportional to text fed.

    Every returned block carries its own trailing blank lines, so the returned blocks
    followed by ``tail`` always spell out exactly the text fed so far.
    """

    def __init__(self) -> None:
        self._partial: list[str] = []  # pieces of the line not yet ended by "\n"
        self._lines: list[str] = []  # complete lines of the block being built
        self._has_content = False  # the block holds a non-blank line
        self._gap = False  # blank line(s) after content: the block may be complete
        self._list: str | None = None  # kind of the block's last top-level list item
        self._fence: _Fence | None = None
        self._math: str | None = None  # the opening delimiter while inside display math
        self._line_judged = False  # the partial line was already judged by _decide_early

    def feed(self, text: str) -> list[str]:
        """Add ``text``; returns the blocks it completed (markdown source each)."""
        out: list[str] = []
        start = 0
        while (end := text.find("\n", start)) >= 0:
            piece = text[start : end + 1]
            if self._partial:
                self._partial.append(piece)
                piece = "".join(self._partial)
                self._partial.clear()
            self._line(piece, out)
            start = end + 1
        if start < len(text):
            self._partial.append(text[start:])
            if self._gap and not self._line_judged:
                self._decide_early(out)
        return out

    @property
    def tail(self) -> str:
        """The incomplete remainder not yet returned."""
        return "".join(self._lines) + "".join(self._partial)

    def finish(self) -> list[str]:
        """End of the text: flush the remainder as final block(s); the splitter starts over."""
        out: list[str] = []
        if self._partial:
            last = "".join(self._partial)
            self._partial.clear()
            self._line(last, out)
        if self._lines:
            out.append(self._take())
        self._fence = None
        self._math = None
        return out

    # -- one complete line at a time ----------------------------------------------------

    def _line(self, line: str, out: list[str]) -> None:
        self._line_judged = False
        if self._fence is not None:
            self._lines.append(line)
            if _fence_closes(line, self._fence):
                first = self._fence.first
                self._fence = None
                if first:
                    out.append(self._take())
            return
        if self._math is not None:
            self._lines.append(line)
            self._scan_math(line)
            return
        if not line.strip():
            self._lines.append(line)
            self._gap = self._has_content
            return
        if self._gap and not self._continues(line):
            out.append(self._take())
        first = not self._has_content
        self._lines.append(line)
        self._has_content = True
        self._gap = False
        if not line[0].isspace() and (kind := _list_kind(line)) is not None:
            self._list = kind
        fence = _fence_open(line)
        if fence is not None:
            self._fence = _Fence(fence.char, fence.length, first=first)
        else:
            self._scan_math(line)

    def _decide_early(self, out: list[str]) -> None:
        """Complete the block as soon as the next line's first characters rule it out.

        Models write a paragraph as one long line; waiting for it to end would leave the
        block before it unrendered all that time. Only a certain answer counts, so the
        blocks come out the same as when the line is judged whole.
        """
        start = "".join(self._partial)
        self._partial[:] = [start]
        if start[0] == "\r" or (self._list is not None and _UNDECIDED.fullmatch(start)):
            return  # maybe a blank line, maybe the next item: ask again on the next feed
        self._line_judged = True
        if not self._continues(start):
            out.append(self._take())

    def _continues(self, line: str) -> bool:
        """After a blank line: does ``line`` still belong to the block being built?"""
        if line[0] in " \t":
            return True
        return self._list is not None and _list_kind(line) == self._list

    def _scan_math(self, line: str) -> None:
        if "$$" not in line and "\\[" not in line and "\\]" not in line:
            return
        if "`" in line:
            line = _CODE_SPAN.sub("", line)
        for m in _MATH_DELIM.finditer(line):
            delim = m.group()
            if self._math is None:
                if delim != "\\]":
                    self._math = delim
            elif (self._math == "$$" and delim == "$$") or (self._math == "\\[" and delim == "\\]"):
                self._math = None

    def _take(self) -> str:
        block = "".join(self._lines)
        self._lines.clear()
        self._has_content = False
        self._gap = False
        self._list = None
        return block
