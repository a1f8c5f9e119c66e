"""ReasoningSplitter: every case, split into chunks at every position."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.reasoning import ReasoningSplitter, prompt_opens_reasoning

# (name, prompt_opened, raw output, expected reasoning, expected answer)
CASES = [
    (
        "model opens and closes",
        False,
        "<think>\nLet me add: 2+2=4.\n</think>\n\nThe answer is **4**.",
        "Let me add: 2+2=4.",
        "The answer is **4**.",
    ),
    (
        "prompt opened <think>",
        True,
        "\nLet me add: 2+2=4.\n\n</think>\n\nThe answer is 4.",
        "Let me add: 2+2=4.",
        "The answer is 4.",
    ),
    (
        "no tags at all",
        False,
        "Paris is the capital of France.",
        "",
        "Paris is the capital of France.",
    ),
    (
        "ends while thinking",
        False,
        "<think>\nStill weighing the options...\n",
        "Still weighing the options...",
        "",
    ),
    ("prompt opened, ends while thinking", True, "Hmm, 17 is prime", "Hmm, 17 is prime", ""),
    (
        "whitespace after </think> dropped",
        False,
        "<think>r</think> \n\n \t Answer.",
        "r",
        "Answer.",
    ),
    (
        "literal <think> inside the answer",
        False,
        "<think>plan</think>Wrap it like `<think>x</think>`:\n```\n<think>\n```",
        "plan",
        "Wrap it like `<think>x</think>`:\n```\n<think>\n```",
    ),
    (
        "answer that starts with a code block holding <think>",
        False,
        "```xml\n<think>not reasoning</think>\n```",
        "",
        "```xml\n<think>not reasoning</think>\n```",
    ),
    ("leading whitespace before <think>", False, "\n\n<think>r</think>a", "r", "a"),
    (
        "almost a closing tag inside reasoning",
        False,
        "<think>a </thin b </ c</think>d",
        "a </thin b </ c",
        "d",
    ),
    ("ends on a partial closing tag", True, "abc </thi", "abc </thi", ""),
    ("a tag-like word is not a tag", False, "<thinker> is a word", "", "<thinker> is a word"),
    ("empty output", False, "", "", ""),
    ("only whitespace", False, " \n ", "", ""),
    ("unicode around tags", True, "Über 世界 🤔\n</think>\n\nÉtat: ✓", "Über 世界 🤔", "État: ✓"),
    ("empty reasoning", False, "<think>\n\n</think>\n\nDirect answer.", "", "Direct answer."),
    # Some builds write <think> although the prompt (newer R1 templates) already opened it.
    (
        "prompt opened, model writes <think> again",
        True,
        "<think>\nLet me add.\n</think>\n\n4",
        "Let me add.",
        "4",
    ),
    ("prompt opened, whitespace then <think>", True, "\n \n<think>\nr</think>a", "r", "a"),
    ("prompt opened, reopened and empty", True, "<think></think>Direct.", "", "Direct."),
    ("prompt opened, a later <think> is text", True, "a <think> b</think>c", "a <think> b", "c"),
    ("prompt opened, starts like a tag", True, "<thinker> idea</think>x", "<thinker> idea", "x"),
    ("prompt opened, ends inside <think>", True, "\n<thin", "<thin", ""),
    ("prompt opened, closes at once", True, "</think>\n\nJust 4.", "", "Just 4."),
]


def run(prompt_opened: bool, chunks: list[str]) -> tuple[str, str]:
    splitter = ReasoningSplitter(prompt_opened)
    reasoning: list[str] = []
    answer: list[str] = []
    for chunk in chunks:
        for seg in splitter.feed(chunk):
            (reasoning if seg.reasoning else answer).append(seg.text)
    for seg in splitter.finish():
        (reasoning if seg.reasoning else answer).append(seg.text)
    return "".join(reasoning), "".join(answer)


@pytest.mark.parametrize(
    ("name", "opened", "raw", "reasoning", "answer"), CASES, ids=[c[0] for c in CASES]
)
def test_whole_output(name: str, opened: bool, raw: str, reasoning: str, answer: str) -> None:
    assert run(opened, [raw]) == (reasoning, answer)


@pytest.mark.parametrize(
    ("name", "opened", "raw", "reasoning", "answer"), CASES, ids=[c[0] for c in CASES]
)
def test_split_at_every_pair_of_positions(
    name: str, opened: bool, raw: str, reasoning: str, answer: str
) -> None:
    for i, j in itertools.combinations_with_replacement(range(len(raw) + 1), 2):
        chunks = [raw[:i], raw[i:j], raw[j:]]
        assert run(opened, chunks) == (reasoning, answer), (i, j)


@pytest.mark.parametrize(
    ("name", "opened", "raw", "reasoning", "answer"), CASES, ids=[c[0] for c in CASES]
)
def test_one_character_at_a_time(
    name: str, opened: bool, raw: str, reasoning: str, answer: str
) -> None:
    assert run(opened, list(raw)) == (reasoning, answer)


@given(st.data())
def test_random_chunking_matches_whole(data: st.DataObject) -> None:
    _name, opened, raw, reasoning, answer = data.draw(st.sampled_from(CASES))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    bounds = [0, *cuts, len(raw)]
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    assert run(opened, chunks) == (reasoning, answer)


def test_a_reopening_tag_split_across_chunks_never_reaches_the_panel() -> None:
    splitter = ReasoningSplitter(prompt_opened=True)
    shown = [
        seg.text
        for chunk in ["\n", "<", "thi", "nk", ">\n", "Let me see"]
        for seg in splitter.feed(chunk)
    ]
    assert "".join(shown) == "Let me see"
    assert splitter.in_reasoning


def test_state_is_visible_while_streaming() -> None:
    splitter = ReasoningSplitter()
    splitter.feed("<thi")
    assert not splitter.in_reasoning
    splitter.feed("nk>Let me see")
    assert splitter.in_reasoning
    splitter.feed("</think>Yes")
    assert not splitter.in_reasoning


def test_text_is_released_as_soon_as_it_is_certain() -> None:
    splitter = ReasoningSplitter(prompt_opened=True)
    segs = splitter.feed("First idea. Second")
    assert "".join(s.text for s in segs) == "First idea. Second"


@pytest.mark.parametrize(
    ("prompt", "opened"),
    [
        ("<｜User｜>hi<｜Assistant｜><think>\n", True),
        ("<|im_start|>assistant\n<think>", True),
        ("<｜User｜>hi<｜Assistant｜>", False),
        ("User: hi\nAssistant:", False),
    ],
)
def test_prompt_opens_reasoning(prompt: str, opened: bool) -> None:
    assert prompt_opens_reasoning(prompt) is opened
