"""Errors a user can hit: one clear line on stderr, exit code 2 or 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli import ponder

pytestmark = pytest.mark.integration


def assert_one_clear_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ponder: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_missing_model_file(tmp_path: Path) -> None:
    r = ponder("chat", "-m", str(tmp_path / "missing.gguf"), "-p", "hi")
    assert r.code == 2
    assert "No model file at" in assert_one_clear_line(r.stderr)


def test_not_a_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>404 Not Found</html>" * 40)
    r = ponder("chat", "-m", str(fake), "-p", "hi")
    assert r.code == 2
    assert "is not a GGUF model file" in assert_one_clear_line(r.stderr)


def test_truncated_gguf_is_refused_before_loading(r1_header_path: Path) -> None:
    r = ponder("chat", "-m", str(r1_header_path), "-p", "hi")
    assert r.code == 2
    line = assert_one_clear_line(r.stderr)
    assert "incomplete" in line and "download the model again" in line


def test_corrupt_gguf(tmp_path: Path, gemma_path: Path) -> None:
    data = bytearray(gemma_path.read_bytes()[:3_000_000])
    data[16:24] = (10**15).to_bytes(8, "little")  # metadata count
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(bytes(data))
    r = ponder("inspect", str(bad))
    assert r.code == 2
    assert "corrupt" in assert_one_clear_line(r.stderr)


@pytest.mark.slow
def test_prompt_longer_than_context_names_both_numbers(gemma_path: Path) -> None:
    r = ponder("chat", "-m", str(gemma_path), "--ctx", "64", "-p", "word " * 200, "--json")
    assert r.code == 2
    line = assert_one_clear_line(r.stderr)
    assert "context holds 64" in line and "tokens" in line
    assert r.events[-1]["kind"] == "context_overflow"


def test_usage_error_exit_code() -> None:
    r = ponder("chat", "--max-tokens", "0", "-m", "x.gguf", "-p", "hi")
    assert r.code == 2
    assert_one_clear_line(r.stderr)


def test_inspect_reports_a_truncated_header(r1_header_path: Path) -> None:
    r = ponder("inspect", str(r1_header_path), "--json")
    assert r.code == 0, r.stderr
    info = r.events[0]
    assert info["architecture"] == "qwen2" and info["layers"] == 28
    assert info["quantization"] == "Q4_K_M" and info["chat_template"] is True
    assert info["truncated"] is True


def test_fit_on_the_r1_header_reports_the_kv_formula_and_tensor_sum(r1_header_path: Path) -> None:
    r = ponder("fit", str(r1_header_path), "--ctx", "8192", "--json")
    fit = r.events[0]
    assert fit["memory"]["kv_cache"] == 28 * 8192 * 4 * (128 + 128) * 2
    assert fit["memory"]["weights"] == 4_677_120_000
    assert fit["n_ctx"] == 8192
    # The fixture holds the header only: sized, but said to be unloadable.
    assert r.code == 1 and fit["loadable"] is False


def test_fit_on_an_incomplete_file_says_it_cannot_load_and_exits_1(
    tmp_path: Path, gemma_path: Path
) -> None:
    cut = tmp_path / "gemma-cut.gguf"
    cut.write_bytes(gemma_path.read_bytes()[:100_000_000])
    r = ponder("fit", str(cut))
    assert r.code == 1
    line = assert_one_clear_line(r.stderr)
    assert "is incomplete: it holds 100.0 MB of the 253.1 MB" in line
    assert "download the model again" in line
    assert "Verdict" in r.stdout  # what it would need once complete is still shown
    whole = ponder("fit", str(gemma_path))
    assert whole.code == 0 and whole.stderr == ""


def test_hw_prints_a_verdict_for_every_size() -> None:
    r = ponder("hw")
    assert r.code == 0, r.stderr
    for size in ("1.5B", "7B", "8B", "14B", "32B", "70B", "671B"):
        assert size in r.stdout
    verdict_lines = [line for line in r.stdout.splitlines() if "DeepSeek-R1" in line]
    assert len(verdict_lines) == 8
    assert all(("CPU only" in v) or ("Too large" in v) or ("GPU" in v) for v in verdict_lines)


def test_unknown_catalog_id_lists_the_known_ones() -> None:
    r = ponder("fit", "r1-9000b")
    assert r.code == 2
    assert "Known models: r1-distill-qwen-1.5b" in assert_one_clear_line(r.stderr)
