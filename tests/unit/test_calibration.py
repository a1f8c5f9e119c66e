"""Speed calibration: measured runs replace guesses, for the model and for the machine,
and one bad run (short, or on a busy machine) cannot ruin them.

The machines are hand-made ``HardwareSnapshot``s (the probe's own type) so that bandwidths
and GPUs are known numbers; the shapes are real GGUF headers and catalog entries.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from datetime import datetime
from pathlib import Path

import pytest

from app.core.gguf import read_header
from app.hardware.calibration import (
    ETA_MAX,
    MAX_RUNS,
    MIN_TOKENS,
    Calibration,
    MeasuredSpeed,
    derive_eta,
    machine_fingerprint,
    model_key,
)
from app.hardware.planner import plan
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import (
    ModelShape,
    catalog_entry,
    file_identity,
    shape_from_catalog,
    shape_from_file,
    shape_from_header,
)
from app.hardware.speed import DEFAULT_ETA, SpeedRange, bytes_per_token, format_rate
from tests.gguf_split import kv, layers_gguf, string

GB = 10**9


def machine(cpu: str = "Test CPU", gpu_gb: float = 0) -> HardwareSnapshot:
    gpus = (GpuInfo("Test GPU", "nvidia", int(gpu_gb * GB), int(gpu_gb * GB), 900e9),)
    return HardwareSnapshot(
        cpu,
        8,
        16,
        ("avx2",),
        64 * GB,
        60 * GB,
        gpus if gpu_gb else (),
        cpu_bandwidth=50e9,
        backend="CUDA" if gpu_gb else "CPU",
    )


def today() -> str:
    now = datetime.now().astimezone()
    return f"{now.day} {now:%b}"


@pytest.fixture
def cal(tmp_path: Path) -> Calibration:
    return Calibration([], tmp_path / "calibration.json")


@pytest.fixture(scope="module")
def r1_7b(r1_header_path: Path) -> ModelShape:
    return shape_from_header(read_header(r1_header_path))


def test_a_measured_model_says_measured_with_the_median(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [7.0, 9.0, 8.0], depth=200)
    p = plan(r1_7b, hw, calibration=cal)
    assert p.measured == 8.0
    assert p.summary == f"CPU only, ~8.0 tok/s measured {today()} (1 benchmark, 3 replies)"


def test_measurements_survive_a_restart(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [12.0, 14.0])
    assert cal.path is not None
    again = Calibration.load(cal.path)
    assert again.measured(hw, r1_7b, 0) == 13.0
    assert plan(r1_7b, hw, calibration=again).summary.startswith("CPU only, ~13 tok/s measured")


def test_another_machine_or_placement_is_not_measured(cal: Calibration, r1_7b: ModelShape) -> None:
    cal.record(machine(), r1_7b, 0, [10.0])
    assert cal.measured(machine("Other CPU"), r1_7b, 0) is None
    assert cal.measured(machine(gpu_gb=24), r1_7b, 0) is None  # another engine build / GPU
    assert cal.measured(machine(), r1_7b, 10) is None
    # What is free at the moment does not make it another machine.
    busy = dataclasses.replace(machine(), ram_available=3 * GB)
    assert machine_fingerprint(busy) == machine_fingerprint(machine())
    assert cal.measured(busy, r1_7b, 0) == 10.0


def test_a_bench_of_the_file_makes_the_catalog_entry_measured(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    """The ladder in `ponder hw` plans catalog shapes; the downloaded file is the same model."""
    hw = machine()
    cal.record(hw, r1_7b, 0, [9.5])
    catalog_7b = shape_from_catalog(catalog_entry("r1-distill-qwen-7b"))
    assert cal.measured(hw, catalog_7b, 0) == 9.5
    other_quant = shape_from_catalog(catalog_entry("r1-distill-qwen-7b"), "Q8_0")
    assert cal.measured(hw, other_quant, 0) is None


def test_eta_is_measured_rate_times_bytes_over_bandwidth(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    hw = machine()
    rate = 6.0
    m = cal.record(hw, r1_7b, 0, [rate], depth=300)
    assert m is not None and m.device == "cpu" and m.eta is not None
    _, cpu_bytes = bytes_per_token(r1_7b, 0, 600)
    assert m.eta == pytest.approx(rate * cpu_bytes / 50e9, rel=1e-3)
    # One benchmark moves the machine's eta half-way from the starting value; two agreeing
    # ones outvote it.
    assert cal.eta(hw, "cpu") == pytest.approx((m.eta + DEFAULT_ETA) / 2, rel=1e-3)
    cal.record(hw, r1_7b, 0, [rate], depth=300)
    assert cal.eta(hw, "cpu") == pytest.approx(m.eta, rel=1e-3)
    assert cal.eta(hw, "gpu") == DEFAULT_ETA  # nothing measured on the GPU yet


def test_unmeasured_models_are_predicted_with_the_calibrated_eta(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    hw = machine()
    other = shape_from_catalog(catalog_entry("r1-distill-qwen-14b"))
    before = plan(other, hw, calibration=cal)
    cal.record(hw, r1_7b, 0, [6.0], depth=300)
    after = plan(other, hw, calibration=cal)
    assert before.speed is not None and after.speed is not None
    assert after.measured is None and "measured" not in after.summary
    assert after.speed.mid / before.speed.mid == pytest.approx(
        cal.eta(hw, "cpu") / DEFAULT_ETA, rel=1e-6
    )


def test_eta_is_clamped_when_the_bandwidth_figure_is_off(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [5000.0])  # far beyond what 50 GB/s can feed
    assert cal.eta(hw, "cpu") == ETA_MAX


def test_a_partial_offload_is_measured_but_does_not_set_an_eta(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    hw = machine(gpu_gb=4)
    m = cal.record(hw, r1_7b, 12, [20.0])
    assert m is not None and m.device == "partial" and m.eta is None
    assert derive_eta(r1_7b, hw, 12, 20.0, 100) is None
    assert cal.eta(hw, "gpu") == cal.eta(hw, "cpu") == DEFAULT_ETA
    assert cal.measured(hw, r1_7b, 12) == 20.0


def test_a_gpu_run_calibrates_the_gpu(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine(gpu_gb=24)
    m = cal.record(hw, r1_7b, r1_7b.n_layers + 1, [80.0], depth=100)
    assert m is not None and m.device == "gpu" and m.eta is not None
    gpu_bytes, _ = bytes_per_token(r1_7b, r1_7b.n_layers + 1, 200)
    assert m.eta == pytest.approx(80.0 * gpu_bytes / 900e9, rel=1e-3)
    assert cal.eta(hw, "gpu") == pytest.approx((m.eta + DEFAULT_ETA) / 2, rel=1e-3)
    p = plan(r1_7b, hw, calibration=cal)
    assert p.verdict == "gpu" and p.summary.startswith("Fits on GPU, ~80 tok/s measured")


def test_several_benchmarks_are_kept_and_the_median_of_them_counts(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    """A run on a busy CPU is one vote among the file's last benchmarks, not the figure."""
    hw = machine()
    cal.record(hw, r1_7b, 0, [12.4, 12.8])
    cal.record(hw, r1_7b, 0, [0.3, 0.3, 0.4])  # the busy one
    # Of two, the faster: contention only ever slows a run down.
    assert cal.measured(hw, r1_7b, 0) == pytest.approx(12.6)
    cal.record(hw, r1_7b, 0, [11.0])
    assert cal.measured(hw, r1_7b, 0) == 11.0  # the median of 12.6, 0.3 and 11.0
    found = cal.measurement(hw, r1_7b, 0)
    assert found is not None and (found.runs, found.replies) == (3, 6)
    assert "median of 3 benchmarks" in plan(r1_7b, hw, calibration=cal).summary


