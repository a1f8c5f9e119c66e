"""The Compare window: real benches of the real 270M model under two names, the measures,
charts, exports and saved runs a user sees, cancelling, and Run's preconditions.

Runs of the real model are kept tiny (one short prompt, a few tokens, one run); replay
files (recorded R1-style output, see DESIGN.md) stand in for models that think and answer,
which the 270M base model does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCharts import QLegend, QScatterSeries
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.core.bench_report import BenchReport, GenerationRecord, ModelResult, RunRecord
from app.gui.render.math import MathRenderer
from app.gui.theme import apply_theme
from app.gui.views.compare_charts import CompareCharts, SizeChart, model_colour
from app.gui.views.compare_view import PATH_ROLE, CompareWindow
from app.gui.workers.bench_worker import Prediction
from app.inference.lease import EngineLease, Holder
from tests.integration.cli import ponder

pytestmark = pytest.mark.gui

RUN_TIMEOUT_MS = 240_000


@pytest.fixture
def math() -> Iterator[MathRenderer]:
    renderer = MathRenderer()
    yield renderer
    renderer.deleteLater()


@pytest.fixture
def window(qtbot: QtBot, math: MathRenderer) -> CompareWindow:
    win = CompareWindow(math, lease=EngineLease(), scan=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def two_models(gemma_path: Path, tmp_path: Path) -> list[Path]:
    """The 270M model and the same file under a second name."""
    copy = tmp_path / "gemma-copy.gguf"
    try:
        os.link(gemma_path, copy)
    except OSError:
        copy.write_bytes(gemma_path.read_bytes())
    return [gemma_path, copy]


def ask(window: CompareWindow, prompt: str, *, max_tokens: int, runs: int = 1) -> None:
    setup = window.setup
    setup.prompt_source.setCurrentIndex(setup.prompt_source.findData(""))
    setup.custom_prompt.setPlainText(prompt)
    setup.runs.setValue(runs)
    setup.max_tokens.setValue(max_tokens)


def saved_runs(window: CompareWindow) -> list[str]:
    """The paths behind the "Past runs" list, top to bottom."""
    items = [window.past_runs.item(i) for i in range(window.past_runs.count())]
    return [str(i.data(PATH_ROLE)) for i in items if i.data(PATH_ROLE)]


def measured_points(chart: SizeChart) -> dict[str, QPointF]:
    return {s.name(): s.points()[0] for s in chart.measured_series() if s.count()}


def test_run_needs_two_to_six_models_and_a_prompt(window: CompareWindow, tmp_path: Path) -> None:
    setup = window.setup
    assert not setup.run_button.isEnabled()
    assert "at least 2 models" in setup.reason.text()
    window.add_model_paths([tmp_path / "a.gguf"])
    assert not setup.run_button.isEnabled()
    assert "(1 ticked)" in setup.reason.text()
    window.add_model_paths([tmp_path / "b.gguf"])
    assert setup.run_button.isEnabled()
    assert not setup.reason.isVisible()

    ask(window, "", max_tokens=8)
    assert not setup.run_button.isEnabled()
    assert "Write a prompt" in setup.reason.text()
    setup.custom_prompt.setPlainText("Why is the sky blue?")
    assert setup.run_button.isEnabled()

    window.add_model_paths([tmp_path / f"{c}.gguf" for c in "cdefg"])
    assert not setup.run_button.isEnabled()
    assert "at most 6" in setup.reason.text()


def test_a_missing_model_file_is_one_clear_sentence(
    qtbot: QtBot, window: CompareWindow, gemma_path: Path, tmp_path: Path
) -> None:
    window.add_model_paths([gemma_path, tmp_path / "gone.gguf"])
    ask(window, "Hi", max_tokens=4)
    window.setup.run_button.click()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=60_000)
    status = window.setup.status.text()
    assert "No model file at" in status and "gone.gguf" in status
    assert "Traceback" not in status
    assert window.setup.run_button.isEnabled()


def test_two_model_run_shows_answers_measures_charts_and_reopens(
    qtbot: QtBot, window: CompareWindow, two_models: list[Path], tmp_path: Path
) -> None:
    window.add_model_paths(two_models)
    ask(window, "Name three colours.", max_tokens=8)
    window.setup.run_button.click()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=RUN_TIMEOUT_MS)
    names = [p.name for p in two_models]
    report = window.report
    assert report is not None and not report.cancelled
    assert "Done: 2 models compared" in window.setup.status.text()

    # Columns: one per model, its name, and the answer the model wrote.
    columns = window.columns.columns
    assert [c.name.text() for c in columns] == names
    for column, result in zip(columns, report.models, strict=True):
        assert len(column.replies) == 1
        answer = result.runs[-1].generations[0].answer_text
        assert answer.strip()
        assert column.replies[0].answer.toPlainText().strip()
        assert not column.replies[0].thinking.is_open()

    # The measures table: a row per model with its measured decode speed.
    header = window.table.horizontalHeaderItem
    headers = [h.text() if (h := header(c)) else "" for c in range(window.table.columnCount())]
    rows = window.table.cell_texts()
    assert [r[0] for r in rows] == names
    decode = headers.index("Decode tok/s")
    assert all(r[decode] not in ("", "-") for r in rows)

    # The charts: a measured point per model at its median, a prediction beside each.
    speed = measured_points(window.charts.speed)
    assert set(speed) == set(names)
    for m in report.models:
        median = m.summary()["decode_tok_s"]
        assert median is not None
        assert speed[m.name].y() == pytest.approx(median.median)
    assert set(measured_points(window.charts.memory)) == set(names)
    prediction = window.charts.speed.prediction_series()
    assert prediction is not None and prediction.count() == 2

    # Saved, listed under "Past runs", and reopened with the same numbers.
    qtbot.waitUntil(lambda: saved_runs(window) == [window.report_path])
    assert window.report_path.endswith(".json")
    assert names[0] in window.past_runs.item(0).text()
    window.columns.clear()
    window.table.clear()
    with qtbot.waitSignal(window.report_shown, timeout=30_000):
        window.past_runs.itemActivated.emit(window.past_runs.item(0))
    assert window.report is not report  # read back from the file
    assert window.table.cell_texts() == rows
    assert [c.name.text() for c in window.columns.columns] == names

    # Exports: each format names both models.
    for suffix in (".csv", ".json", ".md"):
        target = tmp_path / f"export{suffix}"
        with qtbot.waitSignal(window.exported, timeout=30_000):
            window.export_to(target)
        text = target.read_text(encoding="utf-8")
        assert all(name in text for name in names), suffix
    data = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in data["models"]] == names


def test_a_run_saved_by_ponder_bench_opens_with_the_same_numbers(
    qtbot: QtBot, math: MathRenderer, two_models: list[Path]
) -> None:
    """The command line and the window share the saved runs (PONDER_HOME)."""
    args = [str(p) for p in two_models]
    result = ponder("bench", *args, "--runs", "3", "--max-tokens", "8", "-p", "Hi", "--json")
    assert result.code == 0, result.stderr
    cli = json.loads(result.stdout)
    win = CompareWindow(math, lease=EngineLease(), scan=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: saved_runs(win) == [cli["saved"]])
    with qtbot.waitSignal(win.report_shown, timeout=30_000):
        win.open_run(cli["saved"])
    rows = win.table.cell_texts()
    assert [r[0] for r in rows] == [p.name for p in two_models]
    for row, model in zip(rows, cli["models"], strict=True):
        decode = model["summary"]["decode_tok_s"]
        assert row[6].startswith(f"{decode['median']:.1f} ({decode['min']:.1f}-")
    speed = measured_points(win.charts.speed)
    assert [speed[m["name"]].y() for m in cli["models"]] == pytest.approx(
        [m["summary"]["decode_tok_s"]["median"] for m in cli["models"]]
    )


def test_cancel_mid_run_stops_and_says_so(
    qtbot: QtBot, window: CompareWindow, two_models: list[Path]
) -> None:
    window.add_model_paths(two_models)
    ask(window, "Write a very long story about a lighthouse.", max_tokens=2048, runs=3)
    window.setup.run_button.click()
    qtbot.waitUntil(lambda: "tokens" in window.setup.status.text(), timeout=RUN_TIMEOUT_MS)
    window.setup.cancel_button.click()
    assert "Cancelling" in window.setup.status.text()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=60_000)
    report = window.report
    assert report is not None and report.cancelled
    assert "Cancelled" in window.setup.status.text()
    assert "cancelled" in window.title.text()
    finished_runs = sum(len(m.runs) for m in report.models)
    assert finished_runs < 2 * 3
    assert window.setup.run_button.isEnabled()


def test_export_with_an_unknown_extension_is_refused(
    qtbot: QtBot, window: CompareWindow, tmp_path: Path
) -> None:
    window.show_report(report_of_sizes([1.5e9]), {})
    with qtbot.waitSignal(window.files.failed, timeout=10_000):
        window.export_to(tmp_path / "table.txt")
    assert "Use a name ending in .csv, .md or .json" in window.setup.status.text()
    assert not (tmp_path / "table.txt").exists()


def test_reopening_a_file_that_is_not_a_run_says_so(
    qtbot: QtBot, window: CompareWindow, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}', encoding="utf-8")
    with qtbot.waitSignal(window.files.failed, timeout=10_000):
        window.open_run(bad)
    assert "is not a Ponder bench report" in window.setup.status.text()


def report_of_sizes(sizes: list[float]) -> BenchReport:
    """A saved-run shaped report: one model per size, decode speed falling with size."""
    models = []
    for i, size in enumerate(sizes):
        runs = [
            RunRecord(
                run=r,
                load_s=1.0,
                peak_ram_bytes=int(size * 1.1) + r * 10_000_000,
                generations=[
                    GenerationRecord(
                        "p", r, answer_tokens=10, decode_tok_s=100e9 / size + r, answer_text="x"
                    )
                ],
            )
            for r in (1, 2, 3)
        ]
        models.append(
            ModelResult(
                path=f"/m/model-{i}.gguf", name=f"model-{i}", file_bytes=int(size), runs=runs
            )
        )
    return BenchReport("quick", 3, 256, 0, models=models)


def test_charts_render_offscreen_with_predictions_beside(qtbot: QtBot) -> None:
    sizes = [1.1e9, 4.7e9, 9.0e9]
    report = report_of_sizes(sizes)
    predictions = {
        m.path: Prediction(m.path, 80e9 / s, 120e9 / s, int(s * 1.2), "cpu")
        for m, s in zip(report.models, sizes, strict=True)
    }
    charts = CompareCharts()
    qtbot.addWidget(charts)
    charts.resize(900, 360)
    charts.show()
    qtbot.waitExposed(charts)
    charts.show_report(report, predictions)

    points = measured_points(charts.speed)
    assert [round(points[f"model-{i}"].x(), 1) for i in range(3)] == [1.1, 4.7, 9.0]
    assert points["model-0"].y() > points["model-1"].y() > points["model-2"].y()
    prediction = charts.speed.prediction_series()
    assert prediction is not None
    mids = [p.y() for p in prediction.points()]
    assert mids == pytest.approx([100e9 / s for s in sizes])
    assert all(p.x() > s / 1e9 for p, s in zip(prediction.points(), sizes, strict=True))
    memory = charts.memory.prediction_series()
    assert memory is not None and memory.count() == 3

    image = charts.speed.grab().toImage()
    chart = charts.speed.chart()
    series = next(s for s in charts.speed.measured_series() if s.name() == "model-1")
    assert isinstance(series, QScatterSeries)
    at = charts.speed.mapFromScene(chart.mapToScene(chart.mapToPosition(points["model-1"], series)))
    drawn = QColor(image.pixel(at.x(), at.y()))
    expected = model_colour(charts.palette(), 1)
    assert abs(drawn.hue() - expected.hue()) <= 3


def test_charts_follow_a_switch_to_the_dark_theme(
    qtbot: QtBot, window: CompareWindow, app_state: QApplication
) -> None:
    window.show_report(report_of_sizes([1.5e9, 7e9]), {})
    window.tabs.setCurrentIndex(1)
    apply_theme(app_state, "light", app_state.font().pointSize())
    qtbot.waitUntil(lambda: chart_background(window).lightnessF() > 0.9)
    apply_theme(app_state, "dark", app_state.font().pointSize())
    qtbot.waitUntil(lambda: chart_background(window).lightnessF() < 0.3)


def chart_background(window: CompareWindow) -> QColor:
    image = window.charts.speed.grab().toImage()
    return image.pixelColor(6, 6)


def test_closing_a_window_of_its_own_mid_run_stops_the_bench(
    qtbot: QtBot, math: MathRenderer, two_models: list[Path]
) -> None:
    win = CompareWindow(math, lease=EngineLease(), scan=False)
    qtbot.addWidget(win)
    win.show()
    win.add_model_paths(two_models)
    ask(win, "Write a very long story about a lighthouse.", max_tokens=2048, runs=3)
    win.start_run()
    worker = win.worker
    assert worker is not None
    qtbot.waitUntil(lambda: "tokens" in win.setup.status.text(), timeout=RUN_TIMEOUT_MS)
    win.close()
    assert worker.isFinished()


def test_a_run_goes_on_when_the_apps_compare_window_is_closed(
    qtbot: QtBot, math: MathRenderer, two_models: list[Path]
) -> None:
    """Owned by the main window (here a stand-in parent), closing only hides it."""
    owner = QWidget()
    qtbot.addWidget(owner)
    win = CompareWindow(math, lease=EngineLease(), scan=False, parent=owner)
    win.show()
    win.add_model_paths(two_models)
    ask(win, "Write a very long story about a lighthouse.", max_tokens=2048, runs=3)
    win.start_run()
    worker = win.worker
    assert worker is not None
    qtbot.waitUntil(lambda: "tokens" in win.setup.status.text(), timeout=RUN_TIMEOUT_MS)
    win.close()
    assert win.is_running() and not worker.isFinished()
    win.shutdown()
    assert worker.isFinished()


def write_replay(path: Path, reasoning: str, answer: str) -> Path:
    """A replay "model" (see DESIGN.md): recorded R1-style output, thinking then answer."""
    chunks = ["<think>\n", *(w + " " for w in reasoning.split()), "\n</think>\n\n", answer]
    path.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks), encoding="utf-8")
    return path


def test_replay_models_show_folded_thinking_and_right_and_wrong_answers(
    qtbot: QtBot, window: CompareWindow, tmp_path: Path
) -> None:
    """The replay backend stands in for two R1 models (the 270M neither thinks nor
    answers right): the thinking and the answer key's marks are what is checked."""
    right = write_replay(
        tmp_path / "thinks-right.jsonl",
        "12 trays of 24 is 288 cookies; 288 minus 150 sold leaves 138.",
        "There are $\\boxed{138}$ cookies left.",
    )
    wrong = write_replay(tmp_path / "thinks-wrong.jsonl", "288 minus 150 is 148.", "$\\boxed{148}$")
    window.add_model_paths([right, wrong])
    setup = window.setup
    setup.prompt_source.setCurrentIndex(setup.prompt_source.findData("quick"))
    setup.runs.setValue(1)
    setup.run_button.click()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=RUN_TIMEOUT_MS)
    assert window.report is not None and not window.report.cancelled

    columns = window.columns.columns
    assert [c.name.text() for c in columns] == [right.name, wrong.name]
    cookies = [next(r for r in c.replies if r.gen.prompt_id == "cookies") for c in columns]
    for reply in cookies:
        assert reply.thinking.isVisibleTo(window) and not reply.thinking.is_open()
        assert "288" in reply.gen.reasoning_text
    assert [r.gen.correct for r in cookies] == [True, False]
    answer = cookies[0].answer.toPlainText()
    assert "cookies left" in answer and "\\boxed" not in answer  # the formula is drawn
    rows = window.table.cell_texts()
    assert [r[0] for r in rows] == [right.name, wrong.name]


