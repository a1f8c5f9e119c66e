"""`ponder bench` with the real 270M model (twice, under two names) through the real engine.

The 270M is a base model without a chat template, so its answers are wrong; what is checked
is that every measure is there and sensible, that models run one at a time in fresh
engine processes, that runs are saved and reopen, and that `ponder fit` then says
"measured".
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.core.bench_report import list_runs, load_run
from app.core.prompt_sets import PromptItem, PromptSet, load_prompt_set
from app.inference.bench import BenchEvent, BenchProgress, run_bench
from tests.integration.cli import Result, ponder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEASURES = (
    "load_s",
    "ttft_s",
    "first_answer_token_s",
    "reasoning_tokens",
    "answer_tokens",
    "decode_tok_s",
    "prefill_tok_s",
    "peak_ram_bytes",
    "peak_vram_bytes",
)


@pytest.fixture(scope="module")
def two_models(gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    copy = tmp_path_factory.mktemp("models") / "gemma-copy.gguf"
    try:
        os.link(gemma_path, copy)
    except OSError:  # another file system: a real copy then
        copy.write_bytes(gemma_path.read_bytes())
    return [gemma_path, copy]


@pytest.fixture(scope="module")
def bench_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ponder-home")


@pytest.fixture(scope="module")
def bench(two_models: list[Path], bench_home: Path) -> tuple[Result, dict[str, Any]]:
    """One `ponder bench` of both models, shared by the tests below (it is the slow part)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PONDER_HOME", str(bench_home))
        r = ponder(
            "bench",
            *map(str, two_models),
            "--runs",
            "2",
            "--max-tokens",
            "16",
            "--json",
        )
    assert r.code == 0, r.stderr
    return r, json.loads(r.stdout)


def test_every_measure_is_reported_for_both_models(
    bench: tuple[Result, dict[str, Any]], two_models: list[Path]
) -> None:
    _, report = bench
    assert [m["path"] for m in report["models"]] == [str(p.resolve()) for p in two_models]
    n_prompts = len(load_prompt_set("quick").items)
    for model in report["models"]:
        assert model["error"] is None
        s = model["summary"]
        assert set(s) == set(MEASURES)
        for name in MEASURES:
            if name == "peak_vram_bytes":
                continue
            spread = s[name]
            assert spread["min"] <= spread["median"] <= spread["max"], name
        assert s["load_s"]["n"] == 2  # one load per run
        assert s["decode_tok_s"]["n"] == 2 * n_prompts
        assert 0 < s["load_s"]["median"] < 60
        assert 0 < s["ttft_s"]["median"] <= s["first_answer_token_s"]["median"]
        assert s["decode_tok_s"]["median"] > 0
        assert s["prefill_tok_s"]["median"] > 0
        assert s["reasoning_tokens"]["median"] + s["answer_tokens"]["max"] <= 16
        # The model file alone is 253 MB; the engine process holds it and its context.
        assert 200e6 < s["peak_ram_bytes"]["median"] < 4e9
        # No GPU here: VRAM is not a number, and the report says why.
        assert s["peak_vram_bytes"] is None
        assert "CPU only" in model["vram_note"]
        assert model["accuracy"]["checked"] == 2 * n_prompts
        assert set(model["answers"]) == {i.id for i in load_prompt_set("quick").items}
        assert model["backend"] == "CPU" and model["n_ctx"] > 0


def test_models_run_one_at_a_time_in_fresh_engines(bench: tuple[Result, dict[str, Any]]) -> None:
    _, report = bench
    pids = [run["engine_pid"] for m in report["models"] for run in m["runs"]]
    assert len(pids) == 4 and len(set(pids)) == 4  # a new engine process for every load
    assert not any(psutil.pid_exists(p) for p in pids)  # and each one gone: memory released


