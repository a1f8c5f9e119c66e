"""Planning a group reply's memory: the prompt once plus N answers, on the real R1 7B header."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import ModelTooLargeError
from app.core.gguf import read_header
from app.hardware.estimator import kv_cache_bytes
from app.hardware.planner import plan_group
from app.hardware.shape import ModelShape, shape_from_header

GB = 1024**3
KV_PER_TOKEN = 28 * 4 * (128 + 128) * 2  # layers x KV heads x (K + V dims) x f16


@pytest.fixture
def r1_7b(r1_header_path: Path) -> ModelShape:
    return shape_from_header(read_header(r1_header_path))


def test_a_group_that_fits_gets_what_it_asked(r1_7b: ModelShape) -> None:
    plan = plan_group(r1_7b, 64 * GB, prompt_tokens=100, samples=4, max_tokens=8192)
    assert (plan.samples, plan.max_tokens, plan.note) == (4, 8192, "")
    assert plan.n_ctx == 100 + 4 * (8192 + 16)
    assert plan.kv_bytes == kv_cache_bytes(r1_7b, plan.n_ctx) == plan.n_ctx * KV_PER_TOKEN


def test_answers_are_shortened_before_samples_are_dropped(r1_7b: ModelShape) -> None:
    # 8 x 8,192 tokens need 3.6 GB of cache; 2.5 GB holds 8 x 4,096.
    plan = plan_group(r1_7b, int(2.5 * GB), prompt_tokens=100, samples=8, max_tokens=8192)
    assert plan.samples == 8 and plan.max_tokens == 4096
    assert "Sampling 8 answers of up to 4,096 tokens (asked 8 of 8,192)" in plan.note


def test_fewer_samples_when_even_short_answers_do_not_fit(r1_7b: ModelShape) -> None:
    plan = plan_group(r1_7b, int(0.35 * GB), prompt_tokens=100, samples=8, max_tokens=8192)
    assert plan.max_tokens == 1024 and 2 <= plan.samples < 8
    assert plan.note.startswith(f"Sampling {plan.samples} answers of up to 1,024 tokens")


def test_a_group_that_cannot_fit_is_refused_with_the_numbers(r1_7b: ModelShape) -> None:
    with pytest.raises(ModelTooLargeError) as refused:
        plan_group(r1_7b, 10 * 1024**2, prompt_tokens=100, samples=4, max_tokens=8192)
    assert "A group of 2 answers of 1,024 tokens needs" in refused.value.message
    assert "fewer samples" in refused.value.hint
