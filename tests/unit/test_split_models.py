"""Split models (the R1 671B comes in many parts): sized from all their parts, checked part
by part, and opened by their first part. The parts are a real split of the 270M test model,
written as llama.cpp's gguf-split writes them (metadata in the first part only)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.gguf import (
    check_loadable,
    check_parts,
    parse_header,
    read_header,
    split_parts,
)
from app.hardware.shape import shape_from_file, shape_from_header
from app.modelhub.discovery import HeaderCache, Root, Source, discover
from tests.gguf_split import array, kv, layers_gguf, string


def test_a_split_model_is_sized_from_every_part(gemma_path: Path, gemma_split: list[Path]) -> None:
    whole = shape_from_file(gemma_path)
    split = shape_from_file(gemma_split[0])
    assert split.weights_bytes == whole.weights_bytes
    assert split.layer_bytes == whole.layer_bytes
    # The first part alone holds a third of the tensors: sizing it alone (the bug) would
    # understate the model's layers, the part a GPU takes.
    first_only = shape_from_header(read_header(gemma_split[0]))
    assert sum(first_only.layer_bytes) < sum(whole.layer_bytes) / 2


def test_parts_are_found_from_the_first_and_checked_in_order(
    gemma_split: list[Path], tmp_path: Path
) -> None:
    header = check_parts(gemma_split)
    assert header.architecture == "gemma3"
    assert split_parts(gemma_split[0], header) == gemma_split

    swapped = [tmp_path / p.name for p in gemma_split]
    for src, dst in zip(gemma_split, [swapped[0], swapped[2], swapped[1]], strict=True):
        shutil.copyfile(src, dst)
    with pytest.raises(ModelFileError, match="is not part 2"):
        check_parts(swapped)


def test_a_later_part_opened_alone_says_to_open_the_first(gemma_split: list[Path]) -> None:
    with pytest.raises(ModelFileError) as err:
        check_loadable(read_header(gemma_split[1]))
    assert "part 2 of a split model" in err.value.message
    assert "-00001-of-" in err.value.hint


def test_the_models_list_offers_a_split_model(gemma_split: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for p in gemma_split:
        (folder / p.name).symlink_to(p)
    (model,) = discover([Root(Source.FOLDER, folder)])
    assert len(model.files) == 3
    validation = HeaderCache().validate(model)
    assert validation.usable, validation.problem


def test_per_layer_metadata_is_sized_not_refused() -> None:
    """Gemma 3n stores its sliding-window pattern as one flag per layer; OpenELM and
    Nemotron store head counts per layer. Sizing such a model must work (it used to
    end in "int() argument must be..." and the model could not be loaded at all)."""
    data = layers_gguf(
        [
            kv("general.architecture", 8, string("gemma3n")),
            kv("gemma3n.block_count", 4, struct.pack("<I", 2)),
            kv("gemma3n.embedding_length", 4, struct.pack("<I", 64)),
            kv("gemma3n.context_length", 4, struct.pack("<I", 4096)),
            kv("gemma3n.attention.head_count", 9, array(5, "i", [8, 4])),
            kv("gemma3n.attention.head_count_kv", 9, array(5, "i", [2, 1])),
            kv("gemma3n.attention.sliding_window", 4, struct.pack("<I", 512)),
            kv("gemma3n.attention.sliding_window_pattern", 9, array(7, "?", [True, False])),
        ],
        n_layers=2,
    )
    shape = shape_from_header(parse_header(lambda o, n: data[o : o + n], len(data), "3n.gguf"))
    assert (shape.n_head, shape.n_head_kv) == (8, 2)  # the largest layer's, not too small
    assert [shape.is_swa_layer(i) for i in (0, 1)] == [True, False]
    assert shape.layer_bytes == (16384, 16384)


def test_a_renamed_first_part_is_refused_not_undersized(
    gemma_split: list[Path], tmp_path: Path
) -> None:
    """llama.cpp finds the other parts by the first one's name; a first part renamed (or
    reached through a Hugging Face cache blob) must say so, not be sized alone."""
    renamed = tmp_path / "my-model.gguf"
    renamed.symlink_to(gemma_split[0])
    with pytest.raises(ModelFileError, match=r"the name llama\.cpp finds the other parts by"):
        shape_from_file(renamed)