def test_only_the_last_benchmarks_of_a_file_are_kept(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    for rate in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0):
        cal.record(hw, r1_7b, 0, [rate])
    assert [m.decode_tok_s for m in cal.measurements] == [(r,) for r in (3.0, 4.0, 5.0, 6.0, 7.0)]
    assert len(cal.measurements) == MAX_RUNS
    assert cal.measured(hw, r1_7b, 0) == 5.0


def test_short_replies_are_not_measurements(cal: Calibration, r1_7b: ModelShape) -> None:
    """A 9-token reply times the start of a reply, not its decode speed."""
    hw = machine()
    assert cal.record(hw, r1_7b, 0, [0.3, 0.2], tokens=[9, MIN_TOKENS - 1]) is None
    assert cal.path is not None and not cal.path.exists()
    assert cal.measured(hw, r1_7b, 0) is None and cal.eta(hw, "cpu") == DEFAULT_ETA
    m = cal.record(hw, r1_7b, 0, [0.3, 12.0, 13.0], tokens=[9, MIN_TOKENS, 700])
    assert m is not None and m.decode_tok_s == (12.0, 13.0) and m.tokens == (MIN_TOKENS, 700)
    assert cal.measured(hw, r1_7b, 0) == 12.5
    assert Calibration.load(cal.path).measurements[0].tokens == (MIN_TOKENS, 700)


