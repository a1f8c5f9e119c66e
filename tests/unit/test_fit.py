"""Memory estimate, offload plan and verdicts.

GPUs cannot run here, so GPU cases use a hand-made ``HardwareSnapshot`` (the probe's own
output type) describing a GPU; the numbers checked are the planner's decisions.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import BadInputError, CannotSizeError
from app.core.gguf import GGUFHeader, parse_header, read_header
from app.hardware.estimator import breakdown, kv_cache_bytes
from app.hardware.planner import plan
from app.hardware.probe import GpuInfo, HardwareSnapshot
from app.hardware.shape import (
    ModelShape,
    catalog_entry,
    load_catalog,
    shape_from_catalog,
    shape_from_header,
)
from tests.gguf_split import kv, layers_gguf, string

GB = 10**9


def machine(ram_gb: float, vram_gb: float = 0, backend: str = "CUDA") -> HardwareSnapshot:
    gpus = (
        (GpuInfo("Test GPU", "nvidia", int(vram_gb * GB), int(vram_gb * GB), 1000e9),)
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
        cpu_bandwidth=50e9,
        backend=backend if vram_gb else "CPU",
    )


@pytest.fixture(scope="module")
def r1_7b(r1_header_path: Path) -> ModelShape:
    return shape_from_header(read_header(r1_header_path))


def test_r1_7b_kv_cache_and_weights_match_the_hand_worked_formula(
    r1_7b: ModelShape, r1_header_path: Path
) -> None:
    # 28 layers x 8192 tokens x 4 KV heads x (128 K + 128 V) x 2 bytes (f16)
    assert kv_cache_bytes(r1_7b, 8192) == 28 * 8192 * 4 * (128 + 128) * 2 == 469_762_048
    assert r1_7b.weights_bytes == read_header(r1_header_path).tensor_bytes == 4_677_120_000


def test_sliding_window_layers_cache_only_their_window(gemma_path: Path) -> None:
    gemma = shape_from_header(read_header(gemma_path))
    assert (gemma.n_swa, gemma.swa_pattern) == (512, 6)
    per_token = 1 * (256 + 256) * 2
    # 3 of 18 layers are global (every 6th); the other 15 hold 512 + one 512-token batch.
    assert kv_cache_bytes(gemma, 32768) == (3 * 32768 + 15 * 1024) * per_token


def test_mla_caches_one_latent_per_token_only_in_files_made_for_it() -> None:
    """llama.cpp caches DeepSeek's 576-wide latent only for GGUFs converted with MLA;
    the R1 GGUFs the catalog lists predate that and cache all 128 heads' K and V (70x
    more): promising the small cache would call a model "fits" that then cannot load."""
    entry = catalog_entry("r1-671b")
    r1 = shape_from_catalog(entry)
    assert r1.mla_kv == 0
    assert kv_cache_bytes(r1, 8192) == 61 * 8192 * 128 * (192 + 128) * 2
    mla = shape_from_catalog({**entry, "mla_kv_cache": True})
    assert mla.mla_kv == 512 + 64
    assert kv_cache_bytes(mla, 8192) == 61 * 8192 * 576 * 2


def test_a_gguf_converted_for_mla_is_sized_with_the_latent_cache() -> None:
    def deepseek(mla: bool) -> ModelShape:
        kvs = [
            kv("general.architecture", 8, string("deepseek2")),
            kv("deepseek2.block_count", 4, struct.pack("<I", 2)),
            kv("deepseek2.embedding_length", 4, struct.pack("<I", 64)),
            kv("deepseek2.attention.head_count", 4, struct.pack("<I", 16)),
            kv("deepseek2.attention.head_count_kv", 4, struct.pack("<I", 1 if mla else 16)),
            kv("deepseek2.attention.key_length", 4, struct.pack("<I", 576 if mla else 192)),
            kv("deepseek2.attention.value_length", 4, struct.pack("<I", 512 if mla else 128)),
            kv("deepseek2.attention.kv_lora_rank", 4, struct.pack("<I", 512)),
            kv("deepseek2.rope.dimension_count", 4, struct.pack("<I", 64)),
        ]
        if mla:
            kvs.append(kv("deepseek2.attention.key_length_mla", 4, struct.pack("<I", 192)))
        data = layers_gguf(kvs, n_layers=2)
        return shape_from_header(parse_header(lambda o, n: data[o : o + n], len(data), "d.gguf"))

    assert kv_cache_bytes(deepseek(mla=True), 1000) == 2 * 1000 * 576 * 2  # K only
    assert kv_cache_bytes(deepseek(mla=False), 1000) == 2 * 1000 * 16 * (192 + 128) * 2


def test_fits_on_gpu_with_the_output_head() -> None:
    p = plan(shape_from_catalog(catalog_entry("r1-distill-qwen-7b")), machine(32, 24))
    assert p.verdict == "gpu"
    assert p.n_gpu_layers == 29  # 28 layers + the output head
    assert p.n_ctx == 16384
    assert p.summary.startswith("Fits on GPU, ~")


def test_context_shrinks_before_layers_leave_the_gpu() -> None:
    shape = shape_from_catalog(catalog_entry("r1-distill-qwen-7b"))
    full_16k = breakdown(shape, 16384, 29).vram
    full_4k = breakdown(shape, 4096, 29).vram
    vram = (full_16k + full_4k) / 2 / GB  # room for every layer, but not at 16k
    p = plan(shape, machine(32, vram))
    assert p.verdict == "gpu" and p.n_ctx < 16384
    assert f"(context {p.n_ctx:,})" in p.summary


def test_partial_offload_when_the_gpu_is_small() -> None:
    p = plan(shape_from_catalog(catalog_entry("r1-distill-llama-70b")), machine(64, 24))
    assert p.verdict == "partial"
    assert 10 < p.n_gpu_layers < 80
    assert p.memory.vram <= 24 * GB
    assert p.summary.startswith(f"Partial offload {p.n_gpu_layers}/81 layers")


def test_too_large_says_how_much_it_needs_and_has() -> None:
    p = plan(shape_from_catalog(catalog_entry("r1-671b")), machine(24))
    assert p.verdict == "too_large"
    assert p.summary.startswith("Too large: needs 15") and "has 24.00 GB" in p.summary


def test_every_catalog_size_gets_a_verdict_on_this_kind_of_machine() -> None:
    hw = machine(24)
    verdicts = {
        e["size_label"]: plan(shape_from_catalog(e), hw).verdict for e in load_catalog()["models"]
    }
    assert verdicts["1.5B"] == "cpu" and verdicts["671B"] == "too_large"
    assert len(load_catalog()["models"]) == 8


def test_unified_memory_counts_gpu_and_cpu_use_together() -> None:
    mac = dataclasses.replace(
        machine(16),
        backend="Metal",
        gpus=(GpuInfo("Apple M2", "apple", int(10.5 * GB), int(10.5 * GB), 100e9, unified=True),),
    )
    p = plan(shape_from_catalog(catalog_entry("r1-distill-qwen-14b")), mac)
    assert p.memory.vram + p.memory.ram - p.memory.ram_reserve <= 16 * GB


def test_the_engine_refuses_a_model_that_cannot_fit_with_both_numbers() -> None:
    from app.core.errors import ModelTooLargeError
    from app.hardware.planner import plan_load

    with pytest.raises(ModelTooLargeError) as err:
        plan_load(shape_from_catalog(catalog_entry("r1-671b")), machine(24))
    assert "needs about 15" in err.value.message and "has 24.00 GB free" in err.value.message
    assert plan_load(shape_from_catalog(catalog_entry("r1-distill-qwen-7b")), machine(32, 24)) == (
        29,
        16384,
    )
    assert plan_load(shape_from_catalog(catalog_entry("r1-671b")), machine(24), 4096, 0) == (
        0,
        4096,
    )  # both given: the user's choice stands


def test_unified_memory_too_large_counts_the_ram_once() -> None:
    """On a Mac the GPU's budget is part of the RAM: "has" must not add the two."""
    mac = dataclasses.replace(
        machine(16),
        backend="Metal",
        gpus=(GpuInfo("Apple M2", "apple", int(10.5 * GB), int(10.5 * GB), 100e9, unified=True),),
    )
    p = plan(shape_from_catalog(catalog_entry("r1-671b")), mac)
    assert p.verdict == "too_large"
    assert p.summary.endswith("has 16.00 GB")


