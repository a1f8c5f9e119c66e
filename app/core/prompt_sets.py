"""Benchmark prompt sets: short problems with checkable answers, built in or from a file.

A set is a JSON file (``resources/prompt_sets/quick.json`` shows the format)::

    {"name": "quick", "description": "...", "prompts": [
        {"id": "cookies", "prompt": "...", "answer": 138},                 # a number
        {"id": "pets", "prompt": "...", "answer": "Carol", "accept": ["C"]}, # a word
        {"id": "code", "prompt": "...", "test": "assert f(1) == 2", "time_limit_s": 10},
        {"id": "story", "prompt": "..."}]}                                   # no answer key

R1 is trained to put its final answer in ``\\boxed{}``, so that is what the checker reads
first; a model that does not box its answer is judged on the answer it states, else on its
last line (``app.core.grouping`` reads final answers for this and for group sampling). Code
is judged by running it with the set's test in a separate, isolated Python with a time limit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.core import grouping
from app.core.errors import BadInputError
from app.core.grouping import clear_final_answer, last_boxed, parse_number

PROMPT_SETS_DIR = Path(__file__).resolve().parents[2] / "resources" / "prompt_sets"
DEFAULT_SET = "quick"
DEFAULT_TIME_LIMIT_S = 10.0
DEFAULT_TOLERANCE = 1e-6
FORMAT_HINT = f"See {PROMPT_SETS_DIR / 'quick.json'} for the format."

CheckKind = Literal["number", "text", "code", "none"]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_ANSWER_LEAD = re.compile(r"^(?:so |thus |therefore |hence )?(?:(?:final )?answer(?: is)? )?")
_LATEX_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")


@dataclass(frozen=True)
class PromptItem:
    """One problem: the prompt, and how its answer is checked (``check``)."""

    id: str
    prompt: str
    check: CheckKind = "none"
    answer: str | float | None = None
    accept: tuple[str, ...] = ()  # more spellings of a text answer
    tolerance: float = DEFAULT_TOLERANCE
    test: str = ""  # code appended to the model's solution; it passes when this exits 0
    time_limit_s: float = DEFAULT_TIME_LIMIT_S


@dataclass(frozen=True)
class PromptSet:
    name: str
    description: str
    items: tuple[PromptItem, ...]
    source: str = ""  # the file it came from

    @classmethod
    def single(cls, prompt: str) -> PromptSet:
        """A one-prompt set for ``-p PROMPT``: timed, not checked."""
        if not prompt.strip():
            raise BadInputError("The prompt is empty.", "Give some text after -p.")
        return cls("custom", "one prompt from the command line", (PromptItem("prompt", prompt),))


@dataclass(frozen=True)
class CheckResult:
    """``correct`` is None when the item has no answer key; ``detail`` says why."""

    correct: bool | None
    final_answer: str | None
    detail: str = field(default="")


# -- loading -------------------------------------------------------------------------


def builtin_sets() -> list[str]:
    return sorted(p.stem for p in PROMPT_SETS_DIR.glob("*.json"))


def load_prompt_set(name_or_path: str) -> PromptSet:
    """A built-in set by name, or a user's set from a JSON file.

    Raises:
        BadInputError: no such set or file, or the file is not a valid prompt set.
    """
    path = Path(name_or_path).expanduser()
    looks_like_path = name_or_path.endswith(".json") or os.sep in name_or_path
    if not path.is_file():
        if looks_like_path:
            raise BadInputError(f"No prompt set file at {name_or_path}.", "Check the path.")
        path = PROMPT_SETS_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise BadInputError(
                f"No prompt set called {name_or_path}.",
                f"Built-in sets: {', '.join(builtin_sets())}; or give the path to a JSON file.",
            )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path.name} cannot be read: {exc}.", "Check the file.") from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg}).", FORMAT_HINT
        ) from exc
    return parse_prompt_set(data, path)


def parse_prompt_set(data: Any, path: Path) -> PromptSet:
    def bad(what: str) -> BadInputError:
        return BadInputError(f"{path.name}: {what}.", FORMAT_HINT)

    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        raise bad('it needs a "prompts" list')
    if not data["prompts"]:
        raise bad('its "prompts" list is empty')
    items: list[PromptItem] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["prompts"], 1):
        if not isinstance(raw, dict):
            raise bad(f"prompt {i} is not an object")
        text = raw.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise bad(f'prompt {i} has no "prompt" text')
        item_id = str(raw.get("id") or f"p{i}")
        if item_id in seen:
            raise bad(f'two prompts have the id "{item_id}"')
        seen.add(item_id)
        items.append(_parse_item(raw, item_id, text, bad))
    return PromptSet(
        name=str(data.get("name") or path.stem),
        description=str(data.get("description") or ""),
        items=tuple(items),
        source=str(path),
    )


def _parse_item(raw: dict[str, Any], item_id: str, text: str, bad: Any) -> PromptItem:
    answer = raw.get("answer")
    test = raw.get("test", "")
    limit = raw.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
    tolerance = raw.get("tolerance", DEFAULT_TOLERANCE)
    accept = raw.get("accept", [])
    if not isinstance(test, str):
        raise bad(f'prompt "{item_id}" has a "test" that is not text')
    if not isinstance(limit, int | float) or isinstance(limit, bool) or not 0 < limit <= 600:
        raise bad(f'prompt "{item_id}" needs "time_limit_s" between 0 and 600 seconds')
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or tolerance < 0:
        raise bad(f'prompt "{item_id}" needs a "tolerance" of 0 or more')
    if not isinstance(accept, list) or not all(isinstance(a, str) for a in accept):
        raise bad(f'prompt "{item_id}" needs "accept" to be a list of strings')
    check: CheckKind
    if test:
        check = "code"
    elif isinstance(answer, bool) or answer is None:
        if answer is not None:
            raise bad(f'prompt "{item_id}" has a true/false "answer"; write it as text')
        check = "none"
    elif isinstance(answer, int | float):
        check = "number"
    elif isinstance(answer, str) and answer.strip():
        check = "number" if parse_number(answer) is not None else "text"
    else:
        raise bad(f'prompt "{item_id}" has an "answer" that is neither a number nor text')
    return PromptItem(
        id=item_id,
        prompt=text,
        check=check,
        answer=answer if check in ("number", "text") else None,
        accept=tuple(accept),
        tolerance=float(tolerance),
        test=test,
        time_limit_s=float(limit),
    )


# -- reading answers -------------------------------------------------------------------


def final_answer(text: str) -> str | None:
    """What the reply clearly gives as its answer (boxed, or stated as the answer); None
    when it only ends with something, such as the question's "17*23" echoed."""
    return clear_final_answer(text)