def test_two_files_of_one_model_keep_their_own_benchmarks(
    cal: Calibration, r1_7b: ModelShape
) -> None:
    """Another download of the same model used to share its key and overwrite it."""
    hw = machine()
    good = dataclasses.replace(r1_7b, file_id="/models/a/r1-7b.gguf|4683073184")
    other = dataclasses.replace(r1_7b, file_id="/models/b/r1-7b.gguf|4683073184")
    for _ in range(MAX_RUNS):
        cal.record(hw, good, 0, [12.6])
    cal.record(hw, other, 0, [0.3])  # on a busy CPU
    assert len(cal.measurements) == MAX_RUNS + 1
    assert cal.measured(hw, good, 0) == 12.6
    assert cal.measured(hw, other, 0) == 0.3
    # A third copy, or the catalog entry, has none of its own: the model's benchmarks.
    third = dataclasses.replace(r1_7b, file_id="/elsewhere/r1-7b.gguf|4683073184")
    assert cal.measured(hw, third, 0) == 12.6
    assert cal.measured(hw, shape_from_catalog(catalog_entry("r1-distill-qwen-7b")), 0) == 12.6
    assert {m.file for m in Calibration.load(cal.path).measurements} == {
        good.file_id,
        other.file_id,
    }


def test_a_file_is_known_by_where_it_really_is(tmp_path: Path) -> None:
    """Two copies are two files; a link to a file (a Hugging Face cache's) is that file."""
    body = layers_gguf(
        [
            kv("general.architecture", 8, string("llama")),
            kv("llama.block_count", 4, struct.pack("<I", 2)),
            kv("llama.embedding_length", 4, struct.pack("<I", 64)),
            kv("llama.attention.head_count", 4, struct.pack("<I", 4)),
        ],
        2,
    )
    a, b, link = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "link.gguf"
    a.write_bytes(body)
    b.write_bytes(body)
    link.symlink_to(a)
    ids = {p.name: shape_from_file(p).file_id for p in (a, b, link)}
    assert ids["a.gguf"] != ids["b.gguf"]
    assert ids["link.gguf"] == ids["a.gguf"] == file_identity(a)
    assert shape_from_catalog(catalog_entry("r1-distill-qwen-7b")).file_id == ""


def test_a_rate_that_rounds_to_nothing_says_under_a_tenth() -> None:
    assert str(SpeedRange(0.01, 0.03)) == "< 0.1 tok/s"
    assert SpeedRange(0.01, 0.03).approx == "< 0.1 tok/s"
    assert str(SpeedRange(0.04, 0.3)) == "up to 0.3 tok/s"
    assert str(SpeedRange(0.2, 0.4)) == "0.2-0.4 tok/s"
    assert SpeedRange(1.7, 2.8).approx == "~1.7-2.8 tok/s"
    assert format_rate(0.04) == "< 0.1 tok/s" and format_rate(12.6) == "13 tok/s"


