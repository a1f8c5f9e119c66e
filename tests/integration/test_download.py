"""Downloads from a Hub look-alike on loopback with the real huggingface_hub client:
resume after a dropped connection and after the downloading process is killed, retries,
a corrupted byte, a full disk, gated repos, no network, split models, pause and cancel.

Where the bytes matter (resume, restart) the server serves the real first 95 MB of the
DeepSeek-R1-Distill-Qwen-7B GGUF (``r1_header_path``); where only the transfer matters it
serves small random blobs, said so in each test.
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
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.errors import (
    ChecksumMismatchError,
    DownloadError,
    DownloadPausedError,
    DownloadStoppedError,
    GatedModelError,
    HubNotFoundError,
    NotEnoughSpaceError,
    OfflineError,
)
from app.modelhub.downloader import (
    Progress,
    RetryPolicy,
    StopToken,
    discard_parts,
    download,
    has_parts,
    part_path,
)
from app.modelhub.hub import (
    RemoteFile,
    list_gguf_files,
    model_files,
    read_remote_header,
    search_gguf,
)
from tests.integration.hub_server import HubServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPO = "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF"
R1_FILE = "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"
FAST = RetryPolicy(attempts=5, base_s=0.01, cap_s=0.05, stall_s=30)


@pytest.fixture
def hub() -> Iterator[HubServer]:
    with HubServer() as server:
        yield server


@pytest.fixture
def r1_hub(hub: HubServer, r1_header_path: Path) -> HubServer:
    hub.add_file(REPO, R1_FILE, r1_header_path)
    return hub


def blob(n: int, seed: int = 0) -> bytes:
    return hashlib.shake_256(seed.to_bytes(4, "little")).digest(n)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def one_file(hub: HubServer, repo: str = REPO) -> list[RemoteFile]:
    return list_gguf_files(repo, endpoint=hub.endpoint)


def fetch_blob(hub: HubServer, tmp_path: Path, retry: RetryPolicy) -> list[Path]:
    """Download the test blob published as org/M-GGUF into tmp_path's models folder."""
    return download(
        one_file(hub, "org/M-GGUF"),
        tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=hub.endpoint,
        retry=retry,
    )


# The Hub client -------------------------------------------------------------------------


def test_lists_gguf_files_with_sizes_and_lfs_hashes(hub: HubServer) -> None:
    """Small blobs: only the listing matters."""
    a = hub.add_file("org/M-GGUF", "m-Q4_K_M.gguf", blob(1000, 1))
    hub.add_file("org/M-GGUF", "README.md", b"# model card")
    files = list_gguf_files("org/M-GGUF", endpoint=hub.endpoint)
    assert files == [RemoteFile("org/M-GGUF", "m-Q4_K_M.gguf", 1000, a.sha256)]
    hits = search_gguf("m-gg", endpoint=hub.endpoint)
    assert [h.repo for h in hits] == ["org/M-GGUF"]


def test_reads_a_remote_header_from_its_first_megabytes(r1_hub: HubServer) -> None:
    """The real R1 header: architecture and layers known without the 95 MB."""
    (file,) = one_file(r1_hub)
    header = read_remote_header(file, endpoint=r1_hub.endpoint)
    assert header.architecture == "qwen2" and header.arch_get("block_count") == 28
    assert header.chat_template is not None
    fetched = 0
    for r in r1_hub.file_gets():
        assert r.range is not None
        start, end = r.range.removeprefix("bytes=").split("-")
        fetched += int(end) - int(start) + 1
    assert 0 < fetched <= 16 << 20 < file.size


def test_missing_repo_and_file_say_so(hub: HubServer) -> None:
    """Small blob: only the answers matter."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(10))
    with pytest.raises(HubNotFoundError, match="no model org/Nope"):
        list_gguf_files("org/Nope", endpoint=hub.endpoint)
    with pytest.raises(HubNotFoundError, match=r"no GGUF file named other\.gguf"):
        model_files("org/M-GGUF", "other.gguf", endpoint=hub.endpoint)


# Transfers ------------------------------------------------------------------------------


def test_resumes_after_the_server_drops_the_connection(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes; the connection drops at 20 MB, the rest comes by Range."""
    files = one_file(r1_hub)
    r1_hub.faults.drop_after = 20_000_000
    (path,) = download(
        files,
        tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=r1_hub.endpoint,
        retry=FAST,
    )
    assert sha256_of(path) == files[0].sha256
    gets = r1_hub.file_gets()
    assert [g.range for g in gets] == [None, "bytes=20000000-"]
    assert list((tmp_path / "dl").iterdir()) == []  # parts, state and locks are gone


