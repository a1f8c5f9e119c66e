"""Bench reports: medians and spreads, saving and reopening, CSV / Markdown / JSON exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from app.core.bench_report import (
    BenchReport,
    GenerationRecord,
    ModelResult,
    RunRecord,
    export_report,
    list_runs,
    load_run,
    save_report,
    to_csv,
    to_markdown,
)
from app.core.errors import BadInputError


def gen(run: int, pid: str, rate: float, correct: bool | None, answer: str) -> GenerationRecord:
    return GenerationRecord(
        prompt_id=pid,
        run=run,
        prompt_tokens=20,
        ttft_s=0.1 * run,
        first_answer_token_s=0.5 * run,
        reasoning_tokens=100,
        answer_tokens=10,
        decode_tok_s=rate,
        prefill_tok_s=300.0,
        total_s=3.0,
        stop_reason="eos",
        final_answer=answer,
        correct=correct,
        answer_text=f"\\boxed{{{answer}}}",
    )


@pytest.fixture
def report() -> BenchReport:
    runs = [
        RunRecord(
            run=i,
            engine_pid=1000 + i,
            load_s=1.0 + i,
            peak_ram_bytes=int(5e9) + i,
            generations=[gen(i, "sum", 30.0 + i, True, "4"), gen(i, "name", 20.0 + i, None, "x")],
        )
        for i in (1, 2, 3)
    ]
    model = ModelResult(path="/m/a.gguf", name="a.gguf", backend="CPU", runs=runs)
    failed = ModelResult(path="/m/b.gguf", name="b.gguf", error="llama.cpp could not load b.gguf.")
    return BenchReport(
        prompt_set="quick",
        runs=3,
        max_tokens=64,
        seed=0,
        created="2025-03-01T10:00:00+00:00",
        models=[model, failed],
    )


def test_medians_and_spreads_per_measure(report: BenchReport) -> None:
    s = report.models[0].summary()
    assert s["load_s"] is not None and (s["load_s"].median, s["load_s"].n) == (3.0, 3)
    decode = s["decode_tok_s"]
    assert decode is not None and (decode.min, decode.median, decode.max) == (21.0, 27.0, 33.0)
    assert s["peak_vram_bytes"] is None  # never measured, not zero
    assert report.models[0].accuracy() == (3, 3)
    assert report.models[0].answers()["sum"] == {
        "final_answer": "4",
        "correct": True,
        "correct_runs": 3,
        "runs": 3,
    }


def test_saved_runs_list_newest_first_and_reopen(report: BenchReport, tmp_path: Path) -> None:
    first = save_report(report, tmp_path)
    later = BenchReport("math", 1, 8, 0, created="2025-03-02T09:00:00+00:00")
    later.models = [ModelResult(path="/m/c.gguf", name="c.gguf")]
    second = save_report(later, tmp_path)
    again = save_report(report, tmp_path)  # same second, same models: a new file anyway
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    runs = list_runs(tmp_path)
    assert runs[0].path == second and {r.path for r in runs[1:]} == {first, again}
    assert runs[0].models == ("c.gguf",)
    reopened = load_run(first)
    assert reopened.to_json() == report.to_json()


def test_a_file_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    with pytest.raises(BadInputError, match=r"x\.json is not a Ponder bench report"):
        load_run(bad)
    with pytest.raises(BadInputError, match="No bench run at"):
        load_run(tmp_path / "gone.json")


def test_csv_has_one_row_per_reply_with_its_load(report: BenchReport) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert len(rows) == 6
    assert rows[0]["model"] == "a.gguf" and rows[0]["load_s"] == "2.0"
    assert rows[0]["peak_vram_bytes"] == ""  # unknown, not 0
    assert {r["correct"] for r in rows} == {"True", ""}


def test_markdown_table_shows_medians_and_failures(report: BenchReport) -> None:
    text = to_markdown(report)
    assert "| a.gguf | 3.00 s |" in text
    assert "27.0 (21.0-33.0)" in text
    assert "| b.gguf | failed: llama.cpp could not load b.gguf. |" in text
    assert "| 3/3 |" in text


def test_export_picks_the_format_from_the_extension(report: BenchReport, tmp_path: Path) -> None:
    export_report(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["models"][0]["accuracy"] == {
        "correct": 3,
        "checked": 3,
    }
    export_report(report, tmp_path / "r.md")
    assert (tmp_path / "r.md").read_text().startswith("# Ponder bench")
    with pytest.raises(BadInputError, match=r"as \.txt"):
        export_report(report, tmp_path / "r.txt")