def _number_in(answer: str) -> float | None:
    """The number a final answer gives: itself (``42``, ``x = 5``, ``72 km/h``), else the
    result of its last equation (``288 - 150 = 138 cookies``), else its only number
    (``about 42 of them``). None for ``17*23``: two numbers and no result."""
    value = parse_number(answer)
    if value is None and "=" in answer:
        value = parse_number(answer.rsplit("=", 1)[1])
    if value is None:
        numbers = _NUMBER.findall(answer)
        value = parse_number(numbers[0]) if len(numbers) == 1 else None
    return float(value) if value is not None else None


def _normalise(text: str) -> str:
    s = _LATEX_WRAP.sub(r"\1", text).lower()
    s = re.sub(r"[^\w\s]", " ", s)
    words = [w for w in s.split() if w not in ("the", "a", "an")]
    return " ".join(words)


def _check_number(item: PromptItem, answer_text: str) -> CheckResult:
    found = grouping.final_answer(answer_text)
    if found is None or not re.search(r"\d", found):  # nothing, \boxed{}, "I am not sure."
        return CheckResult(False, None, "no number in the answer")
    value = _number_in(found)
    expected = parse_number(str(item.answer))
    assert expected is not None  # parse_prompt_set only makes number items of numbers
    if value is None:
        return CheckResult(False, found, f"expected {item.answer}, got {found!r}")
    ok = abs(value - float(expected)) <= max(item.tolerance, 1e-9 * abs(float(expected)))
    return CheckResult(ok, found, "correct" if ok else f"expected {item.answer}, got {found}")


