"""Group sampling: each sample's final answer, which answers are the same, GRPO scores."""

from __future__ import annotations

import json
import math

import pytest

from app.core.grouping import (
    AnswerGroup,
    answer_key,
    equivalent,
    extract_final_answer,
    final_answer,
    group_answers,
    grpo_advantages,
    parse_number,
    score_samples,
    score_texts,
)

# -- final answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer", "source"),
    [
        (r"So $\boxed{\frac{11}{12}}$.", r"\frac{11}{12}", "boxed"),
        (r"\boxed{\frac{1}{\sqrt{4}}} is it", r"\frac{1}{\sqrt{4}}", "boxed"),  # nested
        (r"First \boxed{7}, then \boxed{8}.", "8", "boxed"),  # the last box wins
        (r"\boxed{7} and an unclosed \boxed{8", "7", "boxed"),
        (r"The answer is 12, so \boxed{138}", "138", "boxed"),  # a box beats a marker
        ("The answer is 42.", "42", "stated"),
        ("**Answer:** 3/4", "3/4", "stated"),
        ("Final answer: x = 2", "x = 2", "stated"),
        ("So the answer is *Carol*.\n\nShe owns the cat.", "Carol", "stated"),
        ("The answer is 42, because 6*7 = 42.", "42", "stated"),
        ("**Final Answer**\n\n$17$", "17", "stated"),
        ("Add them:\n12 + 5 = 17", "17", "stated"),
        ("12 x 24 = 288, minus 150 leaves 138.", "138", "stated"),
        # Echo only: the question repeated is the reply's last line, not the answer 23.
        ("17*23", "17*23", "last_line"),
        ("You asked:\n17*23", "17*23", "last_line"),
        ("To answer this, we need 5 more", "To answer this, we need 5 more", "last_line"),
        ("Paris is lovely.\n\n**Paris**", "Paris", "last_line"),
        ("$$\n\\frac12\n$$", r"\frac12", "last_line"),
        ("Meet at 10:30", "Meet at 10:30", "last_line"),
        (r"\boxed{5!}", "5!", "boxed"),
    ],
)
def test_final_answer(text: str, answer: str, source: str) -> None:
    found = extract_final_answer(text)
    assert found is not None
    assert (found.text, found.source) == (answer, source)
    assert found.clear is (source != "last_line")


@pytest.mark.parametrize("text", ["", "  \n\n ", r"\boxed{}", "$$\n$$", "**"])
def test_no_answer_is_none(text: str) -> None:
    assert final_answer(text) is None


# -- equivalence ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1/2", "0.5"),
        ("0.5", r"\frac{1}{2}"),
        (r"\frac{1}{2}", r"\dfrac12"),
        (r"\tfrac{1}{2}", ".5"),
        ("1,000", "1000"),
        ("1,234,567", "1234567"),
        ("-3", "−3"),  # U+2212, as typeset
        (r"-\frac{1}{2}", r"\frac{-1}{2}"),
        ("50%", "50"),  # documented: a percent sign is dropped, not divided by 100
        (r"50\%", "50"),
        ("x = 2", "2"),
        (r"\theta = 30^\circ", "30"),
        (r"72 \text{ km/h}", "72"),
        (r"\$5", "5"),
        ("42 apples", "42"),
        (r"\left(3\right)", "3"),
        (r"3\,000", "3000"),
        ("Carol", r"\text{carol}"),
        ("the Carol", "Carol"),
        ("(B)", "B"),
        (r"\frac{x}{2}", "x/2"),
        ("y = 2x + 3", "2x+3"),
        (r"2 \cdot 3^{2}", r"2\times3^2"),
        (r"\left( 1, 2 \right)", "(1,2)"),
    ],
)
def test_equivalent(a: str, b: str) -> None:
    assert equivalent(a, b) and equivalent(b, a)
    assert answer_key(a) == answer_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1/2", "0.51"),
        ("1/3", "0.333"),  # values, exactly: a rounded decimal is a different answer
        ("1,2", "12"),  # a list, not a thousands separator
        ("2", "-2"),
        ("x + y = 5", "5"),  # the left side is not a single variable
        ("2 pi", "2"),  # pi is not a unit
        ("3 and 4", "3"),
        ("3x", "3"),
        ("5!", "5"),
        ("Carol", "Bob"),
        ("17*23", "23"),
        (r"\sqrt{2}", "2"),
    ],
)
def test_not_equivalent(a: str, b: str) -> None:
    assert not equivalent(a, b)


def test_nothing_is_equivalent_to_no_answer() -> None:
    assert not equivalent(None, None)
    assert not equivalent("", "")
    assert not equivalent("42", None)


def test_numbers_are_exact() -> None:
    assert parse_number("0.1") == parse_number("1/10")
    assert parse_number(r"\frac{1}{0}") is None
    assert parse_number("seven") is None


# -- grouping -------------------------------------------------------------------------


def test_groups_largest_first_ties_by_first_appearance() -> None:
    groups = group_answers(["7", "1/2", None, "0.5", "7", "9", r"\frac12", ""])
    assert groups == [
        AnswerGroup("1/2", 3, (1, 3, 6)),
        AnswerGroup("7", 2, (0, 4)),
        AnswerGroup("9", 1, (5,)),
    ]


def test_a_group_shows_its_first_answer_cleaned() -> None:
    assert group_answers([r"$\frac{1}{2}$", "0.5"])[0].answer == r"\frac{1}{2}"