def test_progress_is_shown_while_it_runs(bench: tuple[Result, dict[str, Any]]) -> None:
    r, _ = bench
    lines = r.stderr.splitlines()
    assert "[1/2] gemma-3-270m-q4_k_m.gguf warm-up: loading" in lines
    assert any(
        ln.startswith("[2/2] gemma-copy.gguf run 2/2 prompt 5/5 palindrome: ") for ln in lines
    )
    assert any(ln.startswith("[2] gemma-copy.gguf: done, decode ") for ln in lines)
    first_done = next(i for i, ln in enumerate(lines) if ln.startswith("[1] "))
    second_start = next(i for i, ln in enumerate(lines) if ln.startswith("[2/2]"))
    assert first_done < second_start  # one model after the other


def test_the_run_is_saved_and_reopens(
    bench: tuple[Result, dict[str, Any]], bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, report = bench
    monkeypatch.setenv("PONDER_HOME", str(bench_home))
    saved = list_runs()
    assert [str(s.path) for s in saved] == [report["saved"]]
    again = load_run(saved[0].path).to_json()
    assert again["models"][1]["summary"] == report["models"][1]["summary"]
    shown = ponder("bench", "--open", report["saved"])
    assert shown.code == 0 and "gemma-copy.gguf" in shown.stdout and "Decode tok/s" in shown.stdout


def test_replies_too_short_to_time_do_not_calibrate_the_predictions(
    bench: tuple[Result, dict[str, Any]], gemma_path: Path, bench_home: Path
) -> None:
    """The shared bench writes 16-token replies: too short to say how fast a model decodes
    (one noisy run used to set every estimate), so `fit` still predicts, not 'measured'.
    (The measured path itself: tests/unit/test_calibration.py.)"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PONDER_HOME", str(bench_home))
        text = ponder("fit", str(gemma_path))
        as_json = ponder("fit", str(gemma_path), "--json")
    assert text.code == 0, text.stderr
    assert "CPU only, ~" in text.stdout and "measured" not in text.stdout, text.stdout
    assert as_json.code == 0, as_json.stderr
    assert json.loads(as_json.stdout).get("measured") is None


def test_cancel_keeps_what_was_measured(gemma_path: Path) -> None:
    """The runner's own API, as the app's compare view drives it: callbacks and a cancel
    event. Cancelling as run 1 starts loading keeps the warm-up's model and stops."""
    cancel = threading.Event()
    seen: list[BenchEvent] = []

    def on_event(event: BenchEvent) -> None:
        seen.append(event)
        if isinstance(event, BenchProgress) and event.phase == "load" and event.run == 1:
            cancel.set()

    report = run_bench(
        [gemma_path],
        PromptSet.single("Count to three."),
        runs=3,
        max_tokens=8,
        on_event=on_event,
        cancel=cancel,
        record_calibration=False,
    )
    assert report.cancelled
    assert len(report.models) == 1 and report.models[0].error is None
    assert report.models[0].runs == []
    assert any(isinstance(e, BenchProgress) and e.record is not None for e in seen)  # warm-up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.gguf",), "ponder: No model file at missing.gguf."),
        (("{model}", "--prompt-set", "nope"), "ponder: No prompt set called nope."),
        (("{model}", "--prompt-set", "{bad}"), "ponder: bad.json is not valid JSON"),
        (("{model}", "--export", "out.txt"), "ponder: Cannot export a bench report as out.txt."),
        ((), "ponder: Name at least one model to benchmark."),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: tuple[str, ...], message: str, gemma_path: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    r = ponder("bench", *(a.format(model=gemma_path, bad=bad) for a in args))
    assert r.code == 2
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_replay_files_stand_in_for_models(tmp_path: Path) -> None:
    """Replay files (recorded model output, see DESIGN.md) run through the same bench: the
    measures and the answer check work without a model, and no calibration is recorded."""
    replays = []
    for name, answer in (("right", "138"), ("wrong", "148")):
        path = tmp_path / f"{name}.jsonl"
        chunks = ["<think>\n", "288 - 150 ", "\n</think>\n\n", f"$\\boxed{{{answer}}}$"]
        path.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks))
        replays.append(path)
    r = ponder("bench", *map(str, replays), "--runs", "1", "--no-save", "--json")
    assert r.code == 0, r.stderr
    report = json.loads(r.stdout)
    cookies = [
        next(g for g in m["runs"][0]["generations"] if g["prompt_id"] == "cookies")
        for m in report["models"]
    ]
    assert [g["correct"] for g in cookies] == [True, False]
    assert all(g["reasoning_tokens"] > 0 and g["answer_tokens"] > 0 for g in cookies)
    assert not (Path(os.environ["PONDER_HOME"]) / "cache" / "speed-calibration.json").exists()
    assert "12 trays of 24 cookies" in report["prompts"]["cookies"]  # each question asked