def test_a_run_takes_the_engine_lease_and_frees_the_chats_model_first(
    qtbot: QtBot, math: MathRenderer, tmp_path: Path
) -> None:
    """The engine lease: no run while the chat writes (two engines at once would skew
    every measure, and the speed calibration with them); granted, the chat's model leaves
    memory before the first model loads; a message sent meanwhile is told who has it."""
    lease = EngineLease()
    events: list[str] = []
    lease.on_yield("app", lambda: events.append("chat's model freed"))
    lease.on_change = lambda h: events.append(h.describe() if h is not None else "free")
    win = CompareWindow(math, scan=False, lease=lease)
    qtbot.addWidget(win)
    replays = [write_replay(tmp_path / f"m{i}.jsonl", "hm", "$\\boxed{1}$") for i in (1, 2)]
    win.add_model_paths(replays)
    ask(win, "Hi", max_tokens=4)
    with lease.hold(Holder("chat")):
        win.start_run()
        assert not win.is_running()
        assert win.setup.status.text() == (
            "The chat is using the model: stop it or let it finish first, so that the "
            "measurements are not shared with it."
        )
    win.start_run()
    qtbot.waitUntil(lambda: not win.is_running(), timeout=RUN_TIMEOUT_MS)
    assert win.report is not None and len(win.report.models) == 2
    assert events == [
        "The chat",
        "free",
        "Compare (measuring 2 models)",
        "chat's model freed",  # before anything was measured, while Compare holds it
        "free",
    ]
    with lease.hold(Holder("chat"), timeout_s=0):  # the chat's turn again, at once
        pass


