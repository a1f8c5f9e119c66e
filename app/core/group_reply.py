"""A "Think N ways" reply as the chat keeps it: every sample's thinking and answer, which
sample is the reply, and the user's votes.

It lives inside the reply's stats (``stats["group"]``), so a group reply is saved, reopened
and exported like any other reply and needs no column of its own. The reply's own content
and reasoning are the chosen sample's: the conversation history carries exactly one answer.
Scores are not stored; they follow from the answers and votes (``GroupReply.result``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.events import GenerationStats
from app.core.grouping import GroupResult, score_texts

log = logging.getLogger(__name__)

MIN_WAYS = 2
MAX_WAYS = 8  # what the chat offers (the engine takes up to 16: memory decides)
GROUP_KEY = "group"

_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_SYMBOLS = {
    "cdot": "·",
    "times": "×",
    "div": "÷",
    "pi": "π",
    "infty": "∞",
    "pm": "±",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "approx": "≈",
    "circ": "°",
    "left": "",
    "right": "",
    "Rightarrow": "⇒",
    "rightarrow": "→",
    "to": "→",
}
_SYMBOLS |= {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "theta": "θ"}
_SYMBOLS |= {"lambda": "λ", "mu": "μ", "sigma": "σ", "omega": "ω"}
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_WRAPPED = re.compile(r"\\(text|textbf|textrm|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")


def _atom(part: str) -> str:
    """A fraction's or root's part, in brackets unless it is one number or name."""
    part = part.strip()
    return part if re.fullmatch(r"[\w.]+", part) else f"({part})"


def plain_math(answer: str) -> str:
    """A final answer's LaTeX as plain text for a one-line label (``\\frac{1}{20}`` ->
    ``1/20``, ``2\\sqrt{3}`` -> ``2√3``); what it cannot simplify it leaves as written."""
    s = _WRAPPED.sub(r"\2", answer)
    s = _COMMAND.sub(lambda m: _SYMBOLS.get(m[1], m[0]), s)  # \frac, \sqrt: next
    s = _FRAC.sub(lambda m: f"{_atom(m[1])}/{_atom(m[2])}", s)
    s = _SQRT.sub(lambda m: f"√{_atom(m[1])}", s)
    s = re.sub(r"\\[,;:! ]", " ", s).replace("\\%", "%")
    return " ".join(s.replace("{", "").replace("}", "").split())


@dataclass(frozen=True, slots=True)
class GroupSample:
    """One sample: its chain of thought, its answer text, and its figures once it ended."""

    reasoning: str = ""
    answer: str = ""
    stats: GenerationStats | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reasoning": self.reasoning,
            "answer": self.answer,
            "stats": self.stats.to_json() if self.stats is not None else None,
        }


@dataclass(frozen=True)
class GroupReply:
    """The samples of one group reply, the one shown as the reply, and the user's votes.

    ``votes`` maps a sample to the user's thumbs up (True) or down (False); a vote
    overrides that sample's reward. ``asked`` is how many samples the user asked for (the
    engine may run fewer when memory is short).
    """

    samples: tuple[GroupSample, ...]
    chosen: int = 0
    votes: Mapping[int, bool] = field(default_factory=dict)
    asked: int = 0

    def result(self) -> GroupResult:
        """The samples grouped by final answer, the vote, each reward and advantage."""
        return score_texts([s.answer for s in self.samples], votes=self.votes)

    @property
    def reply(self) -> GroupSample:
        """The chosen sample: its answer is the one that goes into the history."""
        return self.samples[self.chosen]

    def with_default_choice(self) -> GroupReply:
        """The majority's first sample as the reply (see ``default_choice``)."""
        return dataclasses.replace(self, chosen=default_choice(self.samples, self.result()))

    def choose(self, sample: int) -> GroupReply:
        if not 0 <= sample < len(self.samples):
            raise ValueError(f"no sample {sample} among {len(self.samples)}")
        return dataclasses.replace(self, chosen=sample)

    def vote(self, sample: int, vote: bool | None) -> GroupReply:
        """Thumbs up (True), down (False), or the vote withdrawn (None)."""
        if not 0 <= sample < len(self.samples):
            raise ValueError(f"no sample {sample} among {len(self.samples)}")
        votes = {i: v for i, v in self.votes.items() if i != sample}
        if vote is not None:
            votes[sample] = vote
        return dataclasses.replace(self, votes=votes)

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": [s.to_json() for s in self.samples],
            "chosen": self.chosen,
            "votes": {str(i): v for i, v in sorted(self.votes.items())},
            "asked": self.asked or len(self.samples),
        }

    def reply_stats(self, stats: Mapping[str, Any]) -> dict[str, Any]:
        """The reply's stats dict with this group inside it."""
        return {**stats, GROUP_KEY: self.to_json()}

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any] | None) -> GroupReply | None:
        """The group kept in a reply's stats; None for a single reply (or a damaged one)."""
        if not stats or GROUP_KEY not in stats:
            return None
        group = cls.from_json(stats[GROUP_KEY])
        if group is None:
            log.warning("a reply's group data is unreadable; shown as a single reply")
        return group

    @classmethod
    def from_json(cls, raw: object) -> GroupReply | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("samples"), list):
            return None
        samples = []
        for s in raw["samples"]:
            if not isinstance(s, Mapping):
                return None
            samples.append(
                GroupSample(
                    str(s.get("reasoning") or ""),
                    str(s.get("answer") or ""),
                    GenerationStats.from_json(s.get("stats")),
                )
            )
        if not samples:
            return None
        n = len(samples)
        chosen = raw.get("chosen")
        votes_raw = raw.get("votes")
        votes = {
            int(k): v
            for k, v in (votes_raw.items() if isinstance(votes_raw, Mapping) else ())
            if isinstance(k, str) and k.isdigit() and int(k) < n and isinstance(v, bool)
        }
        asked = raw.get("asked")
        return cls(
            samples=tuple(samples),
            chosen=chosen if type(chosen) is int and 0 <= chosen < n else 0,
            votes=votes,
            asked=asked if type(asked) is int and asked > 0 else n,
        )


def default_choice(samples: tuple[GroupSample, ...], result: GroupResult) -> int:
    """The sample that becomes the reply: the first of the largest group (the majority, or
    the first of tied groups), else the first sample that wrote any answer, else the first."""
    if result.groups:
        return result.groups[0].samples[0]
    return next((i for i, s in enumerate(samples) if s.answer.strip()), 0)


class LiveGroup:
    """A group reply while it streams: each sample's text so far, and its figures once it
    ends. Appending is O(1) per delta; the texts are joined only when asked for."""

    def __init__(self, asked: int) -> None:
        self.asked = asked
        self._reasoning: dict[int, list[str]] = {}
        self._answer: dict[int, list[str]] = {}
        self._stats: dict[int, GenerationStats] = {}

    def add_reasoning(self, sample: int, text: str) -> None:
        self._reasoning.setdefault(sample, []).append(text)

    def add_answer(self, sample: int, text: str) -> None:
        self._answer.setdefault(sample, []).append(text)

    def finish_sample(self, sample: int, stats: GenerationStats) -> None:
        self._stats[sample] = stats

    def reply(self, count: int | None = None) -> GroupReply:
        """The samples so far, with the majority's first sample chosen: ``count`` of them
        (the engine's final number, which memory may have made smaller), else as asked."""
        n = count if count else self.asked
        samples = tuple(
            GroupSample(
                "".join(self._reasoning.get(i, [])),
                "".join(self._answer.get(i, [])),
                self._stats.get(i),
            )
            for i in range(n)
        )
        return GroupReply(samples, asked=self.asked).with_default_choice()
