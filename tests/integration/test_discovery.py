"""Models other apps downloaded show up where they are, with a validated header.

Each test lays out a fake home the way that app does and links the real Gemma 270M GGUF
into it (a hard link: same bytes, no 253 MB copy). The R1 7B header-only file stands in
for a download that stopped early: it must be listed as unusable, with the reason.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from app.core.errors import BadInputError
from app.modelhub.discovery import (
    FoundModel,
    HeaderCache,
    Root,
    Source,
    default_roots,
    discover,
    guess_quantization,
)
from app.modelhub.store import ImportMode, ModelStore

pytestmark = pytest.mark.integration
GEMMA = "gemma-3-270m-Q4_K_M.gguf"
LINUX: dict[str, str] = {}


def link(real: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(real, dest)
    except OSError:
        dest.symlink_to(real)
    return dest


def found(home: Path, **kw: object) -> list[FoundModel]:
    return discover(default_roots(home=home, env=LINUX, platform="linux", **kw))  # type: ignore[arg-type]


def only(models: list[FoundModel]) -> FoundModel:
    assert len(models) == 1, [m.name for m in models]
    return models[0]


def hf_cache(home: Path, real: Path, repo: str = "unsloth/gemma-3-270m-it-GGUF") -> Path:
    owner, name = repo.split("/")
    root = home / ".cache" / "huggingface" / "hub" / f"models--{owner}--{name}"
    commit = "a" * 40
    blob = link(real, root / "blobs" / ("b" * 64))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snap = root / "snapshots" / commit / GEMMA
    snap.parent.mkdir(parents=True)
    snap.symlink_to(os.path.relpath(blob, snap.parent))
    return snap


def test_hugging_face_cache_entries_are_named_by_repo(tmp_path: Path, gemma_path: Path) -> None:
    snap = hf_cache(tmp_path, gemma_path)
    m = only(found(tmp_path))
    assert (m.source, m.name, m.repo_id) == (
        Source.HUGGINGFACE,
        "unsloth/gemma-3-270m-it-GGUF/gemma-3-270m-Q4_K_M",
        "unsloth/gemma-3-270m-it-GGUF",
    )
    assert m.path == snap and m.size_bytes == gemma_path.stat().st_size
    assert m.quantization == "Q4_K_M"
    v = HeaderCache().validate(m)
    assert v.usable and v.header is not None and v.header.architecture == "gemma3"


def test_lm_studio_models_are_named_publisher_repo_file(tmp_path: Path, gemma_path: Path) -> None:
    link(
        gemma_path, tmp_path / ".lmstudio" / "models" / "lmstudio-community" / "gemma-GGUF" / GEMMA
    )
    m = only(found(tmp_path))
    assert (m.source, m.name) == (
        Source.LMSTUDIO,
        "lmstudio-community/gemma-GGUF/gemma-3-270m-Q4_K_M",
    )
    assert HeaderCache().validate(m).usable


def test_ollama_models_are_named_by_tag_and_point_at_the_blob(
    tmp_path: Path, gemma_path: Path
) -> None:
    root = tmp_path / ".ollama" / "models"
    digest = "sha256:" + "c" * 64
    blob = link(gemma_path, root / "blobs" / digest.replace(":", "-"))
    weights = {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 1}
    manifest = {
        "schemaVersion": 2,
        "layers": [
            weights,
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:dd"},
        ],
    }
    tag = root / "manifests" / "registry.ollama.ai" / "library" / "gemma3" / "270m"
    tag.parent.mkdir(parents=True)
    tag.write_text(json.dumps(manifest))
    gone = root / "manifests" / "registry.ollama.ai" / "someone" / "broken" / "latest"
    gone.parent.mkdir(parents=True)
    gone.write_text(json.dumps({"layers": [{**weights, "digest": "sha256:ee"}]}))
    models = {m.name: m for m in found(tmp_path)}
    assert set(models) == {"gemma3:270m", "someone/broken:latest"}
    gemma = models["gemma3:270m"]
    assert gemma.path == blob and gemma.source is Source.OLLAMA
    v = HeaderCache().validate(gemma)
    assert v.usable and v.quantization == "Q4_K_M"  # the blob has no name: the header says
    assert HeaderCache().validate(models["someone/broken:latest"]).problem == (
        "Its model blob is missing."
    )


@pytest.mark.parametrize(
    "folder",
    [
        "jan/models/gemma-3-270m",
        ".local/share/Jan/data/llamacpp/models/gemma-3-270m",
        ".local/share/nomic.ai/GPT4All",
    ],
)
def test_jan_and_gpt4all_folders(tmp_path: Path, gemma_path: Path, folder: str) -> None:
    link(gemma_path, tmp_path / folder / GEMMA)
    m = only(found(tmp_path))
    assert m.source is (Source.GPT4ALL if "GPT4All" in folder else Source.JAN)
    assert HeaderCache().validate(m).usable


def test_macos_and_windows_locations(tmp_path: Path, gemma_path: Path) -> None:
    mac = tmp_path / "Library" / "Application Support" / "nomic.ai" / "GPT4All" / GEMMA
    link(gemma_path, mac)
    roots = default_roots(home=tmp_path, env={}, platform="darwin")
    assert only(discover(roots)).path == mac
    appdata = tmp_path / "AppData" / "Local"
    win = link(gemma_path, appdata / "nomic.ai" / "GPT4All" / "x" / GEMMA)
    roots = default_roots(home=tmp_path, env={"LOCALAPPDATA": str(appdata)}, platform="win32")
    assert only(discover(roots)).path == win


def test_an_incomplete_download_is_listed_as_unusable_with_the_reason(
    tmp_path: Path, r1_header_path: Path
) -> None:
    name = "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"
    link(r1_header_path, tmp_path / "models" / name)
    m = only(discover([Root(Source.FOLDER, tmp_path / "models")]))
    assert m.quantization == "Q4_K_M"
    v = HeaderCache().validate(m)
    assert not v.usable and v.problem is not None and "is incomplete" in v.problem
    assert v.header is not None and v.header.architecture == "qwen2"  # still described


def test_the_same_file_in_two_apps_is_listed_once(tmp_path: Path, gemma_path: Path) -> None:
    hf_cache(tmp_path, gemma_path)
    lms = link(gemma_path, tmp_path / ".lmstudio" / "models" / "pub" / "repo" / GEMMA)
    store = ModelStore(tmp_path / "ponder" / "models", tmp_path / "ponder" / "folders.json")
    user = tmp_path / "my models"
    link(gemma_path, user / "copy.gguf")
    store.add_folder(user)
    m = only(found(tmp_path, models_dir=store.models_dir, folders=store.folders()))
    assert m.source is Source.HUGGINGFACE
    assert {(loc.source, loc.path) for loc in m.also_at} == {
        (Source.LMSTUDIO, lms),
        (Source.FOLDER, user / "copy.gguf"),
    }


def test_split_models_are_one_entry_and_a_missing_part_is_named(
    tmp_path: Path, gemma_path: Path
) -> None:
    folder = tmp_path / "split"
    for i in (1, 3):
        link(gemma_path, folder / "Big-Q8_0" / f"Big-Q8_0-0000{i}-of-00003.gguf")
    m = only(discover([Root(Source.FOLDER, folder)]))
    assert m.name == "Big-Q8_0/Big-Q8_0" and m.quantization == "Q8_0" and len(m.files) == 2
    v = HeaderCache().validate(m)
    assert v.problem is not None and v.problem.startswith("Part 2 of 3")


def test_the_header_cache_parses_a_file_version_once(
    tmp_path: Path, gemma_path: Path, r1_header_path: Path
) -> None:
    path = link(gemma_path, tmp_path / "m" / GEMMA)
    m = only(discover([Root(Source.FOLDER, tmp_path / "m")]))
    cache = HeaderCache()
    assert cache.peek(m) is None  # peeking never parses
    first = cache.validate(m)
    assert cache.peek(m) is first and cache.validate(m) is first
    path.unlink()
    link(r1_header_path, path)  # replaced under the same name: checked again
    again = cache.validate(m)
    assert first.usable and not again.usable


def test_importing_links_on_the_same_disk_and_refuses_broken_files(
    tmp_path: Path, gemma_path: Path, r1_header_path: Path
) -> None:
    store = ModelStore(tmp_path / "models", tmp_path / "folders.json")
    src = link(gemma_path, tmp_path / "downloads" / GEMMA)
    done = store.import_file(src)
    assert done.mode is ImportMode.HARDLINK and os.path.samefile(done.path, src)
    assert store.import_file(src).path == done.path  # importing twice is harmless
    sym = store.import_file(link(gemma_path, tmp_path / "b" / "other.gguf"), ImportMode.SYMLINK)
    assert sym.path.is_symlink()
    m = only(discover([Root(Source.PONDER, store.models_dir)]))
    assert m.name == "imported/gemma-3-270m-Q4_K_M" and m.source is Source.PONDER
    assert {loc.path for loc in m.also_at} == {sym.path}
    with pytest.raises(Exception, match="is incomplete"):
        store.import_file(link(r1_header_path, tmp_path / "c" / "r1.gguf"))
    store.remove(list(done.files))
    assert not done.path.exists() and src.exists()  # the original is untouched
    with pytest.raises(BadInputError, match="belongs to another app"):
        store.remove([src])


def test_a_disk_that_refuses_hard_links_gets_a_copy(
    tmp_path: Path, gemma_split: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """exFAT, or Linux's protected_hardlinks on another user's file, refuse the link that
    "auto" tries first. Neither can happen here (tests run as root on ext4), so os.link is
    made to fail as those do; the import then copies, as the import promises."""
    store = ModelStore(tmp_path / "models", tmp_path / "folders.json")
    parts = [link(p, tmp_path / "downloads" / p.name) for p in gemma_split]

    def refuse(*_args: object, **_kw: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    done = store.import_file(parts[0])
    assert done.mode is ImportMode.COPY
    assert [f.name for f in done.files] == [p.name for p in gemma_split]
    assert all(not os.path.samefile(a, b) for a, b in zip(done.files, parts, strict=True))
    assert [f.stat().st_size for f in done.files] == [p.stat().st_size for p in gemma_split]


def test_file_names_give_the_quantization() -> None:
    assert guess_quantization("DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf") == "UD-IQ1_S"
    assert guess_quantization("deepseek-ai_DeepSeek-R1-0528-Qwen3-8B-Q4_K_M.gguf") == "Q4_K_M"
    assert guess_quantization("model.Q8_0.gguf") == "Q8_0"
    assert guess_quantization("gemma3:270m") == ""