def llama_header() -> GGUFHeader:
    kvs = [
        kv("general.architecture", 8, string("llama")),
        kv("general.name", 8, string("Tiny")),
        kv("llama.block_count", 4, struct.pack("<I", 2)),
        kv("llama.embedding_length", 4, struct.pack("<I", 64)),
        kv("llama.feed_forward_length", 4, struct.pack("<I", 128)),
        kv("llama.attention.head_count", 4, struct.pack("<I", 4)),
        kv("llama.context_length", 4, struct.pack("<I", 4096)),
    ]
    data = layers_gguf(kvs, n_layers=2)
    return parse_header(lambda o, n: data[o : o + n], len(data), "tiny.gguf")


SIZES = (
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "context_length",
    "attention.sliding_window",
)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (float("nan"), "is nan, not a count"),
        (float("inf"), "is inf, not a count"),
        (-8, "is -8, not a count"),
        ("eight", "is not a number"),
    ],
)
def test_a_header_size_that_is_not_a_count_is_one_sentence(value: object, says: str) -> None:
    header = llama_header()
    header.metadata["llama.attention.head_count"] = value
    with pytest.raises(CannotSizeError) as err:
        shape_from_header(header)
    assert err.value.message == f"Tiny's header value llama.attention.head_count {says}."
    assert "cannot predict whether it fits" in err.value.hint


