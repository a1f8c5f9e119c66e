"""The reply being generated, as the chat controller keeps it between engine events.

Plain Python (no Qt): the controller appends what the engine worker sends and asks for the
text to save. A "Think N ways" reply keeps each sample apart (``LiveGroup``); what is saved
for it is the group with the majority's sample as the reply's text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.core.events import LiveStats
from app.core.group_reply import GroupReply, LiveGroup


@dataclass
class LiveReply:
    """The reply being generated (it may belong to a conversation that is not shown)."""

    cid: int
    mid: int
    model: str
    started: float = field(default_factory=time.monotonic)
    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    dirty: bool = False
    save_failed: bool = False  # the user has been told; not again every checkpoint
    group: LiveGroup | None = None  # a "Think N ways" reply
    progress: dict[int, LiveStats] = field(default_factory=dict)  # a group's, by sample

    def text(self) -> tuple[str, str]:
        return "".join(self.answer), "".join(self.reasoning)

    def saved_form(self, count: int | None = None) -> tuple[str, str, GroupReply | None]:
        """(content, reasoning, group): a group's content and reasoning are those of the
        sample chosen so far; ``count`` is how many samples the engine ran, if known."""
        if self.group is None:
            return (*self.text(), None)
        group = self.group.reply(count)
        return group.reply.answer, group.reply.reasoning, group

    def group_progress(self, stats: LiveStats) -> LiveStats:
        """Take one sample's progress; return the whole group's (tokens and rates summed:
        the samples are decoded together)."""
        if stats.sample is not None:
            self.progress[stats.sample] = stats
        every = self.progress.values() or [stats]
        rates = [s.decode_tok_s for s in every if s.decode_tok_s]
        return LiveStats(
            generated_tokens=sum(s.generated_tokens for s in every),
            elapsed_s=max(s.elapsed_s for s in every),
            decode_tok_s=sum(rates) if rates else None,
            reasoning=any(s.reasoning for s in every),
        )