# -- rewards and advantages -------------------------------------------------------------


def approx(values: list[float]) -> list[float]:
    return [round(v, 6) for v in values]


R3 = math.sqrt(3)  # 3 of 4 right: mean 0.75, std sqrt(3)/4


@pytest.mark.parametrize(
    ("answers", "reference", "votes", "majority", "rewards", "advantages"),
    [
        # All agree: every reward 1, nothing to prefer.
        (["4", "4.0", "8/2"], None, {}, "4", [1, 1, 1], [0, 0, 0]),
        # All differ, no reference: no majority, so no reward (not "the first one wins").
        (["1", "2", "3"], None, {}, None, [0, 0, 0], [0, 0, 0]),
        # A tie for the largest group is no majority either.
        (["5", "7", "5", "7"], None, {}, None, [0, 0, 0, 0], [0, 0, 0, 0]),
        # A plurality is a majority: 2 of 4.
        (["5", "7", "5", "9"], None, {}, "5", [1, 0, 1, 0], [1, -1, 1, -1]),
        # No answer scores 0 and is in no group.
        (["5", None, "5", None], None, {}, "5", [1, 0, 1, 0], [1, -1, 1, -1]),
        (["6", "6", "6", "2"], None, {}, "6", [1, 1, 1, 0], [1 / R3, 1 / R3, 1 / R3, -R3]),
        # A reference beats the majority.
        (["5", "7", "5", "7.0"], "7", {}, None, [0, 1, 0, 1], [-1, 1, -1, 1]),
        (["5", "5", "5", "x = 7"], "7", {}, "5", [0, 0, 0, 1], [-1 / R3, -1 / R3, -1 / R3, R3]),
        (["5", "5"], "  ", {}, "5", [1, 1], [0, 0]),  # a blank reference is none
        # Thumbs override: up for a wrong answer, down for a right one.
        (["5", "5", "7", None], None, {2: True, 0: False}, "5", [0, 1, 1, 0], [-1, 1, 1, -1]),
        # Nobody answered.
        ([None, None], None, {}, None, [0, 0], [0, 0]),
        ([], None, {}, None, [], []),
    ],
)
def test_rewards_and_advantages(
    answers: list[str | None],
    reference: str | None,
    votes: dict[int, bool],
    majority: str | None,
    rewards: list[int],
    advantages: list[float],
) -> None:
    result = score_samples(answers, reference, votes)
    assert result.majority == majority
    assert list(result.rewards) == rewards
    assert approx(list(result.advantages)) == approx(advantages)


@pytest.mark.parametrize(
    ("rewards", "advantages"),
    [
        ([1, 0], [1.0, -1.0]),
        ([1, 1, 1, 0], [1 / R3] * 3 + [-R3]),
        ([0, 0, 0, 0, 0, 1], [-1 / math.sqrt(5)] * 5 + [math.sqrt(5)]),
        ([1, 1], [0.0, 0.0]),
        ([0.0], [0.0]),
    ],
)
def test_grpo_advantage_uses_the_population_std(
    rewards: list[float], advantages: list[float]
) -> None:
    got = grpo_advantages(rewards)
    assert approx(got) == approx(advantages)
    if len(set(rewards)) > 1:  # normalised: mean 0, population variance 1
        assert abs(sum(got)) < 1e-9
        assert abs(sum(a * a for a in got) / len(got) - 1) < 1e-9


def test_a_vote_for_a_sample_that_does_not_exist_is_a_bug() -> None:
    with pytest.raises(ValueError, match="samples"):
        score_samples(["1"], votes={3: True})


# -- the JSON event and the summary ------------------------------------------------------


def test_json_is_the_cli_contracts_group_event() -> None:
    result = score_texts(
        [r"\boxed{4}", "The answer is 4.", "I think 5", "", r"So $\boxed{\frac{8}{2}}$"]
    )
    event = result.to_json()
    assert json.loads(json.dumps(event)) == event
    assert list(event) == ["event", "groups", "majority", "rewards", "advantages"]
    assert event["event"] == "group"
    assert event["groups"] == [
        {"answer": "4", "count": 3, "samples": [0, 1, 4]},
        {"answer": "I think 5", "count": 1, "samples": [2]},
    ]
    assert event["majority"] == "4"
    assert event["rewards"] == [1, 1, 0, 0, 1]
    assert approx(event["advantages"]) == approx(grpo_advantages([1, 1, 0, 0, 1]))
    assert result.unanswered == (3,)


@pytest.mark.parametrize(
    ("answers", "reference", "summary"),
    [
        (["4", "4", "4", "4", "5", None], None, "4 of 6 samples agree"),
        (["4", "4.0"], None, "All 2 samples agree"),
        (["1", "2", "3"], None, "No two of 3 samples agree"),
        (["1", "2", "1", "2", "3"], None, "No majority: 2 answers have 2 of 5 samples each"),
        ([None, None], None, "No sample gave an answer"),
        (["4", None, None], None, "Only 1 of 3 samples gave an answer"),
        (["4", "4", "5"], "5", "2 of 3 samples agree; 1 matches the reference answer"),
        ([], None, "No samples"),
    ],
)
def test_summary(answers: list[str | None], reference: str | None, summary: str) -> None:
    assert score_samples(answers, reference).summary() == summary
