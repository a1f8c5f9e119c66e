"""`ponder models ...` as a user runs it: a separate process against a Hub look-alike on
loopback (``HF_ENDPOINT``), with a private PONDER_HOME and a fake HOME, so discovery sees
only the folders a test lays out and nothing touches the real keyring or the real Hub.

Bytes: the real Gemma 270M GGUF where a model must load (list, verify, import); the real
first 95 MB of R1-Distill-Qwen-7B under the catalog's file name where the transfer is the
point (resume after SIGKILL); small random blobs for the split-model and gated tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring.backend
import keyring.errors
import pytest

from app.cli.progress import render_bar
from app.modelhub.downloader import Progress
from tests.conftest import cli_env
from tests.integration.cli import ROOT, Result, ponder
from tests.integration.hub_server import HubServer

pytestmark = pytest.mark.integration

GEMMA_REPO = "unsloth/gemma-3-270m-it-GGUF"
GEMMA = "gemma-3-270m-Q4_K_M.gguf"
R1_REPO = "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF"  # the catalog's repo and file names
R1_FILE = "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"
KEYRING_FILE = "PONDER_TEST_KEYRING_FILE"
FILE_KEYRING = f"{__name__}.FileKeyring"


class FileKeyring(keyring.backend.KeyringBackend):
    """A keyring kept in a JSON file, standing in for an OS Secret Service (none runs
    here). ``ponder`` loads it by name through ``PYTHON_KEYRING_BACKEND``."""

    priority = 1

    def _load(self) -> dict[str, str]:
        path = Path(os.environ[KEYRING_FILE])
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, data: dict[str, str]) -> None:
        Path(os.environ[KEYRING_FILE]).write_text(json.dumps(data))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._save({**self._load(), f"{service}/{username}": password})

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("not set")
        self._save(data)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """The Hub on loopback, and an environment where only the test's folders exist."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HF_HOME",
                "HF_HUB_CACHE", "HF_TOKEN", "OLLAMA_MODELS", "HF_HUB_OFFLINE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def one_error_line(r: Result) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ponder: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def listed(name: str | None = None) -> list[dict[str, Any]]:
    r = ponder("models", "list", "--json")
    assert r.code == 0, r.stderr
    models: list[dict[str, Any]] = r.events[0]["models"]
    return [m for m in models if name is None or m["name"] == name]