DRIVER = """
import json, sys
from pathlib import Path
from app.modelhub.downloader import RetryPolicy, download
from app.modelhub.hub import model_files
endpoint, repo, name, dest, downloads = sys.argv[1:6]
files = model_files(repo, name, endpoint=endpoint)
paths = download(files, Path(dest), downloads_dir=Path(downloads), endpoint=endpoint,
                 retry=RetryPolicy(stall_s=120))
print(json.dumps([str(p) for p in paths]))
"""


def run_driver(hub: HubServer, tmp_path: Path) -> subprocess.Popen[str]:
    args = [hub.endpoint, REPO, R1_FILE, str(tmp_path / "models"), str(tmp_path / "dl")]
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_resumes_after_the_downloading_process_is_killed(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes. The first process receives 30 MB, then the server goes silent
    and the process is killed with SIGKILL; a second process fetches only the rest."""
    (file,) = one_file(r1_hub)
    cut = 30_000_000
    r1_hub.faults.stall_after, r1_hub.faults.stall_s = cut, 120
    part = part_path(tmp_path / "dl", file)
    first = run_driver(r1_hub, tmp_path)
    try:
        assert r1_hub.stalls.wait(60), "the first download never got going"
        while not (part.exists() and part.stat().st_size == cut):
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "models").exists()

    second = run_driver(r1_hub, tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    (installed,) = json.loads(out)
    assert sha256_of(Path(installed)) == file.sha256
    assert [g.range for g in r1_hub.file_gets()] == [None, f"bytes={cut}-"]


@pytest.mark.parametrize("status", [500, 503])
def test_retries_server_errors(hub: HubServer, tmp_path: Path, status: int) -> None:
    """A 3 MB random blob: three failed GETs, then the file arrives whole."""
    data = blob(3_000_000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    hub.faults.fail_first, hub.faults.fail_status = 3, status
    (path,) = fetch_blob(hub, tmp_path, FAST)
    assert path.read_bytes() == data
    assert [g.status for g in hub.file_gets()] == [status] * 3 + [200]


def test_gives_up_on_a_server_that_keeps_failing(hub: HubServer, tmp_path: Path) -> None:
    """A small random blob behind a server that always answers 503."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(1000))
    hub.faults.fail_first = 100
    with pytest.raises(Exception, match=r"kept failing.*server error \(503\)") as err:
        fetch_blob(hub, tmp_path, FAST)
    assert "resumes" in str(err.value)
    assert len(hub.file_gets()) == FAST.attempts


def test_rate_limit_is_waited_out(hub: HubServer, tmp_path: Path) -> None:
    """A small random blob; two 429s carrying Retry-After: 0, then the file."""
    data = blob(2000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    hub.faults.fail_first, hub.faults.fail_status, hub.faults.retry_after = 2, 429, "0"
    # Waits of 30 s: only honouring Retry-After ("0") keeps this quick.
    (path,) = fetch_blob(hub, tmp_path, RetryPolicy(attempts=3, base_s=30))
    assert path.read_bytes() == data


def test_a_stalled_stream_is_reconnected(hub: HubServer, tmp_path: Path) -> None:
    """A 4 MB random blob; the server goes silent after 1 MB and the watchdog reconnects."""
    data = blob(4_000_000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    hub.faults.stall_after, hub.faults.stall_s = 1_000_000, 120
    (path,) = fetch_blob(hub, tmp_path, RetryPolicy(base_s=0.01, stall_s=1))
    assert path.read_bytes() == data
    assert [g.range for g in hub.file_gets()] == [None, "bytes=1000000-"]


def test_a_server_that_never_sends_a_byte_is_given_up_on(hub: HubServer, tmp_path: Path) -> None:
    """Headers, then silence, every time: the retries run out and the user is told, rather
    than the row sitting at 0% reconnecting for ever."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(1_000_000))
    hub.faults.stall_after, hub.faults.stall_s, hub.faults.stall_times = 0, 120, 100
    with pytest.raises(DownloadError) as err:
        fetch_blob(hub, tmp_path, RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05, stall_s=0.5))
    assert "no data arrived" in err.value.message
    assert len(hub.file_gets()) == 3


def test_a_download_that_fails_before_its_first_byte_leaves_nothing(
    hub: HubServer, tmp_path: Path
) -> None:
    """Nothing to resume: an empty part would show as "Paused" at the next start."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(1_000_000))
    hub.faults.fail_first, hub.faults.fail_status = 100, 503
    with pytest.raises(DownloadError):
        fetch_blob(hub, tmp_path, RetryPolicy(attempts=2, base_s=0.01, cap_s=0.05))
    assert not any(p.is_file() for p in (tmp_path / "dl").rglob("*"))


def test_cancelling_a_paused_download_leaves_a_running_one_alone(
    hub: HubServer, tmp_path: Path
) -> None:
    """ "Cancel" on a paused row while `ponder models download` of the same file runs in a
    terminal: the running download keeps its part, and the user is told why."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(4_000_000))
    hub.faults.stall_after, hub.faults.stall_s = 1_000_000, 120
    stop = StopToken()
    files = one_file(hub, "org/M-GGUF")
    thread, errors = run_in_thread(
        files=files,
        dest_dir=tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=hub.endpoint,
        stop=stop,
    )
    part = part_path(tmp_path / "dl", files[0])
    wait_for_part(part, 1_000_000)
    with pytest.raises(DownloadError, match="already being downloaded"):
        discard_parts(tmp_path / "dl", "org/M-GGUF", ["m.gguf"])
    assert part.stat().st_size == 1_000_000
    stop.pause()
    thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], DownloadPausedError)
    assert has_parts(tmp_path / "dl", "org/M-GGUF", ["m.gguf"])  # offered to resume
    discard_parts(tmp_path / "dl", "org/M-GGUF", ["m.gguf"])  # paused now: it goes
    assert list((tmp_path / "dl").iterdir()) == []
    assert not has_parts(tmp_path / "dl", "org/M-GGUF", ["m.gguf"])


def test_a_wrong_range_from_a_proxy_is_asked_again_without_losing_the_part(
    hub: HubServer, tmp_path: Path
) -> None:
    """A 3 MB random blob; after a drop at 1 MB the answer carries another range of the
    same file: asked again from 1 MB (the part is kept), not started over."""
    data = blob(3_000_000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    hub.faults.drop_after, hub.faults.shift_range = 1_000_000, 1
    (path,) = fetch_blob(hub, tmp_path, FAST)
    assert path.read_bytes() == data
    assert [g.range for g in hub.file_gets()] == [None, "bytes=1000000-", "bytes=1000000-"]


def test_a_server_ignoring_range_restarts_the_file_safely(hub: HubServer, tmp_path: Path) -> None:
    """A 3 MB random blob; after a drop the server answers Range with the whole file."""
    data = blob(3_000_000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    hub.faults.drop_after, hub.faults.ignore_range = 1_000_000, True
    (path,) = fetch_blob(hub, tmp_path, FAST)
    assert path.read_bytes() == data


def test_corrupted_bytes_are_never_installed(hub: HubServer, tmp_path: Path) -> None:
    """A 2 MB random blob with one byte flipped in transit."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(2_000_000))
    hub.faults.corrupt_at = 1_234_567
    files = one_file(hub, "org/M-GGUF")
    with pytest.raises(ChecksumMismatchError, match="SHA-256 does not match") as err:
        download(
            files,
            tmp_path / "models",
            downloads_dir=tmp_path / "dl",
            endpoint=hub.endpoint,
            retry=FAST,
        )
    assert "not installed" in err.value.message and err.value.hint
    assert not (tmp_path / "models" / "m.gguf").exists()
    assert not part_path(tmp_path / "dl", files[0]).exists()


def test_too_little_disk_refuses_before_writing(hub: HubServer, tmp_path: Path) -> None:
    """A 5 MB random blob; ``disk_free`` reports 100 MB, below the 512 MB margin."""
    hub.add_file("org/M-GGUF", "m.gguf", blob(5_000_000))
    with pytest.raises(NotEnoughSpaceError, match="Not enough disk space") as err:
        download(
            one_file(hub, "org/M-GGUF"),
            tmp_path / "models",
            downloads_dir=tmp_path / "dl",
            endpoint=hub.endpoint,
            disk_free=lambda _path: 100_000_000,
        )
    assert "Free some space" in err.value.hint
    assert hub.file_gets() == []
    assert not (tmp_path / "dl").exists() and not (tmp_path / "models").exists()


def test_gated_repo_asks_for_the_licence_and_a_token(hub: HubServer, tmp_path: Path) -> None:
    """A small random blob in a gated repo: no token (401), a token not let in (403),
    then the right token."""
    data = blob(1000)
    hub.add_file("meta/Gated-GGUF", "g.gguf", data)
    hub.gate("meta/Gated-GGUF", "hf_goodtoken")
    file = RemoteFile("meta/Gated-GGUF", "g.gguf", 1000, hashlib.sha256(data).hexdigest())
    for token in ("", "hf_wrongtoken"):
        with pytest.raises(GatedModelError) as err:
            download(
                [file],
                tmp_path / "models",
                downloads_dir=tmp_path / "dl",
                endpoint=hub.endpoint,
                token=token or None,
            )
        assert "gated" in err.value.message and "licence" in err.value.hint
        assert "hf_wrongtoken" not in str(err.value)
        # No token: add one. A token the Hub knows but has not let in: says which it is.
        assert ("no access" in err.value.message) == bool(token)
    assert [r.status for r in hub.log] == [401, 403]
    (path,) = download(
        [file],
        tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=hub.endpoint,
        token="hf_goodtoken",
    )
    assert path.read_bytes() == data


def test_unreachable_hub_says_offline(tmp_path: Path) -> None:
    """No server at all: a loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(OfflineError, match=f"Cannot reach the Hugging Face Hub .127.0.0.1:{port}"):
        list_gguf_files(REPO, endpoint=endpoint)
    with pytest.raises(OfflineError) as err:
        download(
            [RemoteFile(REPO, R1_FILE, 1000, None)],
            tmp_path / "models",
            downloads_dir=tmp_path / "dl",
            endpoint=endpoint,
            retry=FAST,
        )
    assert "connection" in err.value.hint


def test_a_split_model_downloads_as_one(hub: HubServer, tmp_path: Path) -> None:
    """Three random-blob shards; any shard's name brings the whole model."""
    shards = [blob(1_000_000 + i, seed=i) for i in range(3)]
    names = [f"R1-Q2_K_XL-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
    for name, data in zip(names, shards, strict=True):
        hub.add_file("unsloth/R1-GGUF", f"Q2_K_XL/{name}", data)
    files = model_files("unsloth/R1-GGUF", f"Q2_K_XL/{names[1]}", endpoint=hub.endpoint)
    assert [f.name for f in files] == names
    seen: list[Progress] = []
    paths = download(
        files,
        tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=hub.endpoint,
        progress=seen.append,
    )
    assert [p.name for p in paths] == names
    assert [p.read_bytes() for p in paths] == shards
    assert seen[-1].done == seen[-1].total == sum(map(len, shards))


def test_progress_only_grows_and_ends_at_the_total(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes, throttled to about 60 MB/s so several reports arrive."""
    r1_hub.faults.rate = 60e6
    seen: list[Progress] = []
    download(
        one_file(r1_hub),
        tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=r1_hub.endpoint,
        progress=seen.append,
    )
    assert len(seen) > 3
    dones = [p.done for p in seen]
    assert dones == sorted(dones)
    assert seen[-1].done == seen[-1].total and seen[-1].stage == "done"
    assert any(p.rate > 0 and p.eta_s is not None for p in seen[:-1])


def wait_for_part(part: Path, size: int) -> None:
    """Wait until the stalled stream's bytes are all on disk (the server sent ``size``)."""
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size == size):
        assert time.monotonic() < deadline, "the download never reached the stall"
        time.sleep(0.05)


def run_in_thread(**kwargs: object) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            download(**kwargs)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def test_pause_keeps_the_part_and_resume_finishes(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes; paused while the server is silent after 10 MB."""
    files = one_file(r1_hub)
    r1_hub.faults.stall_after, r1_hub.faults.stall_s = 10_000_000, 120
    stop = StopToken()
    kwargs = {"files": files, "dest_dir": tmp_path / "models", "downloads_dir": tmp_path / "dl",
              "endpoint": r1_hub.endpoint, "stop": stop}  # fmt: skip
    thread, errors = run_in_thread(**kwargs)
    wait_for_part(part_path(tmp_path / "dl", files[0]), 10_000_000)
    stop.pause()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], DownloadPausedError)
    assert part_path(tmp_path / "dl", files[0]).stat().st_size == 10_000_000

    (path,) = download(**{**kwargs, "stop": None})  # type: ignore[arg-type]
    assert sha256_of(path) == files[0].sha256
    assert [g.range for g in r1_hub.file_gets()] == [None, "bytes=10000000-"]


def test_a_mirror_that_relabels_the_file_still_resumes(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes from a mirror (HF_ENDPOINT) whose ETag changed between runs: the
    file's SHA-256 is the same, so the part is resumed, not thrown away."""
    files = one_file(r1_hub)
    r1_hub.faults.etag = "mirror-label-1"
    r1_hub.faults.stall_after, r1_hub.faults.stall_s = 10_000_000, 120
    stop = StopToken()
    kwargs = {"files": files, "dest_dir": tmp_path / "models", "downloads_dir": tmp_path / "dl",
              "endpoint": r1_hub.endpoint, "stop": stop}  # fmt: skip
    thread, _errors = run_in_thread(**kwargs)
    wait_for_part(part_path(tmp_path / "dl", files[0]), 10_000_000)
    stop.pause()
    thread.join(30)
    r1_hub.faults.etag = "mirror-label-2"
    (path,) = download(**{**kwargs, "stop": None})  # type: ignore[arg-type]
    assert sha256_of(path) == files[0].sha256
    assert [g.range for g in r1_hub.file_gets()] == [None, "bytes=10000000-"]


def test_cancel_deletes_the_part(r1_hub: HubServer, tmp_path: Path) -> None:
    """The real R1 bytes; cancelled while the server is silent after 10 MB."""
    files = one_file(r1_hub)
    r1_hub.faults.stall_after, r1_hub.faults.stall_s = 10_000_000, 120
    stop = StopToken()
    thread, errors = run_in_thread(
        files=files,
        dest_dir=tmp_path / "models",
        downloads_dir=tmp_path / "dl",
        endpoint=r1_hub.endpoint,
        stop=stop,
    )
    wait_for_part(part_path(tmp_path / "dl", files[0]), 10_000_000)
    stop.cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and type(errors[0]) is DownloadStoppedError
    assert not part_path(tmp_path / "dl", files[0]).exists()
    assert not (tmp_path / "models").exists()
    assert list((tmp_path / "dl").iterdir()) == []


@pytest.fixture
def other_disk() -> Iterator[Path]:
    """A folder on another filesystem (tmpfs), so installing must copy, not rename."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tempfile.gettempdir()).st_dev:
        pytest.skip("no second filesystem here")
    folder = Path(tempfile.mkdtemp(dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_installing_onto_another_disk_copies_and_a_quit_stops_the_copy(
    hub: HubServer, tmp_path: Path, other_disk: Path
) -> None:
    """The models folder on another disk: the verified part is copied there. Quitting
    (a pause) during that copy leaves no half-copied file in the models folder; the
    verified part stays, and the next run installs it without downloading again."""
    data = blob(20_000_000)
    hub.add_file("org/M-GGUF", "m.gguf", data)
    files = one_file(hub, "org/M-GGUF")
    models = other_disk / "models"
    quit_now = StopToken()

    def on_progress(p: Progress) -> None:
        if p.stage == "installing":
            quit_now.pause()  # the app quits as the copy starts

    with pytest.raises(DownloadPausedError):
        download(files, models, downloads_dir=tmp_path / "dl", endpoint=hub.endpoint,
                 stop=quit_now, progress=on_progress)  # fmt: skip
    assert not models.exists() or not any(models.iterdir())
    gets = len(hub.file_gets())

    (path,) = download(files, models, downloads_dir=tmp_path / "dl", endpoint=hub.endpoint)
    assert path.parent == models and path.read_bytes() == data
    assert len(hub.file_gets()) == gets  # installed from the verified part, not fetched
