"""The app's local API server: the Settings switch, the status bar, one shared engine.

The real window and engine process, the real server on a loopback port, the official
`openai` client; a recorded R1-style stream (replay) stands in for a model.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from pytestqt.qtbot import QtBot

from app.gui.viewmodels.api_server import ApiServerController
from app.gui.viewmodels.chat_controller import ModelChoice
from app.gui.views.main_window import MainWindow
from app.hardware.probe import probe
from app.server.models import ServedModels
from tests.loopback import free_port

pytestmark = pytest.mark.gui

ANSWER = "Forty-two."


def replay_file(path: Path, pace: float | None, words: int) -> Path:
    head: dict[str, object] = {"prompt": "<｜Assistant｜><think>\n"}
    if pace:
        head["tokens_per_s"] = pace
    lines: list[dict[str, object]] = [head]
    lines += [{"chunk": f"step{i} "} for i in range(words)]
    lines += [{"chunk": "\n</think>\n\n"}, {"chunk": ANSWER}]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


@pytest.fixture
def served(window: MainWindow, tmp_path: Path) -> Iterator[ApiServerController]:
    api = ApiServerController(
        window.controller.worker, ServedModels(find=list, machine=lambda: probe(bandwidth=False))
    )
    window.attach_api(api)
    slow = replay_file(tmp_path / "slow.jsonl", pace=60, words=120)
    api.set_default_model("slow", str(slow))
    yield api
    api.stop()


def test_the_switch_serves_on_loopback_and_the_status_bar_says_where(
    qtbot: QtBot, window: MainWindow, served: ApiServerController
) -> None:
    port = free_port()
    on = dataclasses.replace(window.controller.settings, serve_api=True, serve_port=port)
    window._apply_settings(on)
    url = f"http://127.0.0.1:{port}/v1"
    qtbot.waitUntil(window.api_label.isVisible, timeout=5000)
    assert window.api_label.text() == f"API {url}"
    with openai.OpenAI(base_url=url, api_key="none", max_retries=0) as client:
        reply = client.chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "6*7?"}]
        )
    assert reply.choices[0].message.content == ANSWER
    extra = reply.choices[0].message.model_extra or {}
    assert extra["reasoning_content"].startswith("step0")

    window._apply_settings(dataclasses.replace(on, serve_api=False))
    assert not window.api_label.isVisible()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_a_chat_message_waits_for_an_api_client_and_both_complete(
    qtbot: QtBot, window: MainWindow, served: ApiServerController, tmp_path: Path
) -> None:
    port = free_port()
    window._apply_settings(
        dataclasses.replace(window.controller.settings, serve_api=True, serve_port=port)
    )
    qtbot.waitUntil(window.api_label.isVisible, timeout=5000)
    result: dict[str, str] = {}

    def ask() -> None:
        with openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0
        ) as client:
            r = client.chat.completions.create(
                model="slow", messages=[{"role": "user", "content": "x"}]
            )
            result["api"] = r.choices[0].message.content or ""

    thread = threading.Thread(target=ask)
    thread.start()
    qtbot.waitUntil(lambda: "An API client" in window.statusBar().currentMessage(), timeout=10000)
    quick = replay_file(tmp_path / "quick.jsonl", pace=None, words=3)
    window.controller.set_model(ModelChoice("Quick", str(quick), is_replay=True))
    notices: list[str] = []
    window.controller.notice.connect(notices.append)
    with qtbot.waitSignal(window.controller.reply_finished, timeout=30000) as done:
        window.controller.send("And you?")
        qtbot.waitUntil(lambda: any("is using the model" in n for n in notices), timeout=5000)
    thread.join(timeout=30)
    assert result["api"] == ANSWER  # the API's reply was not cut for the chat's
    assert done.args[0].content == ANSWER and done.args[0].state == "complete"