def test_a_reply_cut_off_by_cancel_is_neither_judged_nor_measured(tmp_path: Path) -> None:
    """Cancel mid-reply: that reply had no chance to answer, so it is not counted wrong,
    and its partial timings stay out of the figures (and the speed calibration)."""
    slow = tmp_path / "slow.jsonl"
    chunks = ["<think>\n", *[f"step {i}. " for i in range(400)], "\n</think>\n\n", "$\\boxed{138}$"]
    lines = [{"tokens_per_s": 100}, *({"chunk": c} for c in chunks)]
    slow.write_text("".join(json.dumps(line) + "\n" for line in lines))
    cancel = threading.Event()

    def on_event(event: BenchEvent) -> None:
        if isinstance(event, BenchProgress) and event.run == 1 and (event.tokens or 0) >= 20:
            cancel.set()

    report = run_bench(
        [slow],
        PromptSet("one", "", (PromptItem("sum", "What is 288 - 150?", "number", 138),)),
        runs=2,
        max_tokens=4096,
        on_event=on_event,
        cancel=cancel,
        record_calibration=False,
    )
    (model,) = report.models
    (run,) = model.runs
    (reply,) = run.generations
    assert reply.stop_reason == "stopped" and reply.correct is None
    assert model.accuracy() == (0, 0)  # not "0/1 correct"
    assert model.values("decode_tok_s") == []


def test_bench_with_samples_reports_majority_beside_single_sample_correctness(
    tmp_path: Path,
) -> None:
    """Think N ways in a comparison: a recorded group of six where four samples are right.
    The majority's answer is judged (right), and each sample on its own (4 of 6)."""
    group = tmp_path / "group.jsonl"
    lines = []
    for i, answer in enumerate(["138", "138", "148", "138", "128", "138"]):
        for chunk in ("<think>\n", "288 - 150 ", "\n</think>\n\n", f"$\\boxed{{{answer}}}$"):
            lines.append(json.dumps({"chunk": chunk, "sample": i}))
    group.write_text("\n".join(lines) + "\n")
    sets = tmp_path / "one.json"
    sets.write_text(
        json.dumps(
            {
                "name": "one",
                "prompts": [{"id": "cookies", "prompt": "What is 288 - 150?", "answer": 138}],
            }
        )
    )
    r = ponder(
        "bench", str(group), "--prompt-set", str(sets), "--runs", "1", "--samples", "6",
        "--no-save", "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    (model,) = json.loads(r.stdout)["models"]
    gen = model["runs"][0]["generations"][0]
    assert gen["correct"] is True and gen["final_answer"] == "138"
    assert gen["samples"] == 6 and gen["samples_correct"] == 4
    assert model["accuracy"]["majority"] == {"correct": 1, "checked": 1}
    assert model["accuracy"]["single_sample"] == {"correct": 4, "checked": 6}

    text = ponder(
        "bench", str(group), "--prompt-set", str(sets), "--runs", "1", "--samples", "6",
        "--no-save",
    )  # fmt: skip
    assert text.code == 0, text.stderr
    assert "1/1 by majority; 4/6 (67%) single samples" in text.stdout
