"""The R1 ladder in resources/catalog.json: complete, valid, and what the downloader needs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.core.errors import BadInputError, CatalogError
from app.hardware.shape import catalog_entry, default_quant, shape_from_catalog
from app.modelhub.catalog import CATALOG_PATH, load_catalog, parse_catalog, shard_info

LADDER = {
    "r1-distill-qwen-1.5b": "1.5B",
    "r1-distill-qwen-7b": "7B",
    "r1-distill-llama-8b": "8B",
    "r1-0528-qwen3-8b": "8B",
    "r1-distill-qwen-14b": "14B",
    "r1-distill-qwen-32b": "32B",
    "r1-distill-llama-70b": "70B",
    "r1-671b": "671B",
}


def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return data


def test_the_whole_ladder_from_1_5b_to_671b_is_there() -> None:
    cat = load_catalog()
    assert {m.id: m.size_label for m in cat.models} == LADDER


def test_every_entry_has_repos_files_and_a_licence() -> None:
    for m in load_catalog().models:
        assert m.repos and m.license and m.base_model.startswith("deepseek-ai/")
        for q in m.quants:
            assert q.files, f"{m.id} {q.name} has no files"
            assert all(f.path.endswith(".gguf") for f in q.files)
            assert q.repo_id in {r.repo_id for r in m.repos}
            assert q.best_size(m.parameters) > m.parameters * q.bits_per_weight / 8 * 0.8


def test_dense_models_default_to_q4_k_m_and_offer_larger_quants() -> None:
    for m in load_catalog().models:
        if m.is_moe:
            continue
        assert m.default_quant == "Q4_K_M"
        assert {"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"} <= set(m.quant_names)


def test_the_default_quant_agrees_with_the_fit_estimator() -> None:
    for m in load_catalog().models:
        assert m.default_quant == default_quant(catalog_entry(m.id))
        shape_from_catalog(dict(m.raw), m.default_quant)  # every default has a fit estimate


def test_the_671b_offers_unsloths_dynamic_quants_as_folders_of_shards() -> None:
    r1 = load_catalog().get("r1-671b")
    assert r1.is_moe and r1.active_parameters == 37_000_000_000
    assert {"UD-IQ1_S", "UD-IQ1_M", "UD-IQ2_XXS", "UD-Q2_K_XL"} <= set(r1.quant_names)
    q = r1.quant("UD-IQ1_S")
    assert q.repo_id == "unsloth/DeepSeek-R1-GGUF" and q.sharded
    assert [f.path for f in q.files] == [
        f"DeepSeek-R1-UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-0000{i}-of-00003.gguf" for i in (1, 2, 3)
    ]
    assert q.first_file.name == "DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf"
    # The Hub lists about 140 GB (131 GiB) for the 1.58-bit build.
    assert 135e9 < q.best_size(r1.parameters) < 145e9


def test_exact_sizes_are_marked_and_the_rest_fall_back() -> None:
    q7 = load_catalog().get("r1-distill-qwen-7b").quant()
    assert (q7.size_source, q7.size_bytes) == ("exact", 4683073248)
    iq1m = load_catalog().get("r1-671b").quant("UD-IQ1_M")
    assert iq1m.size_source == "estimate" and iq1m.size_bytes is None
    assert iq1m.best_size(671026419200) == int(671026419200 * 1.89 / 8)


def test_a_quant_is_found_by_any_of_its_shards_and_unknown_names_list_choices() -> None:
    cat = load_catalog()
    found = cat.find_file(
        "unsloth/DeepSeek-R1-GGUF", "DeepSeek-R1-Q4_K_M/DeepSeek-R1-Q4_K_M-00009-of-00009.gguf"
    )
    assert found is not None and found[1].name == "Q4_K_M" and len(found[1].files) == 9
    with pytest.raises(BadInputError, match="Choose one of: Q4_K_M"):
        cat.get("r1-distill-qwen-14b").quant("Q3_K_S")
    with pytest.raises(BadInputError, match=r"Known models: r1-distill-qwen-1\.5b"):
        cat.get("r2")


def test_shard_names_parse() -> None:
    assert shard_info("a/DeepSeek-R1-UD-IQ1_S-00002-of-00003.gguf") == (
        "DeepSeek-R1-UD-IQ1_S",
        2,
        3,
    )
    assert shard_info("DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf") is None


def _damaged(change: Any) -> str:
    data = copy.deepcopy(raw())
    change(data)
    with pytest.raises(CatalogError) as err:
        parse_catalog(data)
    assert err.value.message.startswith("The model catalog is damaged:")
    return err.value.message


def test_a_damaged_catalog_names_the_problem() -> None:
    def missing_shard(d: dict[str, Any]) -> None:
        del d["models"][-1]["quants"]["UD-IQ1_S"]["files"][1]

    def no_files(d: dict[str, Any]) -> None:
        d["models"][0]["quants"]["Q4_K_M"]["files"] = []

    def bad_repo(d: dict[str, Any]) -> None:
        d["models"][0]["quants"]["Q4_K_M"]["repo"] = "not a repo"

    def twice(d: dict[str, Any]) -> None:
        d["models"].append(d["models"][0])

    def lying_size(d: dict[str, Any]) -> None:
        d["models"][0]["quants"]["Q4_K_M"]["size_source"] = "exact"

    def escape(d: dict[str, Any]) -> None:
        d["models"][0]["quants"]["Q4_K_M"]["files"][0]["path"] = "../x.gguf"

    assert "numbered 1..2 of 2" in _damaged(missing_shard)
    assert "r1-distill-qwen-1.5b Q4_K_M lists no files" in _damaged(no_files)
    assert "no valid repo" in _damaged(bad_repo)
    assert "appears twice" in _damaged(twice)
    assert "size_bytes is set exactly when" in _damaged(lying_size)
    assert "not a relative .gguf path" in _damaged(escape)


def test_a_missing_catalog_says_to_reinstall(tmp_path: Any) -> None:
    with pytest.raises(CatalogError, match="Reinstall Ponder"):
        load_catalog(tmp_path / "nope.json")