def test_no_plan_shows_a_speed_of_zero(cal: Calibration, r1_7b: ModelShape) -> None:
    crawl = dataclasses.replace(machine(), cpu_bandwidth=0.05e9)  # a very slow machine
    p = plan(r1_7b, crawl, calibration=cal)
    assert p.speed is not None and p.speed.high < 0.1
    assert p.summary == "CPU only, < 0.1 tok/s"
    assert "0.0" not in p.summary
    cal.record(crawl, r1_7b, 0, [0.04])
    summary = plan(r1_7b, crawl, calibration=cal).summary
    assert summary.startswith("CPU only, < 0.1 tok/s measured") and "0.0" not in summary


def test_a_measurement_says_when_and_how(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [9.0])
    found = cal.measurement(hw, r1_7b, 0)
    assert found is not None
    assert found.label == f"~9.0 tok/s measured {today()} (1 benchmark, 1 reply)"
    older = MeasuredSpeed(9.0, 2, 8, "2023-03-05T10:00:00+00:00")
    assert older.label == "~9.0 tok/s measured 5 Mar 2023 (median of 2 benchmarks)"


def test_a_version_1_file_still_reads(tmp_path: Path, r1_7b: ModelShape) -> None:
    """What Ponder wrote before files and token counts were kept: benchmarks of the model."""
    hw = machine()
    path = tmp_path / "speed-calibration.json"
    old = {
        "machine": machine_fingerprint(hw),
        "model": model_key(r1_7b),
        "model_name": r1_7b.name,
        "weights_bytes": r1_7b.weights_bytes,
        "gpu_layers": 0,
        "device": "cpu",
        "decode_tok_s": [7.5, 8.5],
        "eta": 0.4,
        "measured_at": "2025-02-01T09:00:00+00:00",
    }
    path.write_text(json.dumps({"version": 1, "measurements": [old]}))
    cal = Calibration.load(path)
    assert cal.measured(hw, r1_7b, 0) == 8.0
    assert cal.eta(hw, "cpu") == pytest.approx((0.4 + DEFAULT_ETA) / 2)
    assert "1 Feb 2025" in plan(r1_7b, hw, calibration=cal).summary
    # A new benchmark of a file of that model is kept beside it, and the file is rewritten
    # in the new version.
    own = dataclasses.replace(r1_7b, file_id="/models/r1-7b.gguf|1")
    cal.record(hw, own, 0, [10.0], tokens=[300])
    again = Calibration.load(path)
    assert [m.file for m in again.measurements] == ["", own.file_id]
    assert json.loads(path.read_text())["version"] == 2
    assert again.measured(hw, own, 0) == 10.0
    assert again.measured(hw, r1_7b, 0) == 10.0  # of 8.0 and 10.0, the faster


def test_reset_forgets_every_measurement(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [0.3], depth=300)
    assert cal.path is not None and cal.path.exists()
    cal.reset()
    assert not cal.path.exists()
    again = Calibration.load(cal.path)
    assert again.measurements == [] and again.measured(hw, r1_7b, 0) is None
    assert again.eta(hw, "cpu") == DEFAULT_ETA
    cal.reset()  # nothing to forget is not an error


def test_no_usable_rate_records_nothing(cal: Calibration, r1_7b: ModelShape) -> None:
    assert cal.record(machine(), r1_7b, 0, []) is None
    assert cal.path is not None and not cal.path.exists()


def test_a_damaged_file_counts_as_no_measurements(tmp_path: Path, r1_7b: ModelShape) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"measurements": [{"machine": "x"}]}))
    cal = Calibration.load(path)
    assert cal.measurements == []
    assert plan(r1_7b, machine(), calibration=cal).measured is None


def test_plan_reads_the_apps_stored_calibration(ponder_home: Path, r1_7b: ModelShape) -> None:
    """Without a calibration argument the planner uses what `ponder bench` stored."""
    hw = machine()
    assert plan(r1_7b, hw).measured is None
    Calibration.load().record(hw, r1_7b, 0, [11.0])
    assert Calibration.default_path().is_relative_to(ponder_home)
    assert plan(r1_7b, hw).measured == 11.0