def test_a_finished_model_adds_its_column_and_keeps_the_others(
    qtbot: QtBot, window: CompareWindow
) -> None:
    """While a run goes on, each model's column is added once; the earlier ones (their
    answers already rendered) stay as they are. Another run's results replace them all."""
    report = report_of_sizes([1e9, 2e9, 3e9])
    columns = window.columns
    columns.show_report(BenchReport("quick", 3, 256, 0, models=report.models[:1]))
    first = columns.columns[0]
    columns.show_report(BenchReport("quick", 3, 256, 0, models=report.models[:2]))
    columns.show_report(report)
    assert columns.columns[0] is first
    assert [c.name.text() for c in columns.columns] == ["model-0", "model-1", "model-2"]
    other = report_of_sizes([1e9])
    columns.show_report(other)
    assert [c.result for c in columns.columns] == other.models
    assert columns.columns[0] is not first


def test_a_custom_prompt_card_shows_the_question_and_only_a_clear_final_answer(
    qtbot: QtBot, window: CompareWindow, tmp_path: Path
) -> None:
    """A card said "answer: 23" when the model only echoed "17*23", and no card said what
    was asked. The replay backend stands in for two R1 models: one echoes the question,
    one states a result."""
    echo = write_replay(tmp_path / "echoes.jsonl", "The user asks for 17*23.", "17*23")
    sums = write_replay(tmp_path / "sums.jsonl", "17*20 is 340, 17*3 is 51.", "17*23 = 391")
    window.add_model_paths([echo, sums])
    ask(window, "What is 17*23?", max_tokens=64)
    window.setup.run_button.click()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=RUN_TIMEOUT_MS)
    assert window.report is not None and not window.report.cancelled

    echoed, summed = (c.replies[0] for c in window.columns.columns)
    assert echoed.verdict.text() == "no clear final answer"  # not "answer: 23"
    assert summed.verdict.text() == "answer: 391"
    for card in (echoed, summed):
        assert card.question.isVisibleTo(window)
        assert card.question.text() == "What is 17*23?"
    # A saved run keeps its questions: reopened, the cards ask them again.
    reopened = BenchReport.from_json(window.report.to_json())
    window.show_report(reopened, {})
    assert window.columns.columns[0].replies[0].question.text() == "What is 17*23?"


def test_legend_entries_differ_by_more_than_colour(qtbot: QtBot) -> None:
    """Two copies of one file (LM Studio's and Ponder's) were two legend entries of the
    same name told apart by colour alone. Each model has its own marker shape, in the
    legend too, and a name shared by two models is followed by its folder."""
    report = report_of_sizes([1.1e9, 1.1e9, 4.7e9])
    report.models[0].path = "/home/u/.lmstudio/models/bartowski/model.gguf"
    report.models[1].path = "/home/u/ponder/models/unsloth/model.gguf"
    for m in report.models[:2]:
        m.name = "model"
    charts = CompareCharts()
    qtbot.addWidget(charts)
    charts.resize(900, 360)
    charts.show()
    qtbot.waitExposed(charts)
    charts.show_report(report, {})

    for chart in (charts.speed, charts.memory):
        series = chart.measured_series()
        assert [s.name() for s in series] == ["model (bartowski)", "model (unsloth)", "model-2"]
        assert len({s.markerShape() for s in series}) == 3
        legend = chart.chart().legend()
        assert legend.markerShape() == QLegend.MarkerShape.MarkerShapeFromSeries
        labels = [m.label() for s in series for m in legend.markers(s)]
        assert len(labels) == len(set(labels)) == 3
