"""The command line as someone meets it day to day: an offline search that answers in one
sentence, a model list whose columns line up, help for every option, and a model without
a chat template whose reply ends at the next turn instead of running to the token limit.

Offline means ``HF_ENDPOINT`` at a closed loopback port (the autouse ``ponder_home``
fixture's), never a real address.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from app.cli.main import build_parser
from tests.integration.cli import ponder
from tests.integration.test_cli_errors import assert_one_clear_line

pytestmark = pytest.mark.integration

OFFLINE = "Cannot reach the Hugging Face Hub (127.0.0.1:9)."


@pytest.mark.parametrize(
    "args",
    [
        ("models", "search", "qwen"),
        ("models", "search", "qwen", "--json"),
        ("models", "search", "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF"),
    ],
)
def test_search_offline_is_one_sentence(args: tuple[str, ...], home: Path) -> None:
    """No retry messages from the HTTP library before it (there were 24 s of them)."""
    r = ponder(*args)
    assert r.code == 1
    assert r.stdout == ""
    line = assert_one_clear_line(r.stderr)
    assert OFFLINE in line and "Check your connection" in line
    assert "Retry" not in r.stderr and "thrown while requesting" not in r.stderr


def _starts(line: str) -> list[int]:
    """Where each column of a table line starts (columns are two or more spaces apart)."""
    return [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]


def test_models_list_columns_line_up(gemma_path: Path, ponder_home: Path, home: Path) -> None:
    models = ponder_home / "models" / "imported"
    models.mkdir(parents=True)
    (models / "gemma.gguf").symlink_to(gemma_path)
    # A stopped download with a longer name: listed as unusable, with its reason under it.
    cut = models / "gemma-3-270m-a-much-longer-name.gguf"
    cut.write_bytes(gemma_path.read_bytes()[: 1 << 20])
    r = ponder("models", "list")
    assert r.code == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["NAME", "QUANT", "SIZE", "FROM", "STATUS", "PATH"]
    table = [line for line in rows if not line.startswith("  ")]
    reasons = [line for line in rows if line.startswith("  ")]
    assert len(table) == 2 and len(reasons) == 1
    cols = _starts(header)
    size_end = header.index("SIZE") + len("SIZE")
    for line in table:
        starts = _starts(line)
        assert len(starts) == len(cols), line
        # Every column starts under its heading, except SIZE: numbers line up on the right.
        assert [s for i, s in enumerate(starts) if i != 2] == [
            c for i, c in enumerate(cols) if i != 2
        ], r.stdout
        assert line[size_end - 1] == "B" and line[size_end] == " ", r.stdout
    unusable = next(line for line in table if "unusable" in line)
    assert "a-much-longer-name" in unusable and str(cut) in unusable
    assert "ready" in next(line for line in table if "imported/gemma " in line)
    assert "truncated" in reasons[0] or "incomplete" in reasons[0], reasons


def _options_without_help(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(" ".join((*path, name)))
                missing += _options_without_help(sub, (*path, name))
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(" ".join((*path, *(action.option_strings or [action.dest]))))
    return missing


def test_every_option_of_every_command_has_help() -> None:
    assert _options_without_help(build_parser(), ("ponder",)) == []


def test_every_option_has_help_outside_chat() -> None:
    missing = _options_without_help(build_parser(), ("ponder",))
    assert [m for m in missing if not m.startswith("ponder chat ")] == []


@pytest.mark.slow
def test_a_model_without_a_template_stops_at_the_next_turn(gemma_path: Path) -> None:
    """The 270M is a base model: with the plain "User:/Assistant:" format it answers, then
    writes "\\nAssistant:" and plays both sides until the token limit, unless stopped."""
    r = ponder(
        "chat", "-m", str(gemma_path), "-p", "Write a short story about a cat.",
        "--temp", "0", "--max-tokens", "200", "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    stats = r.events[-1]["stats"]
    answer = r.text("answer")
    assert stats["stop_reason"] == "eos", (stats, answer)
    assert stats["answer_tokens"] < 200
    assert answer.strip() and "Assistant:" not in answer and "User:" not in answer
