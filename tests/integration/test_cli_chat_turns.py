"""`ponder chat` beyond one happy turn: naming a model, turns that fail, a context that fills,
output to a pipe while typing in a terminal, and input that is not text."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.events import Done
from app.inference.client import EngineClient
from app.inference.protocol import LoadSpec, SamplingParams
from tests.integration.cli import ROOT, ponder
from tests.integration.test_cli_errors import assert_one_clear_line
from tests.integration.test_cli_replay import NEW_TEMPLATE_PROMPT, write_replay

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_a_model_is_named_as_models_list_names_it(
    gemma_path: Path, ponder_home: Path, home: Path
) -> None:
    models = ponder_home / "models"
    models.mkdir(parents=True)
    (models / gemma_path.name).symlink_to(gemma_path)
    listed = ponder("models", "list", "--json")
    (name,) = [m["name"] for m in json.loads(listed.stdout)["models"]]
    r = ponder("chat", "-m", name, "-p", "Hello", "--max-tokens", "4", "--json")
    assert r.code == 0, r.stderr
    assert r.events[-1]["event"] == "done"
    assert r.events[-1]["stats"]["model"] == gemma_path.name


def test_a_catalog_id_not_downloaded_says_how_to_get_it(ponder_home: Path, home: Path) -> None:
    r = ponder("chat", "-m", "r1-distill-qwen-7b", "-p", "hi")
    assert r.code == 2
    assert "ponder models download r1-distill-qwen-7b" in assert_one_clear_line(r.stderr)


def test_a_name_nobody_has_points_to_models_list(ponder_home: Path, home: Path) -> None:
    r = ponder("chat", "-m", "no-such-model", "-p", "hi")
    assert r.code == 2
    assert "ponder models list" in assert_one_clear_line(r.stderr)


@pytest.mark.slow
def test_a_failed_turn_does_not_break_the_turns_after_it(gemma_path: Path) -> None:
    r = ponder(
        "chat",
        "-m",
        str(gemma_path),
        "--ctx",
        "64",
        "--max-tokens",
        "4",
        "--json",
        stdin="word " * 200 + "\nhi\n",
    )
    kinds = [e["event"] for e in r.events]
    assert kinds[0] == "error" and r.events[0]["kind"] == "context_overflow"
    assert kinds[-1] == "done"  # the short second turn was answered
    assert r.code == 2  # the session had bad input


@pytest.mark.slow
def test_a_full_context_says_so_rather_than_the_token_limit(
    gemma_path: Path, ponder_home: Path
) -> None:
    """Through the engine client (ignore_eos keeps the 270M model writing until the 64-token
    context is full; the CLI has no flag for that)."""
    client = EngineClient(ponder_home / "logs" / "engine.log")
    try:
        events = list(
            client.generate(
                LoadSpec(str(gemma_path), n_ctx=64),
                [],
                SamplingParams(seed=1, max_tokens=500, ignore_eos=True),
                raw_prompt="Once upon a time",
            )
        )
    finally:
        client.close()
    done = events[-1]
    assert isinstance(done, Done)
    assert done.stats.stop_reason == "length" and done.stats.limit == "context"


def test_piped_turns_each_open_and_close_their_thinking(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "r.jsonl", NEW_TEMPLATE_PROMPT, ["Hmm.", "</think>", "\n\nFour."]
    )
    r = ponder("chat", "--replay", str(replay), stdin="2+2?\nand again?\n")
    assert r.code == 0, r.stderr
    assert r.stdout == "<think>\nHmm.\n</think>\n\nFour.\n" * 2


def test_typing_in_a_terminal_while_json_goes_to_a_pipe(tmp_path: Path) -> None:
    """stdin is a terminal (a pseudo-terminal here) and stdout a pipe, as in
    `ponder chat --json | jq`: the "> " prompt must not end up in the JSON."""
    replay = write_replay(tmp_path / "r.jsonl", None, ["ok"])
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "chat", "--replay", str(replay), "--json"],
        cwd=ROOT,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    os.write(leader, b"hello\n\x04")  # a line, then Ctrl+D
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    assert proc.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert [e["event"] for e in events] == ["answer", "done"]
    assert b"> " in err


def test_input_that_is_not_utf8_is_refused_in_one_sentence(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", None, ["ok"])
    proc = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--replay", str(replay), "--json"],
        cwd=ROOT,
        input=b"caf\xe9 au lait\n",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "UTF-8" in assert_one_clear_line(proc.stderr.decode())


@pytest.mark.parametrize(("flag", "value"), [("--temp", "nan"), ("--top-p", "2")])
def test_sampling_values_out_of_range_are_usage_errors(flag: str, value: str) -> None:
    r = ponder("chat", "--replay", "x.jsonl", "-p", "hi", flag, value)
    assert r.code == 2
    assert flag in r.stderr and "Traceback" not in r.stderr


def test_a_data_folder_that_cannot_be_written_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("PONDER_HOME", str(not_a_folder))
    r = ponder("hw")
    assert r.code == 1
    line = assert_one_clear_line(r.stderr)
    assert "cannot write to" in line and "PONDER_HOME" in line


def test_empty_input_is_not_taken_for_success(gemma_path: Path) -> None:
    """A script that pipes nothing (say an empty file) to a model learns that nothing was
    asked. (A replay file holds its own prompt: it plays once; see test_cli_replay.py.)"""
    r = ponder("chat", "-m", str(gemma_path), stdin="\n  \n")
    assert r.code == 2
    assert "-p" in assert_one_clear_line(r.stderr)
    assert r.stdout == ""


def test_json_output_ends_with_an_error_event_for_errors_before_the_model_runs(
    tmp_path: Path,
) -> None:
    """A script reading `--json` events gets the reason as an event too, not only on
    stderr: for a missing model, a file that is not a GGUF, and a bad option."""
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("just some text, not a model")
    replay = write_replay(tmp_path / "r.jsonl", None, ["Hello."])
    cases = [
        ("bad_model", ponder("chat", "-m", str(tmp_path / "missing.gguf"), "-p", "hi", "--json")),
        ("bad_model", ponder("chat", "-m", str(not_gguf), "-p", "hi", "--json")),
        (
            "bad_input",
            ponder("chat", "--replay", str(replay), "-p", "hi", "--answer", "5", "--json"),
        ),
    ]
    for kind, r in cases:
        assert r.code == 2, r.stderr
        (event,) = r.events
        assert event["event"] == "error" and event["kind"] == kind
        assert event["message"] in assert_one_clear_line(r.stderr)
