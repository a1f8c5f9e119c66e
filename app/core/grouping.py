"""Group sampling ("Think N ways"): read each sample's final answer, group equal answers,
and score the samples the way GRPO does.

Final answers are read in order of how clearly the reply states them: the last
``\\boxed{...}`` (what R1 is trained to write), else an answer marker ("The answer is 42",
"**Answer:** 3/4", "Final answer: x = 2"), else a result at the end of the last line
("= 17", "leaves 138"), else the last non-empty line. The first three are *clear*; the
last is only what the reply ends with (an echoed "17*23" is not the answer 23).

Equivalence is a canonical key per answer, so grouping is exact and transitive: numbers by
value (``1/2`` == ``0.5`` == ``\\frac{1}{2}`` == ``\\dfrac12``, ``1,000`` == ``1000``,
``−3`` == ``-3``; a ``%`` sign, units in words or ``\\text{...}`` after a number, and a
single-variable left side ``x =`` are dropped, so ``50%`` == ``50`` and ``x = 2`` == ``2``:
samples answer the same question in the same unit), other maths by a normalised LaTeX
string, words case- and article-insensitively. No SymPy: its LaTeX parser needs the ANTLR
runtime too and it is slow to import, while a normalised string covers what R1 boxes
(numbers, fractions, short expressions) predictably; the price is that ``x^2 - 1`` and
``(x-1)(x+1)`` stay two answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

AnswerSource = Literal["boxed", "stated", "last_line"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|~|\\left\b|\\right\b|\\displaystyle\b")
_DELIMS = re.compile(r"\\[()\[\]]|\$")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?|°")
_FRAC = re.compile(r"\\[dt]?frac\s*(?:\{([^{}]*)\}|(\w))\s*(?:\{([^{}]*)\}|(\w))")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"  # one way to match: no backtracking
_NUMBER = re.compile(rf"([+-]?)\(?({_NUM})\)?(?:/\(?({_NUM})\)?)?", re.IGNORECASE)
_SINGLE_VAR = re.compile(r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?")
# A number, then words that name a unit ("72 km/h", "42 apples"); one letter is a variable.
_UNITS = re.compile(r"(?<=[\d})%])(?:\s+(?:[A-Za-z]+(?:[/^.]\w+)+|[A-Za-z]{2,}\.?))+$")
_NOT_UNITS = {"pi", "and", "or", "to", "times", "plus", "minus", "over", "sqrt"}
_MARKER = re.compile(
    r"\b(?:final\s+)?answers?\s*(?:(?:is|(?:would|will|should)\s+be)\s*[:=]?|[:=])\s*(\S.*)$",
    re.IGNORECASE,
)
_MARKER_HEADING = re.compile(r"(?:final\s+)?answer:?", re.IGNORECASE)  # the answer follows
_MARKER_END = re.compile(r"\.\s+(?=\S)|\s+(?:because|since|as)\b")
_RESULT_END = re.compile(
    r"(?:=|≈|\\approx|:(?=\s)|\b(?:is|are|was|equals?|makes|gives|leaves|gets?|got|totals?|remains?))"
    r"\s*((?:[-−]\s*)?(?:\\d?frac\s*\{[^{}]*\}\s*\{[^{}]*\}|\d[\d.,]*(?:/\d+)?)%?)$",
    re.IGNORECASE,
)
_ARTICLES = {"the", "a", "an"}


# -- reading a sample's final answer -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    """A reply's final answer as shown to a person, and how it was found."""

    text: str
    source: AnswerSource

    @property
    def clear(self) -> bool:
        """Boxed or stated as the answer, not just the reply's last line."""
        return self.source != "last_line"


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}``, nested braces included (None if none, or
    the one before when the last one never closes)."""
    for match in reversed(list(_BOXED.finditer(text))):
        depth = 1
        for i in range(match.end(), len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[match.end() : i].strip()
    return None


def clean_answer(text: str) -> str:
    """An answer for display: no ``$``/``\\(`` delimiters, markdown emphasis or backticks,
    ``\\text{}`` unwrapped, trailing punctuation and extra whitespace gone."""
    s = _WRAPPER.sub(r"\1", text).replace("\\$", "")
    s = _DELIMS.sub("", s).replace("**", "").replace("__", "")
    s = " ".join(s.split())
    while True:
        before = s
        s = s.strip(" `").rstrip(".,;:")
        if len(s) > 1 and s[-1] == "!" and s[-2].isalpha() and len(s.split()) > 1:
            s = s[:-1]  # "That's it!", but not "5!" or "n!"
        if len(s) > 1 and s[0] == s[-1] and s[0] in "*_":
            s = s[1:-1]
        if s == before:
            return s


def extract_final_answer(text: str) -> FinalAnswer | None:
    """The final answer of a sample's answer text (the part after its reasoning)."""
    boxed = last_boxed(text)
    if boxed is not None:
        shown = clean_answer(boxed)
        return FinalAnswer(shown, "boxed") if shown else None
    lines = [line for line in (clean_answer(ln) for ln in text.splitlines()) if line]
    if not lines:
        return None
    for i in range(len(lines) - 1, -1, -1):
        if _MARKER_HEADING.fullmatch(lines[i]) and i + 1 < len(lines):
            return FinalAnswer(lines[i + 1], "stated")  # "**Final Answer**" then the answer
        if marked := _MARKER.search(lines[i]):
            stated = clean_answer(_MARKER_END.split(marked.group(1), maxsplit=1)[0])
            if stated:
                return FinalAnswer(stated, "stated")
    if result := _RESULT_END.search(lines[-1]):
        return FinalAnswer(result.group(1).strip(), "stated")
    return FinalAnswer(lines[-1], "last_line")


def final_answer(text: str) -> str | None:
    """The sample's final answer (its last line when nothing clearer); None when empty."""
    found = extract_final_answer(text)
    return found.text if found else None


def clear_final_answer(text: str) -> str | None:
    """The final answer only when the reply clearly states one (boxed or marked)."""
    found = extract_final_answer(text)
    return found.text if found and found.clear else None


# -- equivalence ----------------------------------------------------------------------


def _latex_plain(text: str) -> str:
    s = clean_answer(_WRAPPER.sub(r" \1 ", text))  # "72\text{km}": a unit, not "72km"
    s = _SPACING.sub(" ", s).replace("−", "-").replace("\\%", "%")
    s = _DEGREES.sub("", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    return " ".join(s.split()).rstrip(".,;:")


def _right_side(s: str) -> str:
    """``x = 2`` -> ``2`` when the left side is one variable (and there is one ``=``)."""
    left, eq, right = s.partition("=")
    if eq and "=" not in right and _SINGLE_VAR.fullmatch(left.strip()) and right.strip():
        return right.strip()
    return s


def _fraction(s: str) -> Fraction | None:
    s = _FRAC.sub(lambda m: f"({m[1] or m[2]})/({m[3] or m[4]})", s)
    s = _THOUSANDS.sub(lambda m: m[1].replace(",", ""), s)
    match = _NUMBER.fullmatch(s.replace(" ", ""))
    if match is None:
        return None
    try:
        value = Fraction(match[2]) / (Fraction(match[3]) if match[3] else 1)
    except (ValueError, ZeroDivisionError):
        return None
    return -value if match[1] == "-" else value


def parse_number(text: str) -> Fraction | None:
    """The exact value of an answer that is a number (see the module notes); else None."""
    s = _right_side(_latex_plain(text))
    if (value := _fraction(s.removesuffix("%"))) is not None:
        return value
    units = _UNITS.search(s)
    if units is None:
        return None
    if any(w in _NOT_UNITS for w in units.group().lower().replace(".", " ").split()):
        return None
    return _fraction(s[: units.start()].removesuffix("%"))


def answer_key(answer: str) -> str:
    """Canonical form: two answers are equivalent when their keys are equal ("" = none)."""
    if (value := parse_number(answer)) is not None:
        return f"n:{value}"
    s = _right_side(_latex_plain(answer))
    if re.fullmatch(r"[^\W\d_][\w\s'’,.-]*", s) and re.search(r"[^\W\d_]{2}", s):
        words = re.sub(r"[^\w\s]", " ", s.lower()).split()
        return "t:" + " ".join(w for w in words if w not in _ARTICLES)
    s = _FRAC.sub(lambda m: f"({m[1] or m[2]})/({m[3] or m[4]})", s)
    s = re.sub(r"\\(?:cdot|times)(?![A-Za-z])|[×·]", "*", s)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"([_^])\{(\w)\}", r"\1\2", s)
    while (simpler := re.sub(r"\((\w+)\)", r"\1", s)) != s:
        s = simpler
    return f"e:{s}" if s else ""


def equivalent(a: str | None, b: str | None) -> bool:
    """Whether two final answers say the same thing (no answer is equal to nothing)."""
    if a is None or b is None:
        return False
    key = answer_key(a)
    return bool(key) and key == answer_key(b)


# -- grouping and scoring -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerGroup:
    """Samples that gave equivalent answers; ``answer`` is the first one's, as written."""

    answer: str
    count: int
    samples: tuple[int, ...]


def group_answers(answers: Sequence[str | None]) -> list[AnswerGroup]:
    """Equivalent answers grouped, largest first, ties in order of first appearance.
    Samples without an answer (None, or nothing left after cleaning) are in no group."""
    members: dict[str, list[int]] = {}
    for i, answer in enumerate(answers):
        key = answer_key(answer) if answer is not None else ""
        if key:
            members.setdefault(key, []).append(i)
    groups = [
        AnswerGroup(clean_answer(answers[idx[0]] or ""), len(idx), tuple(idx))
        for idx in members.values()
    ]
    # dicts keep insertion order, so a stable sort by size keeps first appearance for ties.
    return sorted(groups, key=lambda g: -g.count)


def majority_group(groups: Sequence[AnswerGroup]) -> AnswerGroup | None:
    """The one most common answer (a plurality, not necessarily over half).

    None when no sample answered, or when two or more answers tie for the most samples:
    then there is no consensus to reward, and without a reference or a vote every sample
    scores 0 (so every advantage is 0), rather than rewarding whichever came first.
    """
    if not groups or (len(groups) > 1 and groups[1].count == groups[0].count):
        return None
    return groups[0]


def grpo_advantages(rewards: Sequence[float]) -> list[float]:
    """GRPO's group-relative advantage, ``A_i = (r_i - mean(r)) / std(r)``.

    ``std`` is the population standard deviation (divide by N). DeepSeekMath's GRPO
    normalises each reward by its own group's mean and std: the group is the whole
    population being normalised, not a sample standing for another, so the advantages have
    mean 0 and variance 1 within the group. (TRL's trainer uses torch's default unbiased
    std, which scales every advantage by sqrt((N-1)/N).) All rewards equal -> all 0: the
    group holds no signal, and the formula would divide by zero.
    """
    n = len(rewards)
    if n == 0 or all(r == rewards[0] for r in rewards):
        return [0.0] * n
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    return [(r - mean) / std for r in rewards]


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group-sampling run judged: what each sample answered and how it scores."""

    answers: tuple[str | None, ...]  # each sample's final answer
    groups: tuple[AnswerGroup, ...]
    majority: str | None
    reference: str | None  # the user's answer, when given
    rewards: tuple[int, ...]
    advantages: tuple[float, ...]

    @property
    def unanswered(self) -> tuple[int, ...]:
        """Samples that gave no answer (in no group; reward 0 unless voted up)."""
        grouped = {i for g in self.groups for i in g.samples}
        return tuple(i for i in range(len(self.answers)) if i not in grouped)

    def to_json(self) -> dict[str, Any]:
        """The ``group`` event of ``ponder chat --samples N --json`` (DESIGN.md)."""
        return {
            "event": "group",
            "groups": [
                {"answer": g.answer, "count": g.count, "samples": list(g.samples)}
                for g in self.groups
            ],
            "majority": self.majority,
            "rewards": list(self.rewards),
            "advantages": list(self.advantages),
        }

    def summary(self) -> str:
        """One line for people: "4 of 6 samples agree"."""
        n = len(self.answers)
        if not self.groups:
            return "No sample gave an answer" if n else "No samples"
        top = self.groups[0].count
        if self.majority is None and top == 1:
            line = f"No two of {n} samples agree"
        elif self.majority is None:
            tied = sum(1 for g in self.groups if g.count == top)
            line = f"No majority: {tied} answers have {top} of {n} samples each"
        elif n == 1:
            line = "1 sample"
        elif top == 1:
            line = f"Only 1 of {n} samples gave an answer"
        elif top == n:
            line = f"All {n} samples agree"
        else:
            line = f"{top} of {n} samples agree"
        if self.reference is not None:
            matching = sum(1 for a in self.answers if equivalent(a, self.reference))
            line += f"; {matching} {'matches' if matching == 1 else 'match'} the reference answer"
        return line


def score_samples(
    answers: Sequence[str | None],
    reference: str | None = None,
    votes: Mapping[int, bool] | None = None,
) -> GroupResult:
    """Group the samples' final answers and reward them.

    Args:
        answers: Each sample's final answer (``final_answer`` of its answer text), or None.
        reference: The user's answer; when given (not blank) it, not the majority, is right.
        votes: A person's thumbs up (True) or down (False) by sample index; it overrides
            the sample's reward (1 or 0).

    Returns:
        ``r_i`` is 1 when sample i's answer is equivalent to the reference, or without one
        to the majority answer (see ``majority_group``), else 0; advantages from
        ``grpo_advantages``.

    Raises:
        ValueError: a vote for a sample that does not exist.
    """
    votes = votes or {}
    if bad := [i for i in votes if not 0 <= i < len(answers)]:
        raise ValueError(f"votes for samples {bad}, but there are {len(answers)} samples")
    groups = group_answers(answers)
    top = majority_group(groups)
    ref = clean_answer(reference) if reference is not None else ""
    target = ref or (top.answer if top else None)
    rewards = tuple(
        int(votes[i]) if i in votes else int(equivalent(answer, target))
        for i, answer in enumerate(answers)
    )
    return GroupResult(
        answers=tuple(answers),
        groups=tuple(groups),
        majority=top.answer if top else None,
        reference=ref or None,
        rewards=rewards,
        advantages=tuple(grpo_advantages(rewards)),
    )


def score_texts(
    answer_texts: Sequence[str],
    reference: str | None = None,
    votes: Mapping[int, bool] | None = None,
) -> GroupResult:
    """``score_samples`` over the samples' answer texts (the parts after their reasoning)."""
    return score_samples([final_answer(t) for t in answer_texts], reference, votes)
