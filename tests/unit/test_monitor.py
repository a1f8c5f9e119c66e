"""The live monitor's sampler: real processes, real memory, and no NVIDIA driver here."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from app.hardware.monitor import GpuSample, History, MonitorSample, Sampler, summary_text


# A child that allocates (and touches) 200 MB when told to, then waits to be measured.
@pytest.fixture
def sampler() -> Iterator[Sampler]:
    s = Sampler()
    yield s
    s.close()


def test_the_rss_of_a_process_that_allocates_goes_up(
    sampler: Sampler, allocator: subprocess.Popen[str]
) -> None:
    before = sampler.sample(allocator.pid)
    assert allocator.stdin is not None and allocator.stdout is not None
    allocator.stdin.write("go\n")
    allocator.stdin.flush()
    assert allocator.stdout.readline() == "allocated\n"
    after = sampler.sample(allocator.pid)
    assert before.engine_pid == after.engine_pid == allocator.pid
    assert before.engine_rss is not None and after.engine_rss is not None
    assert after.engine_rss - before.engine_rss >= 190 * 1000 * 1000


def test_machine_figures_are_plausible(sampler: Sampler) -> None:
    sample = sampler.sample()
    vm = psutil.virtual_memory()
    assert sample.ram_total == vm.total
    assert 0 < sample.ram_used < sample.ram_total
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert sample.engine_pid is None and sample.engine_rss is None


def test_a_process_that_ended_has_no_memory_and_does_not_raise(sampler: Sampler) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sample = sampler.sample(proc.pid)
    assert sample.engine_rss is None


def test_no_nvidia_driver_means_no_gpus_and_a_reason(sampler: Sampler) -> None:
    """This machine has no NVIDIA driver: the sampler says so and keeps working."""
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present on this machine")
    except pynvml.NVMLError:
        pass
    sample = sampler.sample()
    assert sample.gpus == () and sample.engine_vram is None
    assert sampler.note is not None and "No NVIDIA GPU" in sampler.note


def test_without_nvidia_ml_py_installed_it_still_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The package missing is simulated by hiding it from the import system."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    s = Sampler()
    try:
        assert s.sample().gpus == ()
        assert s.note is not None and "nvidia-ml-py is not installed" in s.note
    finally:
        s.close()


def test_history_keeps_only_the_newest_values() -> None:
    h: History[int] = History(3)
    assert h.latest() is None and len(h) == 0
    for i in range(5):
        h.append(i)
    assert list(h) == [2, 3, 4] and h.latest() == 4 and len(h) == 3
    with pytest.raises(ValueError):
        History(0)


def test_status_bar_summary_reads_like_a_sentence_fragment() -> None:
    sample = MonitorSample(
        at=0.0,
        cpu_percent=87.4,
        ram_used=9_100_000_000,
        ram_total=24_000_000_000,
        gpus=(GpuSample(0, "RTX 4090", 6_100_000_000, 24_000_000_000, 45.0),),
        engine_pid=123,
        engine_rss=612_300_000,
    )
    assert summary_text(sample) == (
        "CPU 87% · RAM 9.1/24.0 GB · GPU0 45% 6.1/24.0 GB · Engine 612.3 MB"
    )
    idle = MonitorSample(at=0.0, cpu_percent=3.0, ram_used=2_000_000_000, ram_total=8_000_000_000)
    assert summary_text(idle) == "CPU 3% · RAM 2.0/8.0 GB"
