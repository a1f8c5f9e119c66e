"""A really full disk: Ponder's folder on a small tmpfs, filled up while a reply streams.

Real filesystem, real SQLite, the real engine process (its log on the full disk too), the
real 270M model and a replay model. Mounting needs root (our build machines run tests as
root); elsewhere the tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.events import AnswerDelta, Done, ReasoningDelta
from app.core.settings import Settings
from app.core.store import ChatStore
from app.gui.render.math import MathRenderer
from app.gui.viewmodels import chat_controller
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.client import EngineClient
from app.inference.protocol import LoadSpec, SamplingParams
from tests.gui.conftest import ReplayFactory
from tests.gui.services import services_for
from tests.gui.test_chat_window import WAIT, replies

pytestmark = pytest.mark.gui


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs mounted for this test."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk refuses; returns the filler (delete it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())
    probe = disk / "probe"
    with pytest.raises(OSError) as full:
        probe.write_bytes(b"x" * 8192)
    assert full.value.errno == errno.ENOSPC
    probe.unlink(missing_ok=True)
    return filler


def test_the_engine_answers_with_its_log_on_a_full_disk(small_disk: Path, gemma_path: Path) -> None:
    """The engine's log (llama.cpp's and Python's) cannot be written: lines are dropped,
    the engine lives and answers, twice, in the same process."""
    logs = small_disk / "logs"
    logs.mkdir()
    fill(small_disk)
    client = EngineClient(logs / "engine.log")
    try:
        pids, texts = [], []
        for question in ("Hello there", "Tell me more"):
            events = list(
                client.generate(
                    LoadSpec(str(gemma_path), n_ctx=512),
                    [{"role": "user", "content": question}],
                    SamplingParams(temperature=0.0, max_tokens=12, seed=1),
                )
            )
            assert isinstance(events[-1], Done), events[-1]
            texts.append(
                "".join(e.text for e in events if isinstance(e, ReasoningDelta | AnswerDelta))
            )
            pids.append(client.pid)
        assert all(t.strip() for t in texts)
        assert pids[0] is not None and pids[0] == pids[1]  # the same engine, still alive
    finally:
        client.close()


@pytest.fixture
def disk_window(
    qtbot: QtBot, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MainWindow, ChatStore]]:
    monkeypatch.setattr(chat_controller, "RETRY_SAVE_MS", 200)
    monkeypatch.setenv("PONDER_HOME", str(small_disk))
    store = ChatStore(small_disk / "chats.sqlite3")
    worker = EngineWorker(EngineClient(small_disk / "logs" / "engine.log"))
    controller = ChatController(store, worker, Settings())
    win = MainWindow(controller, services_for(controller), math=MathRenderer())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win, store
    worker.shutdown()
    store.close()


def test_a_disk_that_fills_mid_reply_keeps_the_reply_and_saves_it_when_space_returns(
    qtbot: QtBot, disk_window: tuple[MainWindow, ChatStore], replay: ReplayFactory
) -> None:
    win, store = disk_window
    answer = "Every word of this answer must survive the full disk. " * 120
    win.controller.set_model(replay(answer=answer, tokens_per_s=300, words_per_chunk=8))
    win.composer.set_text("Write a lot")
    with qtbot.waitSignal(win.controller.reply_finished, timeout=WAIT) as done:
        win.composer.send_button.click()
        qtbot.waitUntil(
            lambda: (
                bool(store.conversations())
                and len(store.messages(store.conversations()[0].id)) == 2
            ),
            timeout=WAIT,
        )
        filler = fill(Path(os.environ["PONDER_HOME"]))
    row = done.args[0]
    assert row.state == "complete", row.stats  # not an engine crash
    assert row.content.strip() == answer.strip()
    assert answer.strip()[:60] in replies(win)[0].answer_view.toPlainText()
    cid = store.conversations()[0].id
    assert store.messages(cid)[-1].state != "complete"  # not saved yet: no room

    filler.unlink()
    qtbot.waitUntil(lambda: store.messages(cid)[-1].state == "complete", timeout=WAIT)
    assert store.messages(cid)[-1].content.strip() == answer.strip()