def _check_text(item: PromptItem, answer_text: str) -> CheckResult:
    keys = {_normalise(str(item.answer)), *(_normalise(a) for a in item.accept)} - {""}
    boxed = last_boxed(answer_text)
    if boxed is not None:
        shown = _LATEX_WRAP.sub(r"\1", boxed).strip()
        ok = _normalise(boxed) in keys
        return CheckResult(ok, shown, "correct" if ok else f"expected {item.answer}, got {shown}")
    # Unboxed: the last line must be the answer itself ("Carol", "Answer: Carol"); a line
    # that merely mentions it ("Alice, Bob and Carol...") names the distractors too.
    lines = [ln for ln in answer_text.splitlines() if _normalise(ln)]
    if not lines:
        return CheckResult(False, None, "the answer is empty")
    last = _ANSWER_LEAD.sub("", _normalise(lines[-1]))
    ok = last in keys
    return CheckResult(
        ok, lines[-1].strip(), "correct" if ok else f"expected {item.answer}, got {lines[-1]!r}"
    )


def last_code_block(text: str) -> str | None:
    """The last fenced code block that is Python (or has no language tag)."""
    blocks = [
        body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "py3")
    ]
    return blocks[-1] if blocks else None


RUN_SCRIPT_FLAG = "--run-python-script"  # the frozen app's stand-in for `python -I FILE`


def python_command(script: Path) -> list[str]:
    """How to run a Python file in a fresh interpreter, from source or from the bundle."""
    if getattr(sys, "frozen", False):
        return [sys.executable, RUN_SCRIPT_FLAG, str(script)]
    return [sys.executable, "-I", str(script)]


def run_code_test(code: str, test: str, time_limit_s: float) -> CheckResult:
    """Run the model's ``code`` then ``test`` in a separate Python (``-I``: no user site,
    no PYTHON* variables, no current directory on the path) in a scratch folder; killed at
    the limit. It runs with the user's permissions: this is running the model's code, not
    sandboxing it (the prompt sets ask for small pure functions).

    A separate process because the model's code may loop forever, exit, or crash; its own
    session so that any processes it starts are killed with it. In the frozen app
    ``sys.executable`` is Ponder itself, which runs a script given after ``RUN_SCRIPT_FLAG``.
    """
    with tempfile.TemporaryDirectory(prefix="ponder-check-") as tmp:
        script = Path(tmp) / "solution_test.py"
        script.write_text(f"{code}\n\n# --- test ---\n{test}\n", encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8"}
        if sys.platform == "win32":
            env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
        proc = subprocess.Popen(
            python_command(script),
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=sys.platform != "win32",
        )
        try:
            _, err = proc.communicate(timeout=time_limit_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return CheckResult(False, None, f"timed out after {time_limit_s:g} s")
    if proc.returncode == 0:
        return CheckResult(True, None, "tests passed")
    lines = err.decode("utf-8", "replace").strip().splitlines()
    reason = lines[-1] if lines else f"exit code {proc.returncode}"
    return CheckResult(False, None, f"tests failed: {reason[:200]}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if sys.platform != "win32":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    else:
        proc.kill()
    proc.communicate()


def check_answer(item: PromptItem, answer_text: str) -> CheckResult:
    """Judge a reply's answer (the text after the reasoning) against the item's key."""
    if item.check == "number":
        return _check_number(item, answer_text)
    if item.check == "text":
        return _check_text(item, answer_text)
    if item.check == "code":
        code = last_code_block(answer_text)
        if code is None:
            return CheckResult(False, None, "no Python code block in the answer")
        result = run_code_test(code, item.test, item.time_limit_s)
        first = next((ln for ln in code.splitlines() if ln.strip()), "")
        return CheckResult(result.correct, first.strip()[:80] or None, result.detail)
    return CheckResult(None, final_answer(answer_text), "no answer key")
