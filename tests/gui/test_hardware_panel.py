"""The hardware panel: the verdict ladder, the recommended pick, and live sparklines.

The ladder on this machine (no GPU) is planned from the real probe. Machines this one is
not (a GPU, a tiny or slow computer) are hand-made ``HardwareSnapshot``s, the probe's own
output type, because their hardware cannot be had here.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.gui.viewmodels.ladder_model import NAME, SPEED, VERDICT, LadderModel
from app.gui.views.hardware_panel import HardwarePanel, LadderTable
from app.gui.views.sparkline import Sparkline
from app.gui.workers.monitor_worker import MonitorWorker
from app.hardware.calibration import Calibration
from app.hardware.monitor import GpuSample, MonitorSample
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import catalog_entry, default_quant, load_catalog, shape_from_catalog
from tests.gui.cells import cut_cells, fits

pytestmark = pytest.mark.gui

GB = 10**9
VERDICT_COLUMN = VERDICT
SPEED_COLUMN = SPEED


def machine(
    ram_gb: float, bandwidth_gbs: float, vram_gb: float = 0, gpu_gbs: float = 0
) -> HardwareSnapshot:
    gpus = (
        (GpuInfo("Test GPU", "nvidia", int(vram_gb * GB), int(vram_gb * GB), gpu_gbs * 1e9),)
        if vram_gb
        else ()
    )
    return HardwareSnapshot(
        "Test CPU",
        8,
        16,
        ("avx2",),
        int(ram_gb * GB),
        int(ram_gb * GB),
        gpus,
        disk_free=500 * GB,
        cpu_bandwidth=bandwidth_gbs * 1e9,
        backend="CUDA" if vram_gb else "CPU",
    )


def loaded_table(qtbot: QtBot, hw: HardwareSnapshot | None = None) -> LadderTable:
    model = LadderModel(snapshot=lambda: hw) if hw is not None else LadderModel()
    table = LadderTable(model)
    qtbot.addWidget(table)
    with qtbot.waitSignal(model.ready, timeout=30_000):
        model.refresh()
    return table


def recommended_ids(model: LadderModel) -> list[str]:
    return [
        model.data(model.index(r, 0), LadderModel.IdRole)
        for r in range(model.rowCount())
        if model.data(model.index(r, 0), LadderModel.RecommendedRole)
    ]


@pytest.fixture
def monitor() -> Iterator[MonitorWorker]:
    worker = MonitorWorker(interval_s=0.1)
    yield worker
    worker.stop()


def test_panel_lists_every_catalog_model_with_a_verdict_on_this_machine(qtbot: QtBot) -> None:
    panel = HardwarePanel()
    qtbot.addWidget(panel)
    panel.show()
    model = panel.ladder.model
    qtbot.waitUntil(lambda: model.rowCount() == len(load_catalog()["models"]), timeout=30_000)
    names = [model.index(r, 0).data(Qt.ItemDataRole.AccessibleTextRole) for r in range(8)]
    assert [n.removesuffix(", recommended") for n in names] == [
        e["name"] for e in load_catalog()["models"]
    ]
    verdicts = [model.index(r, VERDICT_COLUMN).data() for r in range(model.rowCount())]
    # No GPU here: every size runs on the CPU or is too large, the 671B certainly so.
    assert all(v.startswith(("CPU only", "Too large")) for v in verdicts), verdicts
    assert verdicts[-1].startswith("Too large")
    summary = panel.machine.text()
    assert "GPU: none found" in summary and "llama.cpp backend: CPU" in summary
    assert "RAM:" in summary and "free of" in summary


def test_the_recommended_row_is_highlighted_and_says_so(qtbot: QtBot) -> None:
    table = loaded_table(qtbot)
    model = table.model
    pick = model.recommended_row
    assert pick is not None  # the 1.5B fits in this machine's 24 GB at least
    base = QApplication.palette().color(QPalette.ColorRole.Base)
    for r in range(model.rowCount()):
        verdict = model.index(r, VERDICT_COLUMN).data()
        background = model.index(r, 0).data(Qt.ItemDataRole.BackgroundRole)
        font = model.index(r, 0).data(Qt.ItemDataRole.FontRole)
        if r == pick:
            assert verdict.endswith("· Recommended")
            assert isinstance(background, QColor) and background != base
            assert isinstance(font, QFont) and font.bold()
        else:
            assert "Recommended" not in verdict and background is None and font is None
    row = model.row_at(pick)
    assert table.status.text().startswith(f"Recommended for this machine: {row.name}")


def test_a_big_gpu_gets_the_largest_model_that_fits_on_it(qtbot: QtBot) -> None:
    table = loaded_table(qtbot, machine(ram_gb=128, bandwidth_gbs=50, vram_gb=80, gpu_gbs=3000))
    assert recommended_ids(table.model) == ["r1-distill-llama-70b"]
    verdict = table.model.index(table.model.recommended_row or 0, VERDICT_COLUMN).data()
    assert verdict.startswith("Fits on GPU")


def test_a_slow_machine_gets_the_smallest_model_that_fits(qtbot: QtBot) -> None:
    """Nothing reaches the usable speed (5 tok/s) at 2 GB/s: the smallest that fits wins."""
    table = loaded_table(qtbot, machine(ram_gb=16, bandwidth_gbs=2))
    assert recommended_ids(table.model) == ["r1-distill-qwen-1.5b"]


def test_a_machine_too_small_for_anything_recommends_nothing_and_says_why(qtbot: QtBot) -> None:
    table = loaded_table(qtbot, machine(ram_gb=1, bandwidth_gbs=20))
    assert recommended_ids(table.model) == []
    assert "No model in the catalog fits" in table.status.text()


def test_ladder_model_passes_qt_model_tester(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    table = loaded_table(qtbot, machine(ram_gb=24, bandwidth_gbs=20))
    qtmodeltester.check(table.model, force_py=True)


def test_engine_sparkline_follows_a_real_process_that_allocates(
    qtbot: QtBot, monitor: MonitorWorker, allocator: subprocess.Popen[str]
) -> None:
    panel = HardwarePanel(monitor=monitor)
    qtbot.addWidget(panel)
    panel.show()
    monitor.set_engine_pid(allocator.pid)
    monitor.start()
    qtbot.waitUntil(lambda: any(v for v in panel.engine.values()), timeout=10_000)
    first = next(v for v in panel.engine.values() if v)
    assert allocator.stdin is not None and allocator.stdout is not None
    allocator.stdin.write("go\n")
    allocator.stdin.flush()
    assert allocator.stdout.readline() == "allocated\n"
    qtbot.waitUntil(
        lambda: (panel.engine.values()[-1] or 0) - (first or 0) >= 290 * 10**6, timeout=10_000
    )
    assert panel.engine.accessibleDescription().startswith("Engine memory: ")
    assert panel.engine.accessibleDescription().endswith("MB")
    assert 0 <= (panel.cpu.values()[-1] or 0) <= 100 and panel.cpu.latest_text.endswith("%")
    assert panel.ram.latest_text.endswith(("MB", "GB"))  # how much depends on the machine
    panel.grab()  # paints every sparkline with real data (Qt warnings would fail the test)


def test_no_engine_shows_as_not_running(qtbot: QtBot, monitor: MonitorWorker) -> None:
    panel = HardwarePanel(monitor=monitor)
    qtbot.addWidget(panel)
    monitor.set_engine_pid(None)
    with qtbot.waitSignal(monitor.sampled, timeout=10_000):
        monitor.start()
    assert panel.engine.latest_text == "not running"
    assert panel.engine.accessibleDescription() == "Engine memory: not running"


def test_without_an_nvidia_driver_the_panel_says_why_and_shows_no_gpu(
    qtbot: QtBot, monitor: MonitorWorker
) -> None:
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present on this machine")
    except pynvml.NVMLError:
        pass
    panel = HardwarePanel(monitor=monitor)
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(monitor.unavailable, timeout=10_000):
        monitor.start()
    qtbot.waitSignal(monitor.sampled, timeout=10_000).wait()
    assert panel.gpu_note.isVisible() and "No NVIDIA GPU" in panel.gpu_note.text()
    assert panel.gpu_lines == {}
    assert monitor.latest is not None and monitor.latest.gpus == ()


def test_gpu_samples_get_their_own_sparklines(qtbot: QtBot) -> None:
    """GPU numbers cannot be sampled here, so the samples are hand-made."""
    panel = HardwarePanel()
    qtbot.addWidget(panel)
    for used, util in ((2 * GB, 10.0), (6 * GB, None)):
        panel.feed(
            MonitorSample(
                at=0.0,
                cpu_percent=50.0,
                ram_used=8 * GB,
                ram_total=32 * GB,
                gpus=(GpuSample(0, "RTX 4090", used, 24 * GB, util),),
                engine_pid=1,
                engine_rss=GB,
                engine_vram=5 * GB,
            )
        )
    vram, load = panel.gpu_lines[0]
    assert vram.title == "GPU 0 memory (RTX 4090)" and vram.latest_text == "6.00 GB"
    assert load.values() == [10.0, None] and load.latest_text == "—"
    assert panel.engine.latest_text == "6.00 GB"  # RAM and VRAM together


def test_sparkline_draws_its_line_in_the_accent_colour(qtbot: QtBot) -> None:
    spark = Sparkline("CPU", lambda v: f"{v:.0f}%", maximum=100)
    qtbot.addWidget(spark)
    spark.resize(200, 60)
    accent = spark.palette().color(QPalette.ColorRole.Highlight)

    def accent_pixels() -> int:
        image = spark.grab().toImage()
        return sum(
            1
            for x in range(0, image.width(), 2)
            for y in range(0, image.height(), 2)
            if _close(image.pixelColor(x, y), accent)
        )

    empty = accent_pixels()
    for v in (20, 90, 40, 100, 70):
        spark.add(v)
    assert accent_pixels() > empty
    assert spark.latest_text == "70%" and spark.accessibleDescription() == "CPU: 70%"


def _close(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 60


def test_reset_measurements_forgets_the_measured_speeds(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Compare run on a busy machine left the 1.5B "measured" at 0.3 tok/s; the Hardware
    window says where that figure came from and forgets it on request."""
    hw = machine(ram_gb=64, bandwidth_gbs=50)
    entry = catalog_entry("r1-distill-qwen-1.5b")
    Calibration.load().record(hw, shape_from_catalog(entry, default_quant(entry)), 0, [0.3])
    model = LadderModel(snapshot=lambda: hw)
    panel = HardwarePanel(ladder=model)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(model.ready, timeout=30_000):
        model.refresh()
    row = next(r for r in range(model.rowCount()) if model.row_at(r).id == entry["id"])
    speed = model.index(row, SPEED_COLUMN)
    assert model.data(speed) == "0.3 tok/s measured"
    assert panel.reset_measurements.isEnabled()
    assert "1 benchmark run here" in panel.measured_note.text()

    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: next(answers))
    qtbot.mouseClick(panel.reset_measurements, Qt.MouseButton.LeftButton)  # "No": kept
    assert Calibration.default_path().exists() and panel.reset_measurements.isEnabled()

    with qtbot.waitSignal(model.ready, timeout=30_000):
        qtbot.mouseClick(panel.reset_measurements, Qt.MouseButton.LeftButton)
    assert not Calibration.default_path().exists()
    assert "measured" not in model.data(speed)
    predicted = model.row_at(row).plan.speed
    assert predicted is not None and model.data(speed) == str(predicted)
    assert predicted.low > 1  # the bandwidth's prediction, not the busy run's 0.3
    assert not panel.reset_measurements.isEnabled()
    assert panel.measured_note.text().startswith("Speeds are predicted")


