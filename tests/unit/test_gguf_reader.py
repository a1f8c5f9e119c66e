"""The GGUF header reader on real files and on damaged ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.gguf import GGUFError, check_loadable, read_header


def test_reads_the_real_r1_7b_header(r1_header_path: Path) -> None:
    h = read_header(r1_header_path)
    assert h.architecture == "qwen2"
    assert h.get("general.name") == "DeepSeek R1 Distill Qwen 7B"
    assert h.arch_get("block_count") == 28
    assert h.arch_get("attention.head_count_kv") == 4
    assert h.quantization == "Q4_K_M"
    assert len(h.tensors) == 339
    assert h.chat_template is not None and "<｜Assistant｜>" in h.chat_template
    assert h.truncated  # only the first 95 MB of a 4.68 GB file


def test_a_truncated_file_is_refused_with_both_sizes(r1_header_path: Path) -> None:
    with pytest.raises(GGUFError) as err:
        check_loadable(read_header(r1_header_path))
    assert "incomplete" in err.value.message
    assert "99.6 MB" in err.value.message and "4.68 GB" in err.value.message
    assert "download" in err.value.hint


def test_complete_model_is_loadable(gemma_path: Path) -> None:
    h = read_header(gemma_path)
    assert (h.architecture, h.quantization, h.truncated) == ("gemma3", "Q4_K_M", False)
    assert h.expected_size == gemma_path.stat().st_size  # tensor table accounts for every byte
    check_loadable(h)


def test_not_a_gguf(tmp_path: Path) -> None:
    p = tmp_path / "notes.gguf"
    p.write_text("just some text, not a model\n" * 10)
    with pytest.raises(GGUFError, match="not a GGUF"):
        read_header(p)


def test_header_cut_short(tmp_path: Path, gemma_path: Path) -> None:
    p = tmp_path / "cut.gguf"
    p.write_bytes(gemma_path.read_bytes()[:2_000_000])
    with pytest.raises(GGUFError, match="truncated or corrupt"):
        read_header(p)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="No model file"):
        read_header(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="folder"):
        read_header(tmp_path)


def test_absurd_counts_are_rejected_without_allocating(tmp_path: Path) -> None:
    p = tmp_path / "huge.gguf"
    p.write_bytes(
        b"GGUF"
        + (3).to_bytes(4, "little")
        + (2**60).to_bytes(8, "little")
        + (1).to_bytes(8, "little")
        + b"\0" * 64
    )
    with pytest.raises(GGUFError, match="more header entries"):
        read_header(p)
