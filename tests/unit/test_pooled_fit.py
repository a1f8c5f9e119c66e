"""Fit across machines on the real R1 7B header: the split, the verdict, other builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.gguf import read_header
from app.hardware.pooled_fit import plan_pooled
from app.hardware.probe import HardwareSnapshot
from app.hardware.shape import ModelShape, shape_from_header
from app.hardware.workers import WorkerInfo

GB = 10**9
OURS = (7, 0, 0)
HERE = HardwareSnapshot("CPU", 8, 16, (), 64 * GB, 32 * GB, cpu_bandwidth=50e9)


@pytest.fixture
def r1_7b(r1_header_path: Path) -> ModelShape:
    return shape_from_header(read_header(r1_header_path))


def worker(address: str, free: int, protocol: tuple[int, int, int] | None = OURS) -> WorkerInfo:
    return WorkerInfo(address, True, free, free, 1, protocol, 0.0001)


def test_layers_split_in_proportion_to_what_each_worker_offers(r1_7b: ModelShape) -> None:
    plan = plan_pooled(r1_7b, HERE, [worker("a:1", 24 * GB), worker("b:1", 8 * GB)], 4096, OURS)
    assert plan.fits
    a, b = plan.shares
    assert a.weights > 2 * b.weights  # 21 of 28 layers vs 7 (+ the output head)
    assert a.weights + b.weights == r1_7b.weights_bytes - r1_7b.embed_bytes
    assert plan.summary.startswith("Runs across 2 machines (")
    assert "tok/s predicted (network included)" in plan.summary


def test_too_small_workers_make_it_too_large_with_the_numbers(r1_7b: ModelShape) -> None:
    plan = plan_pooled(r1_7b, HERE, [worker("a:1", 2 * GB), worker("b:1", 2 * GB)], 4096, OURS)
    assert not plan.fits and plan.speed is None
    assert plan.summary.startswith("Too large across 2 machines: needs ")


def test_a_worker_of_another_build_or_gone_is_left_out_and_named(r1_7b: ModelShape) -> None:
    other = worker("old:1", 64 * GB, (6, 1, 0))
    gone = WorkerInfo("gone:1", False, problem="not reachable (connection refused)")
    plan = plan_pooled(r1_7b, HERE, [worker("a:1", 24 * GB), other, gone], 4096, OURS)
    assert [s.address for s in plan.shares] == ["a:1"]
    assert {w.address for w in plan.unusable} == {"old:1", "gone:1"}
    nobody = plan_pooled(r1_7b, HERE, [other, gone], 4096, OURS)
    assert not nobody.fits
    assert "gone:1 not reachable" in nobody.summary and "old:1 is from another" in nobody.summary


def test_the_network_hop_slows_a_small_model_more_than_a_big_one(r1_7b: ModelShape) -> None:
    near = plan_pooled(r1_7b, HERE, [worker("a:1", 24 * GB), worker("b:1", 24 * GB)], 4096, OURS)
    far = plan_pooled(
        r1_7b,
        HERE,
        [WorkerInfo(w, True, 24 * GB, 24 * GB, 1, OURS, 0.02) for w in ("a:1", "b:1")],
        4096,
        OURS,
    )
    assert near.speed is not None and far.speed is not None
    assert far.speed.mid < near.speed.mid
