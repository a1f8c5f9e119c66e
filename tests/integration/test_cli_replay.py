"""`ponder chat --replay`: recorded R1 streams through the real engine process and splitter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cli import ROOT, ponder

pytestmark = pytest.mark.integration

NEW_TEMPLATE_PROMPT = "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n"
OLD_TEMPLATE_PROMPT = "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>"

# (name, prompt line or None, chunks, expected reasoning, expected answer)
REPLAYS = [
    (
        "old template: model writes <think>",
        OLD_TEMPLATE_PROMPT,
        ["<th", "ink>\n", "Two plus", " two is four.", "\n</th", "ink>\n\n", "**4**"],
        "Two plus two is four.",
        "**4**",
    ),
    (
        "new template: prompt opened <think>",
        NEW_TEMPLATE_PROMPT,
        ["Two plus two", " is four.\n", "</think>", "\n\n", "The answer is ", "$\\boxed{4}$"],
        "Two plus two is four.",
        "The answer is $\\boxed{4}$",
    ),
    (
        "ordinary model, no tags",
        None,
        ["Paris", " is the", " capital."],
        "",
        "Paris is the capital.",
    ),
    (
        "ends while thinking",
        NEW_TEMPLATE_PROMPT,
        ["Let me", " consider", " every case"],
        "Let me consider every case",
        "",
    ),
    (
        "literal <think> in the answer's code block",
        OLD_TEMPLATE_PROMPT,
        ["<think>", "plan", "</think>", "Use:\n```\n<", "think>x</think>\n```"],
        "plan",
        "Use:\n```\n<think>x</think>\n```",
    ),
    (
        "tag split inside a multi-byte neighbourhood",
        NEW_TEMPLATE_PROMPT,
        ["思考中… 🤔</", "think>", "\n\n答え: 4"],
        "思考中… 🤔",
        "答え: 4",
    ),
]


def write_replay(path: Path, prompt: str | None, chunks: list[str]) -> Path:
    lines = [json.dumps({"prompt": prompt})] if prompt is not None else []
    lines += [json.dumps({"chunk": c}) for c in chunks]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "prompt", "chunks", "reasoning", "answer"), REPLAYS, ids=[r[0] for r in REPLAYS]
)
def test_replay_splits_correctly(
    tmp_path: Path, name: str, prompt: str | None, chunks: list[str], reasoning: str, answer: str
) -> None:
    replay = write_replay(tmp_path / "r.jsonl", prompt, chunks)
    result = ponder("chat", "--replay", str(replay), "-p", "2+2?", "--json")
    assert result.code == 0, result.stderr
    assert (result.text("reasoning"), result.text("answer")) == (reasoning, answer)
    done = result.events[-1]
    assert done["event"] == "done"
    assert done["stats"]["reasoning_tokens"] + done["stats"]["answer_tokens"] == len(chunks)


def test_think_budget_cuts_reasoning_and_the_answer_follows(tmp_path: Path) -> None:
    chunks = ["step 1. ", "step 2. ", "step 3. ", "step 4. ", "</think>", "\n\nDone: 4"]
    replay = write_replay(tmp_path / "r.jsonl", NEW_TEMPLATE_PROMPT, chunks)
    result = ponder("chat", "--replay", str(replay), "-p", "x", "--json", "--think-budget", "2")
    assert result.code == 0, result.stderr
    assert result.text("reasoning") == "step 1. step 2."
    assert result.text("answer") == "Done: 4"
    stats = result.events[-1]["stats"]
    assert stats["stop_reason"] == "think_budget"
    assert stats["thinking_ended_by"] == "think_budget"
    assert stats["reasoning_tokens"] == 2


def test_each_stdin_line_is_a_turn(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", None, ["ok"])
    result = ponder("chat", "--replay", str(replay), "--json", stdin="first\nsecond\nthird\n")
    assert result.code == 0, result.stderr
    assert [e["event"] for e in result.events].count("done") == 3


def test_human_output_shows_thinking_then_answer(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "r.jsonl", NEW_TEMPLATE_PROMPT, ["Hmm.", "</think>", "\n\nFour."]
    )
    result = ponder("chat", "--replay", str(replay), "-p", "2+2?")
    assert result.code == 0
    assert result.stdout == "<think>\nHmm.\n</think>\n\nFour.\n"
    assert "tokens" in result.stderr and "Traceback" not in result.stderr


def test_bad_replay_line_is_one_clear_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chunk": "ok"}\nnot json\n')
    result = ponder("chat", "--replay", str(bad), "-p", "x", "--json")
    assert result.code == 2
    assert "Line 2 of bad.jsonl is not valid JSON" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_replay_without_a_message_plays_the_file(tmp_path: Path) -> None:
    """DESIGN's `ponder chat --replay FILE --json`: no -p, stdin empty (a script, CI)."""
    replay = write_replay(tmp_path / "r.jsonl", NEW_TEMPLATE_PROMPT, ["Hmm.", "</think>", "4"])
    result = ponder("chat", "--replay", str(replay), "--json", stdin="")
    assert result.code == 0, result.stderr
    assert (result.text("reasoning"), result.text("answer")) == ("Hmm.", "4")
    assert [e["event"] for e in result.events].count("done") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="closes file descriptor 0 (POSIX)")
def test_replay_with_stdin_closed_plays_the_file(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", NEW_TEMPLATE_PROMPT, ["Hmm.", "</think>", "4"])
    proc = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--replay", str(replay), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        preexec_fn=lambda: os.close(0),  # the child starts with no stdin at all
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [e["event"] for e in events] == ["reasoning", "answer", "done"]