def same(hw: HardwareSnapshot) -> HardwareSnapshot:
    return hw


def test_names_show_what_differs_and_nothing_is_cut(qtbot: QtBot, app_font: QApplication) -> None:
    """Rows read "DeepSe…ama 8B" / "DeepSe…en3 8B": every name began with "DeepSeek-R1
    Distill", cut where they differ. The shared start is the heading now, the rest of each
    name is shown whole, its full name in the tooltip; verdicts and speeds are not cut,
    on a GPU machine either (longer verdicts), in the Hardware window's 900 px."""
    for hw in (machine(ram_gb=24, bandwidth_gbs=20), machine(64, 50, vram_gb=12, gpu_gbs=400)):
        panel = HardwarePanel(ladder=LadderModel(snapshot=functools.partial(same, hw)))
        qtbot.addWidget(panel)
        panel.resize(900, 640)
        panel.show()
        qtbot.waitExposed(panel)
        model, view = panel.ladder.model, panel.ladder.view
        with qtbot.waitSignal(model.ready, timeout=30_000):
            model.refresh()
        assert model.headerData(NAME, Qt.Orientation.Horizontal) == "DeepSeek-R1 model"
        names = [model.index(r, NAME).data() for r in range(model.rowCount())]
        assert names[:4] == [
            "Distill Qwen 1.5B",
            "Distill Qwen 7B",
            "Distill Llama 8B",
            "R1-0528 Qwen3 8B",
        ]
        qwen7 = model.index(1, NAME)
        assert fits(view, qwen7)
        assert qwen7.data(Qt.ItemDataRole.ToolTipRole).startswith("DeepSeek-R1 Distill Qwen 7B ")
        assert cut_cells(view, [NAME, VERDICT, SPEED]) == []
        assert not view.horizontalScrollBar().isVisible()
