"""Killing the app mid-reply loses nothing that was checkpointed.

The app runs as a separate process (the real window, store and engine, offscreen); the test
kills it with SIGKILL while a reply streams, reopens the database as the next start would,
and finds the conversation, the question and the partial reply marked interrupted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.core.store import ChatStore
from tests.conftest import ROOT

pytestmark = pytest.mark.gui


def test_sigkill_mid_stream_keeps_the_chat_and_the_checkpointed_reply(
    tmp_path: Path, ponder_home: Path
) -> None:
    replay = tmp_path / "slow.jsonl"
    chunks = ["<think>\n"] + [f"thought {i}. " for i in range(2000)]
    replay.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks))
    env = dict(os.environ, PONDER_HOME=str(ponder_home), QT_QPA_PLATFORM="offscreen")
    log = tmp_path / "app.out"
    db = ponder_home / "chats.sqlite3"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.app_driver", str(replay), "40", "Tell me everything"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    engine: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        checkpointed = ""
        while time.monotonic() < deadline and not checkpointed:
            time.sleep(0.5)
            assert proc.poll() is None, log.read_text()
            if db.exists():
                reader = ChatStore(db)
                convs = reader.conversations()
                if convs and len(msgs := reader.messages(convs[0].id)) == 2:
                    checkpointed = msgs[1].reasoning
                reader.close()
        assert checkpointed, "no checkpoint was written while the reply streamed"
        engine = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.kill()
        proc.wait()
    # The engine and math processes do not outlive the app (they would hold memory).
    _gone, alive = psutil.wait_procs(engine, timeout=10)
    assert engine and not alive

    store = ChatStore(db)
    try:
        assert store.recover_interrupted() == 1
        (conv,) = store.conversations()
        assert conv.title == "Tell me everything"
        user, reply = store.messages(conv.id)
        assert user.content == "Tell me everything"
        assert reply.state == "interrupted"
        assert reply.reasoning.startswith("thought 0. ")
        assert len(reply.reasoning) >= len(checkpointed)
    finally:
        store.close()


def test_sigterm_closes_the_app_cleanly(ponder_home: Path, tmp_path: Path) -> None:
    """`kill`, a logout or `timeout` send SIGTERM: Ponder quits normally, leaving nothing."""
    env = dict(os.environ, PONDER_HOME=str(ponder_home), QT_QPA_PLATFORM="offscreen")
    log = tmp_path / "app.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and len(children) < 2:  # engine and math processes
            time.sleep(0.3)
            assert proc.poll() is None, log.read_text()
            children = psutil.Process(proc.pid).children(recursive=True)
        proc.terminate()
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert "leaked" not in log.read_text()


def test_quitting_mid_reply_saves_everything_that_was_shown(
    tmp_path: Path, ponder_home: Path
) -> None:
    """Quitting (here SIGTERM, as a logout sends) while a reply streams: the reply is saved
    with all the text the window had shown, not just the last checkpoint, and marked as
    cut off by the quit."""
    replay = tmp_path / "slow.jsonl"
    chunks = ["<think>\n"] + [f"thought {i}. " for i in range(2000)]
    replay.write_text("".join(json.dumps({"chunk": c}) + "\n" for c in chunks))
    env = dict(os.environ, PONDER_HOME=str(ponder_home), QT_QPA_PLATFORM="offscreen")
    db = ponder_home / "chats.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gui.app_driver", str(replay), "40", "Tell me everything"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if db.exists():
                reader = ChatStore(db)
                convs = reader.conversations()
                started = bool(convs) and len(reader.messages(convs[0].id)) == 2
                reader.close()
                if started:
                    break
        time.sleep(3)  # past a checkpoint, and into the next
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    shown = int(out.decode().rsplit("shown=", 1)[1].split()[0])
    assert shown > 0

    store = ChatStore(db)
    try:
        (conv,) = store.conversations()
        _user, reply = store.messages(conv.id)
        assert reply.state == "interrupted"  # saved at quit, not left streaming
        assert len(reply.reasoning) == shown
    finally:
        store.close()


def test_quitting_while_a_download_hangs_in_a_request_exits_cleanly(
    ponder_home: Path, tmp_path: Path
) -> None:
    """The Hub accepts the connection and never answers (a proxy that hangs): the
    download's thread is stuck in the request and cannot see the pause. Quitting must not
    wait for the request's timeout, nor abort ("QThread: Destroyed while thread is still
    running"); the chats are closed and the process exits 0 within seconds."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)  # connections complete in the kernel; nothing ever reads them
        endpoint = f"http://127.0.0.1:{hole.getsockname()[1]}"
        env = dict(
            os.environ,
            PONDER_HOME=str(ponder_home),
            QT_QPA_PLATFORM="offscreen",
            HF_ENDPOINT=endpoint,
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.quit_driver"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # Qt's offscreen notices may come first
                if line.strip() == "downloading":
                    break
            else:
                raise AssertionError("the download never started")
            time.sleep(1)  # the download's thread is now inside the request
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out
    assert "Destroyed while thread" not in out
    assert "exiting without waiting" in out  # the stuck thread was left, not destroyed
