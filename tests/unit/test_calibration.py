"""Speed calibration: measured runs replace guesses, for the model and for the machine.

The machines are hand-made ``HardwareSnapshot``s (the probe's own type) so that bandwidths
and GPUs are known numbers; the shapes are real GGUF headers and catalog entries.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from app.core.gguf import read_header
from app.hardware.calibration import (
    ETA_MAX,
    Calibration,
    derive_eta,
    machine_fingerprint,
)
from app.hardware.planner import plan
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import ModelShape, catalog_entry, shape_from_catalog, shape_from_header
from app.hardware.speed import DEFAULT_ETA, bytes_per_token

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
    assert p.summary == "CPU only, ~8.0 tok/s measured"


def test_measurements_survive_a_restart(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [12.0, 14.0])
    assert cal.path is not None
    again = Calibration.load(cal.path)
    assert again.measured(hw, r1_7b, 0) == 13.0
    assert plan(r1_7b, hw, calibration=again).summary == "CPU only, ~13 tok/s measured"


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
    assert m is not None and m.device == "cpu"
    _, cpu_bytes = bytes_per_token(r1_7b, 0, 600)
    assert m.eta == pytest.approx(rate * cpu_bytes / 50e9, rel=1e-3)
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
    assert m is not None and m.device == "gpu"
    gpu_bytes, _ = bytes_per_token(r1_7b, r1_7b.n_layers + 1, 200)
    assert cal.eta(hw, "gpu") == pytest.approx(80.0 * gpu_bytes / 900e9, rel=1e-3)
    p = plan(r1_7b, hw, calibration=cal)
    assert p.verdict == "gpu" and p.summary.startswith("Fits on GPU, ~80 tok/s measured")


def test_a_new_bench_replaces_the_old_measurement(cal: Calibration, r1_7b: ModelShape) -> None:
    hw = machine()
    cal.record(hw, r1_7b, 0, [5.0, 5.0])
    cal.record(hw, r1_7b, 0, [9.0])
    assert cal.measured(hw, r1_7b, 0) == 9.0
    assert len(cal.measurements) == 1


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
