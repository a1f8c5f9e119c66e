"""A saved reply's stats, typed: read once from the JSON the chat database keeps.

The ``stats`` column holds a finished reply's ``GenerationStats`` (plus ``group`` for a
"Think N ways" reply, see ``app.core.group_reply``), or a failed reply's error. Readers take
``MessageRow.reply_stats`` instead of picking keys out of the dict; the column's format is
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.events import GenerationStats


@dataclass(frozen=True)
class ReplyStats:
    """What a saved reply's stats say.

    Attributes:
        figures: the reply's measured figures; None for a reply that failed before any
            (or a row saved before it ended).
        error_kind: a failed reply's ``AppError.kind`` ("" otherwise).
        error: its sentence.
        hint: what to do about it.
    """

    figures: GenerationStats | None = None
    error_kind: str = ""
    error: str = ""
    hint: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> ReplyStats:
        if not raw:
            return cls()

        def text(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) else ""

        return cls(GenerationStats.from_json(raw), text("error_kind"), text("error"), text("hint"))
