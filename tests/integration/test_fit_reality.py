"""The memory estimate checked against reality: the real 270M model in the real engine.

The engine child loads the model once and unloads it first, so llama.cpp's libraries and
the page cache are warm and the measured RSS growth is the model's own; then it loads it
again and evaluates a prompt longer than one micro-batch (touching every weight and the
busiest part of the compute buffer). The R1-7B header's weights and KV cache are checked
against the hand-worked formula in tests/unit/test_fit.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.gguf import read_header
from app.hardware.estimator import breakdown, compute_bytes
from app.hardware.shape import shape_from_header
from app.inference.client import EngineClient
from benchmarks.fit_accuracy import LoadMeasurement, measure_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_CTX = 8192


@pytest.fixture(scope="module")
def measured(
    gemma_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoadMeasurement]:
    scratch = tmp_path_factory.mktemp("fit")
    # Module-scoped, so it runs before the per-test PONDER_HOME: give the engine its own.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PONDER_HOME", str(scratch / "ponder-home"))
        client = EngineClient(scratch / "engine.log")
        try:
            yield measure_load(client, gemma_path, N_CTX, scratch)
        finally:
            client.close()


def test_estimate_is_within_15_percent_of_the_engines_memory_growth(
    measured: LoadMeasurement, gemma_path: Path
) -> None:
    mem = breakdown(shape_from_header(read_header(gemma_path)), N_CTX, gpu_layers=0)
    estimate = mem.weights + mem.kv + mem.compute
    assert measured.rss_growth > 200 * 2**20  # the model really was loaded and used
    assert abs(estimate - measured.rss_growth) <= 0.15 * measured.rss_growth, (
        f"estimated {estimate / 2**20:.1f} MiB, the engine grew {measured.rss_growth / 2**20:.1f}"
    )


def test_each_part_matches_what_llama_cpp_reports_allocating(
    measured: LoadMeasurement, gemma_path: Path
) -> None:
    shape = shape_from_header(read_header(gemma_path))
    mem = breakdown(shape, N_CTX, gpu_layers=0)
    got = measured.buffers
    # KV cache: 3 global layers x 8192 cells + 15 sliding layers x 1024 cells, f16: exact.
    assert got["kv"] == mem.kv == (3 * 8192 + 15 * 1024) * 1 * (256 + 256) * 2
    # Weights: the mapped file plus the tensors llama.cpp repacks for this CPU.
    assert abs(mem.weights - got["model"]) <= 0.15 * got["model"]
    # The compute buffer llama.cpp reserves (512 rows of logits), as the GPU would hold it.
    reserved = compute_bytes(shape, N_CTX, resident=False)
    assert abs(reserved - got["compute"]) <= 0.15 * got["compute"]
    # One row of logits is what the engine asks for: the output buffer llama.cpp made.
    assert got["output"] == shape.n_vocab * 4
