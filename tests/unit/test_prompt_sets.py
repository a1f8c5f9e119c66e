"""Prompt sets for `ponder bench`: loading, reading a reply's final answer, judging it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import BadInputError
from app.core.prompt_sets import (
    PromptItem,
    PromptSet,
    builtin_sets,
    check_answer,
    final_answer,
    last_boxed,
    last_code_block,
    load_prompt_set,
    run_code_test,
)

GOOD_PALINDROME = """Here it is:

```python
def is_palindrome(s: str) -> bool:
    kept = [c.lower() for c in s if c.isalnum()]
    return kept == kept[::-1]
```
"""


def item(**kw: object) -> PromptItem:
    return PromptItem(id="t", prompt="?", **kw)  # type: ignore[arg-type]


# -- final answers ---------------------------------------------------------------------


def test_last_boxed_keeps_nested_braces() -> None:
    assert last_boxed(r"so \boxed{\frac{11}{12}} is it") == r"\frac{11}{12}"
    assert last_boxed(r"\boxed{1} then \boxed{\text{x = {2}}}") == r"\text{x = {2}}"


def test_an_unclosed_last_box_falls_back_to_the_one_before() -> None:
    assert last_boxed(r"first \boxed{7}, then \boxed{8") == "7"
    assert last_boxed("no box here") is None


def test_final_answer_is_the_box_else_the_last_number() -> None:
    assert final_answer(r"12 trays... \boxed{138} (not 150)") == "138"
    assert final_answer("12 x 24 = 288, minus 150 leaves 138.") == "138"
    assert final_answer("no digits") is None


@pytest.mark.parametrize(
    ("reply", "key", "ok"),
    [
        (r"The answer is $\boxed{138}$.", 138, True),
        (r"\boxed{137}", 138, False),
        (r"\boxed{72 \text{ km/h}}", 72, True),
        (r"\boxed{\dfrac{11}{12}}", "11/12", True),
        (r"\boxed{x = 5}", 5, True),
        (r"\boxed{1,234}", 1234, True),
        ("Leaves 288 - 150 = 138 cookies", 138, True),
        ("I am not sure.", 138, False),
        (r"\boxed{0.9166}", "11/12", False),
        # The question echoed is not an answer, though it ends with the key's number.
        ("17*23", 23, False),
        ("17 * 23 = 391", 391, True),
        ("**Answer:** 391", 391, True),
    ],
)
def test_numeric_answers(reply: str, key: object, ok: bool) -> None:
    result = check_answer(item(check="number", answer=key), reply)
    assert result.correct is ok, result.detail


def test_an_answer_without_a_number_says_so_in_words() -> None:
    for reply in ("", r"\boxed{}", "I am not sure."):
        result = check_answer(item(check="number", answer=72), reply)
        assert result.correct is False
        assert result.detail == "no number in the answer", result.detail


def test_numeric_tolerance_is_the_items() -> None:
    loose = item(check="number", answer=3.14159, tolerance=0.01)
    assert check_answer(loose, r"\boxed{3.14}").correct is True
    assert check_answer(item(check="number", answer=3.14159), r"\boxed{3.14}").correct is False


@pytest.mark.parametrize(
    ("reply", "ok"),
    [
        (r"It must be \boxed{\text{Carol}}.", True),
        (r"\boxed{carol}", True),
        (r"\boxed{Bob}", False),
        ("Answer: Carol", True),
        ("So the answer is Carol.", True),
        # A line that only repeats the names is not an answer.
        ("Alice, Bob and Carol each own one pet", False),
        ("", False),
    ],
)
def test_text_answers(reply: str, ok: bool) -> None:
    assert check_answer(item(check="text", answer="Carol"), reply).correct is ok


def test_an_item_without_a_key_is_not_judged() -> None:
    result = check_answer(item(), r"\boxed{42}")
    assert result.correct is None and result.final_answer == "42"


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        # A custom prompt "What is 17*23?": a reply that only repeats the sum has no answer
        # (the Compare card said "answer: 23"); one that states a result shows it.
        ("17*23", None),
        ("Let me compute 17*23\n17*23", None),
        ("17*23 = 391", "391"),
        ("The answer is 391.", "391"),
        ("Once upon a time...\nThe end.", None),
    ],
)
def test_an_unkeyed_reply_shows_only_a_clearly_final_answer(reply: str, shown: str | None) -> None:
    result = check_answer(item(), reply)
    assert result.correct is None and result.final_answer == shown


# -- code ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def palindrome() -> PromptItem:
    return next(i for i in load_prompt_set("quick").items if i.check == "code")


def test_last_code_block_takes_the_last_python_one() -> None:
    text = "```python\nx = 1\n```\n```bash\nls\n```\n```py\nx = 2\n```"
    assert last_code_block(text) == "x = 2\n"
    assert last_code_block("no fences") is None


def test_a_correct_solution_passes_the_builtin_coding_task(palindrome: PromptItem) -> None:
    result = check_answer(palindrome, GOOD_PALINDROME)
    assert result.correct is True, result.detail


def test_a_wrong_solution_fails_with_the_assertion(palindrome: PromptItem) -> None:
    wrong = "```python\ndef is_palindrome(s):\n    return s == s[::-1]\n```"
    result = check_answer(palindrome, wrong)
    assert result.correct is False
    assert "AssertionError" in result.detail


def test_an_endless_loop_is_stopped_at_the_time_limit() -> None:
    result = run_code_test("while True:\n    pass", "assert True", time_limit_s=1)
    assert result.correct is False
    assert result.detail == "timed out after 1 s"


def test_code_runs_isolated_in_a_scratch_folder(tmp_path: Path) -> None:
    """-I: the current directory and PYTHONPATH are not on the path; the cwd is a temp dir."""
    probe = "import os, sys\nassert os.getcwd() != {cwd!r}\nassert sys.flags.isolated\n"
    assert run_code_test(probe.format(cwd=str(Path.cwd())), "", 10).correct is True


def test_an_answer_without_code_fails(palindrome: PromptItem) -> None:
    result = check_answer(palindrome, "def is_palindrome(s): ...")
    assert result.correct is False and "no Python code block" in result.detail


# -- loading ---------------------------------------------------------------------------


def test_builtin_quick_set_has_every_kind_of_problem() -> None:
    assert {"quick", "math"} <= set(builtin_sets())
    quick = load_prompt_set("quick")
    kinds = [i.check for i in quick.items]
    assert kinds.count("number") == 3 and kinds.count("text") == 1 and kinds.count("code") == 1
    assert all(len(i.prompt) < 400 for i in quick.items)


def test_every_builtin_numeric_key_accepts_its_own_boxed_answer() -> None:
    for name in builtin_sets():
        for it in load_prompt_set(name).items:
            if it.check in ("number", "text"):
                assert check_answer(it, rf"\boxed{{{it.answer}}}").correct, (name, it.id)


def test_a_user_set_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "prompts": [
                    {"id": "sum", "prompt": "2+2?", "answer": 4},
                    {"prompt": "Name a colour."},
                ]
            }
        )
    )
    s = load_prompt_set(str(path))
    assert s.name == "mine"
    assert [(i.id, i.check) for i in s.items] == [("sum", "number"), ("p2", "none")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "mine.json is not valid JSON (line 1"),
        ('{"name": "x"}', 'mine.json: it needs a "prompts" list.'),
        ('{"prompts": []}', 'mine.json: its "prompts" list is empty.'),
        ('{"prompts": [{"answer": 3}]}', 'mine.json: prompt 1 has no "prompt" text.'),
        (
            '{"prompts": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]}',
            'mine.json: two prompts have the id "a".',
        ),
        (
            '{"prompts": [{"id": "a", "prompt": "x", "answer": true}]}',
            'mine.json: prompt "a" has a true/false "answer"',
        ),
        (
            '{"prompts": [{"id": "c", "prompt": "x", "test": "pass", "time_limit_s": 0}]}',
            'prompt "c" needs "time_limit_s" between 0 and 600 seconds',
        ),
    ],
)
def test_a_bad_user_set_is_one_clear_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "mine.json"
    path.write_text(content)
    with pytest.raises(BadInputError) as err:
        load_prompt_set(str(path))
    assert message in err.value.message
    assert "quick.json" in err.value.hint  # where to see the format


def test_unknown_names_and_missing_files_say_what_exists() -> None:
    with pytest.raises(BadInputError, match="No prompt set called nope") as err:
        load_prompt_set("nope")
    assert "quick" in err.value.hint
    with pytest.raises(BadInputError, match=r"No prompt set file at missing\.json"):
        load_prompt_set("missing.json")


def test_a_single_prompt_is_a_set_without_a_key() -> None:
    s = PromptSet.single("Why is the sky blue?")
    assert [i.check for i in s.items] == ["none"]
    with pytest.raises(BadInputError):
        PromptSet.single("  ")
