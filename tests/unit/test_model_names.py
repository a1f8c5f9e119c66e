"""Short names: the words every model name starts with, said once, and what differs."""

from __future__ import annotations

import pytest

from app.core.model_names import short_names
from app.modelhub.catalog import load_catalog


def test_the_catalogs_names_keep_what_tells_them_apart() -> None:
    names = short_names([m.name for m in load_catalog().models])
    assert names.prefix == "DeepSeek-R1"
    assert names.heading("Model") == "DeepSeek-R1 model"
    assert names.names == (
        "Distill Qwen 1.5B",
        "Distill Qwen 7B",
        "Distill Llama 8B",
        "R1-0528 Qwen3 8B",  # the prefix's word goes on: its last part is kept
        "Distill Qwen 14B",
        "Distill Qwen 32B",
        "Distill Llama 70B",
        "671B (mixture of experts)",
    )


@pytest.mark.parametrize(
    ("names", "prefix", "short"),
    [
        (["Qwen 7B", "Llama 8B"], "", ("Qwen 7B", "Llama 8B")),  # nothing shared
        (["Model 7B"], "", ("Model 7B",)),  # one name: nothing to take away
        (["Model", "Model 2"], "", ("Model", "Model 2")),  # one would be left empty
        (["Qwen 1.5B", "Qwen 14B"], "Qwen", ("1.5B", "14B")),  # words, not "Qwen 1"
        (["Llama-3 8B", "Llama-3.1 8B"], "", ("Llama-3 8B", "Llama-3.1 8B")),  # no cut word
        (
            ["DeepSeek-R1-Distill-Qwen-7B-Q4_K_M", "DeepSeek-R1-Distill-Llama-8B-Q4_K_M"],
            "DeepSeek-R1-Distill",
            ("Distill-Qwen-7B-Q4_K_M", "Distill-Llama-8B-Q4_K_M"),
        ),
    ],
)
def test_only_whole_shared_words_go(names: list[str], prefix: str, short: tuple[str, ...]) -> None:
    found = short_names(names)
    assert (found.prefix, found.names) == (prefix, short)
    assert found.heading("Model") == (f"{prefix} model" if prefix else "Model")