def link(real: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(real, dest)
    except OSError:
        shutil.copyfile(real, dest)
    return dest


def test_download_by_repo_and_file_then_list_verify_and_remove(
    hub: HubServer, gemma_path: Path, ponder_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_file(GEMMA_REPO, GEMMA, gemma_path)
    r = ponder("models", "download", GEMMA_REPO, GEMMA, "--json")
    assert r.code == 0, r.stderr
    done = r.events[-1]
    installed = ponder_home / "models" / "unsloth" / "gemma-3-270m-it-GGUF" / GEMMA
    assert done["event"] == "done" and done["files"] == [str(installed)]
    assert sha256_of(installed) == sha256_of(gemma_path)
    assert all(e["event"] == "progress" for e in r.events[:-1])

    name = f"{GEMMA_REPO}/{GEMMA.removesuffix('.gguf')}"
    (model,) = listed(name)
    assert model["source"] == "ponder" and model["usable"] and model["removable"]
    assert model["quantization"] == "Q4_K_M" and model["architecture"] == "gemma3"

    again = ponder("models", "download", GEMMA_REPO, GEMMA)
    assert again.code == 0 and "Already installed" in again.stdout
    assert len(hub.file_gets()) == 1  # nothing fetched twice

    # Offline: the SHA-256 recorded at download time is enough, the Hub is not asked.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    ok = ponder("models", "verify", name)
    assert ok.code == 0, ok.stderr
    assert "SHA-256 matches (recorded when Ponder downloaded it)" in ok.stdout
    assert "Header: ok" in ok.stdout

    with installed.open("r+b") as f:  # one flipped byte in the tensor data
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    bad = ponder("models", "verify", GEMMA.removesuffix(".gguf"), "--json")
    assert bad.code == 1
    assert bad.events[0]["files"][0]["status"] == "mismatch" and not bad.events[0]["ok"]
    assert "does not match" in one_error_line(bad)

    gone = ponder("models", "remove", name)
    assert gone.code == 0, gone.stderr
    assert not installed.exists() and listed() == []
    assert not installed.parent.exists()  # nothing of it left behind, not even its record


def test_killed_catalog_download_resumes_without_refetching(
    hub: HubServer, r1_header_path: Path, ponder_home: Path
) -> None:
    """The issue's Done-when: SIGKILL mid-download, run again, only the rest is fetched."""
    hub.add_file(R1_REPO, R1_FILE, r1_header_path)
    cut = 30_000_000
    hub.faults.stall_after, hub.faults.stall_s = cut, 120
    part = ponder_home / "cache" / "downloads" / R1_REPO / f"{R1_FILE}.part"
    first = subprocess.Popen(
        [sys.executable, "-m", "app", "models", "download", "r1-distill-qwen-7b"],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert hub.stalls.wait(60), "the first download never got going"
        while not (part.exists() and part.stat().st_size == cut):
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL

    second = ponder("models", "download", "r1-distill-qwen-7b", "--quant", "Q4_K_M", "--json")
    assert second.code == 0, second.stderr
    done = second.events[-1]
    installed = Path(done["files"][0])
    assert installed == ponder_home / "models" / R1_REPO / R1_FILE
    assert sha256_of(installed) == sha256_of(r1_header_path) == done["sha256"][0]
    assert [g.range for g in hub.file_gets()] == [None, f"bytes={cut}-"]
    assert not part.exists()


def test_text_download_names_the_catalog_model_and_its_licence(
    hub: HubServer, r1_header_path: Path
) -> None:
    hub.add_file(R1_REPO, R1_FILE, r1_header_path)
    r = ponder("models", "download", "r1-distill-qwen-7b")
    assert r.code == 0, r.stderr
    assert "DeepSeek-R1 Distill Qwen 7B Q4_K_M" in r.stdout and "licence: MIT" in r.stdout
    assert "Installed" in r.stdout and r.stderr == ""  # no bar when stderr is not a terminal

    # The fixture holds only R1's first 95 MB: the bytes match the Hub, the model cannot load.
    v = ponder("models", "verify", "r1-distill-qwen-7b", "--json")
    assert v.code == 1 and "incomplete" in one_error_line(v)
    report = v.events[0]
    assert [f["status"] for f in report["files"]] == ["ok"] and not report["header_ok"]
    gone = ponder("models", "remove", "r1-distill-qwen-7b", "--json")
    assert gone.code == 0 and listed() == []
    again = ponder("models", "remove", "r1-distill-qwen-7b")
    assert again.code == 2 and "not installed" in one_error_line(again)


def test_split_model_downloads_as_one_from_its_first_shard(
    hub: HubServer, ponder_home: Path
) -> None:
    """Two random blobs named as llama.cpp's split shards (the transfer is the point)."""
    names = [f"m-Q4_K_M-0000{i}-of-00002.gguf" for i in (1, 2)]
    blobs = [hashlib.shake_256(n.encode()).digest(1_500_000) for n in names]
    for n, b in zip(names, blobs, strict=True):
        hub.add_file("org/Split-GGUF", n, b)
    r = ponder("models", "download", "org/Split-GGUF", names[0], "--json")
    assert r.code == 0, r.stderr
    files = [Path(p) for p in r.events[-1]["files"]]
    assert [f.name for f in files] == names
    assert [f.read_bytes() for f in files] == blobs
    (model,) = listed()
    assert len(model["files"]) == 2 and not model["usable"]  # random bytes: not a GGUF


def test_list_shows_lm_studio_models_and_will_not_delete_them(
    hub: HubServer, gemma_path: Path, tmp_path: Path
) -> None:
    theirs = link(
        gemma_path, tmp_path / "home" / ".lmstudio" / "models" / "lmstudio-community" / "g" / GEMMA
    )
    (model,) = listed()
    assert model["source"] == "lmstudio" and model["path"] == str(theirs)
    assert model["usable"] and not model["removable"]
    text = ponder("models", "list")
    assert "LM Studio" in text.stdout and "ready" in text.stdout
    r = ponder("models", "remove", str(model["name"]))
    assert r.code == 2 and "belongs to another app" in one_error_line(r)
    assert theirs.exists()


def test_import_links_instead_of_copying(
    hub: HubServer, gemma_path: Path, r1_header_path: Path, tmp_path: Path, ponder_home: Path
) -> None:
    source = link(gemma_path, tmp_path / "elsewhere" / GEMMA)
    r = ponder("models", "import", str(source), "--json")
    assert r.code == 0, r.stderr
    result = r.events[0]
    assert result["mode"] == "hardlink"
    assert Path(result["path"]) == ponder_home / "models" / "imported" / GEMMA
    assert os.path.samefile(result["path"], source)
    (model,) = listed()
    assert model["usable"] and model["name"] == f"imported/{GEMMA.removesuffix('.gguf')}"
    truncated = link(r1_header_path, tmp_path / "elsewhere" / R1_FILE)  # a stopped download
    refused = ponder("models", "import", str(truncated))
    assert refused.code == 2 and "incomplete" in one_error_line(refused)


def test_search_finds_repos_and_lists_a_repos_files(hub: HubServer) -> None:
    hub.add_file(R1_REPO, R1_FILE, b"x" * 1000)
    hub.add_file(R1_REPO, "DeepSeek-R1-Distill-Qwen-7B-Q8_0.gguf", b"y" * 2000)
    hub.add_file("org/Other-GGUF", "o.gguf", b"z")
    r = ponder("models", "search", "deepseek", "--json")
    assert r.code == 0, r.stderr
    assert [h["repo"] for h in r.events[0]["repos"]] == [R1_REPO]
    files = ponder("models", "search", R1_REPO)
    assert files.code == 0
    assert R1_FILE in files.stdout and "1.0 KB" in files.stdout
    assert f"ponder models download {R1_REPO} FILENAME" in files.stdout


def test_login_without_a_usable_keyring_says_to_use_hf_token(hub: HubServer) -> None:
    r = ponder("models", "login", stdin="hf_secret_never_shown\n")
    assert r.code == 1
    line = one_error_line(r)
    assert "No usable keyring" in line and "HF_TOKEN" in line
    assert "hf_secret_never_shown" not in r.stdout + r.stderr
    out = ponder("models", "logout")
    assert out.code == 1 and "No usable keyring" in one_error_line(out)


def test_gated_repo_needs_a_token_that_login_stores(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small random blob in a gated repo; the keyring is a file standing in for one."""
    token = "hf_gated_test_token_1234"
    hub.add_file("org/Gated-GGUF", "g.gguf", b"gated bytes" * 100)
    hub.gate("org/Gated-GGUF", token)
    refused = ponder("models", "download", "org/Gated-GGUF", "g.gguf")
    assert refused.code == 1
    line = one_error_line(refused)
    assert "gated" in line and "licence" in line and "token" in line

    monkeypatch.setenv("HF_TOKEN", "hf_someone_elses")
    wrong = ponder("models", "download", "org/Gated-GGUF", "g.gguf", "--json")
    assert wrong.code == 1 and "gated" in one_error_line(wrong)
    assert hub.log[-1].status == 403 and hub.log[-1].authorization  # HF_TOKEN was sent
    assert wrong.events[-1] == {
        "event": "error",
        "kind": "gated",
        "message": one_error_line(wrong).removeprefix("ponder: "),
    }
    monkeypatch.delenv("HF_TOKEN")

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_KEYRING)
    monkeypatch.setenv(KEYRING_FILE, str(tmp_path / "keyring.json"))
    login = ponder("models", "login", stdin=token + "\n")
    assert login.code == 0, login.stderr
    assert "keyring" in login.stdout and token not in login.stdout + login.stderr
    ok = ponder("models", "download", "org/Gated-GGUF", "g.gguf")
    assert ok.code == 0, ok.stderr
    assert hub.file_gets()[-1].authorization

    logout = ponder("models", "logout")
    assert logout.code == 0, logout.stderr
    assert token not in (tmp_path / "keyring.json").read_text()


def test_offline_is_one_clear_line(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # closed: refused
    r = ponder("models", "download", R1_REPO, R1_FILE)
    assert r.code == 1
    assert "Cannot reach the Hugging Face Hub" in one_error_line(r)


def test_bad_input_exits_2(hub: HubServer) -> None:
    no_file = ponder("models", "download", "org/Some-GGUF")
    assert no_file.code == 2 and "ponder models search org/Some-GGUF" in one_error_line(no_file)
    mixed = ponder("models", "download", R1_REPO, R1_FILE, "--quant", "Q8_0")
    assert mixed.code == 2 and "--quant" in one_error_line(mixed)
    unknown = ponder("models", "download", "r1-distill-qwen-7b", "--quant", "Q1")
    assert unknown.code == 2 and "Choose one of" in one_error_line(unknown)


def test_terminal_bar_fits_the_line_and_says_bytes_rate_and_eta() -> None:
    p = Progress(2_340_000_000, 4_680_000_000, 25_000_000, 93.6, R1_FILE)
    for width in (40, 79, 200):
        line = render_bar(p, width)
        assert len(line) <= width and "50.0%" in line
    wide = render_bar(p, 200)
    assert R1_FILE in wide and "2.34 GB / 4.68 GB" in wide
    assert "25.0 MB/s" in wide and "ETA 1m34s" in wide
    checking = render_bar(Progress(10, 100, 0, None, R1_FILE, "checking"), 120)
    assert "checking" in checking and "ETA" not in checking
