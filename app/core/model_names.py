"""Model names that show where models differ.

The catalog's names share their start ("DeepSeek-R1 Distill Qwen 7B", "DeepSeek-R1
Distill Llama 8B", "DeepSeek-R1-0528 Qwen3 8B"): a narrow column elides the part that
tells them apart, and every row reads "DeepSeek-R1 Distill Qwe…". ``short_names`` splits
the shared start off (to be shown once, as a heading) and keeps what differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_SEPARATORS = " -_"


@dataclass(frozen=True)
class ShortNames:
    """``prefix``: the words every name starts with ("" when none); ``names``: each name
    without it, in the order given."""

    prefix: str
    names: tuple[str, ...]

    def heading(self, noun: str) -> str:
        """A column heading naming the shared start once: ``DeepSeek-R1 model``."""
        return f"{self.prefix} {noun.lower()}" if self.prefix else noun


def shared_prefix(names: Sequence[str]) -> str:
    """The whole words (split at spaces, hyphens and underscores) that every one of two or
    more different names starts with; "" when they share none."""
    if len(set(names)) < 2:
        return ""
    first, shortest = min(names), min(len(n) for n in names)
    end = 0
    while end < shortest and all(n[end] == first[end] for n in names):
        end += 1
    # Back off to a place where every name has a separator (or ends): whole words only.
    while end > 0 and not all(len(n) == end or n[end] in _SEPARATORS for n in names):
        end -= 1
    if any(len(n) == end for n in names):
        return ""  # one name is all prefix: nothing would be left to show of it
    return first[:end].rstrip(_SEPARATORS)


def short_name(name: str, prefix: str) -> str:
    """``name`` without ``prefix``. When the name goes on in the prefix's last word
    ("DeepSeek-R1-0528" after "DeepSeek-R1"), that word's last part is kept: "R1-0528
    Qwen3 8B", not "0528 Qwen3 8B"."""
    if not prefix or not name.startswith(prefix):
        return name
    rest = name[len(prefix) :]
    if not rest.strip(_SEPARATORS):
        return name
    if rest[0] != " ":
        last_word = prefix.rsplit(" ", 1)[-1]
        cut = max(last_word.rfind("-"), last_word.rfind("_"))
        return last_word[cut + 1 :] + rest
    return rest.strip()


def short_names(names: Sequence[str]) -> ShortNames:
    """Each of ``names`` without the words they all start with, and those words."""
    prefix = shared_prefix(names)
    short = tuple(short_name(n, prefix) for n in names)
    if any(s == n for s, n in zip(short, names, strict=True)):
        return ShortNames("", tuple(names))  # "Llama-3 8B" after "Llama": nothing gained
    return ShortNames(prefix, short)