def test_a_header_with_absurdly_many_layers_is_refused_before_sizing() -> None:
    header = llama_header()
    header.metadata["llama.block_count"] = 10**30  # sizing would build a list this long
    with pytest.raises(CannotSizeError, match="more than any model"):
        shape_from_header(header)


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(SIZES),
    value=st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=3),
        st.lists(st.integers(-5, 5), max_size=3),
    ),
)
def test_any_header_value_gives_a_plan_or_one_sentence(key: str, value: object) -> None:
    """Sizing and planning end in a plan or a ``CannotSizeError``, never a bare
    ``ValueError``, ``OverflowError`` or ``ZeroDivisionError``."""
    header = llama_header()
    header.metadata[f"llama.{key}"] = value
    try:
        fit = plan(shape_from_header(header), machine(16))
    except CannotSizeError as exc:
        assert exc.message.startswith("Tiny's header ")
    else:
        assert fit.verdict in ("gpu", "partial", "cpu", "too_large")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"layers": 0}, "ZeroDivisionError"),
        ({"vocab_size": None}, "KeyError"),
        ({"layers": "28"}, "TypeError"),
    ],
)
def test_a_catalog_entry_that_cannot_be_sized_is_one_sentence(
    change: dict[str, object], error: str
) -> None:
    entry = catalog_entry("r1-distill-qwen-7b")
    for field, value in change.items():
        if value is None:
            del entry[field]
        else:
            entry[field] = value
    with pytest.raises(CannotSizeError) as err:
        shape_from_catalog(entry)
    assert err.value.message.startswith(f"{entry['name']}'s catalog entry cannot be sized")
    assert error in err.value.message
    with pytest.raises(BadInputError, match="has no Q9 build"):  # still said as before
        shape_from_catalog(entry, "Q9")


def test_a_dimension_beyond_any_model_is_one_sentence_not_an_overflow() -> None:
    """Found by the property test above: an embedding length of 2.19e304 overflowed a
    float while the speed was predicted."""
    header = llama_header()
    header.metadata["llama.embedding_length"] = 2.1944496275174755e304
    with pytest.raises(CannotSizeError) as err:
        plan(shape_from_header(header), machine(16))
    assert err.value.message == (
        "Tiny's header value llama.embedding_length is 2.19e+304, more than any model has."
    )
