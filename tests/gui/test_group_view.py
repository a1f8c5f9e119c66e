"""Think N ways in the chat window: the real window, store and engine process; the model is
a recorded group of six R1-style samples played by the replay backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.group_reply import GroupReply
from app.core.paths import app_paths
from app.core.settings import Settings, load_settings
from app.core.store import ChatStore
from app.gui.render.math import MathRenderer
from app.gui.viewmodels.chat_controller import ChatController, ModelChoice
from app.gui.views.group_panel import GroupPanel
from app.gui.views.main_window import MainWindow
from app.gui.workers.engine_worker import EngineWorker
from app.inference.protocol import LoadSpec, ReplaySpec, SamplingParams
from tests.gui.conftest import ReplayFactory
from tests.gui.services import services_for
from tests.gui.test_chat_window import WAIT, finish, replies
from tests.gui.test_export import JSON, SaveDialog, export_from_menu

pytestmark = pytest.mark.gui

QUESTION = "What is 6 times 7?"
# Six samples: four say 42 (one as a fraction), one 41, one 7. Sample 6 thinks briefly, so
# it answers while the others still think.
ANSWERS = ["42", "42", "41", "84/2", "42", "7"]
THINKING_WORDS = [24, 26, 22, 28, 25, 3]


def thinking(i: int, words: int) -> str:
    return " ".join(f"s{i + 1}w{k}" for k in range(words))


def answer_text(i: int) -> str:
    return f"Sample {i + 1} multiplies: the result is $\\boxed{{{ANSWERS[i]}}}$."


def write_group(path: Path, words: list[int], tokens_per_s: float | None) -> ModelChoice:
    """A recorded group reply: each chunk tagged with its sample (see replay.py)."""
    lines = [json.dumps({"prompt": "<｜User｜>q<｜Assistant｜><think>\n"})]
    for i, n in enumerate(words):
        chunks = [w + " " for w in thinking(i, n).split()] + ["\n</think>\n\n"]
        chunks += [w + " " for w in answer_text(i).split()]
        lines += [json.dumps({"chunk": c, "sample": i}) for c in chunks]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ModelChoice("R1 (replay)", str(path), tokens_per_s, is_replay=True)


@pytest.fixture
def group_model(tmp_path: Path) -> ModelChoice:
    return write_group(tmp_path / "group.jsonl", THINKING_WORDS, 40)


def think(qtbot: QtBot, window: MainWindow, text: str, ways: int = 6) -> None:
    """Type the question, pick N in the button's menu, click "Think N ways"."""
    composer = window.composer
    composer.set_text(text)
    (choice,) = [a for a in composer.ways_menu.actions() if a.text() == f"{ways} ways"]
    choice.trigger()
    qtbot.mouseClick(composer.think_button, Qt.MouseButton.LeftButton)


def panel(window: MainWindow, reply: int = 0) -> GroupPanel:
    group_panel = replies(window)[reply].group_panel
    assert group_panel is not None
    return group_panel


def saved_group(store: ChatStore) -> GroupReply:
    (conv,) = store.conversations()
    group = GroupReply.from_stats(store.messages(conv.id)[-1].stats)
    assert group is not None
    return group


@pytest.fixture
def grouped(
    qtbot: QtBot, window: MainWindow, group_model: ModelChoice, store: ChatStore
) -> GroupPanel:
    """A chat whose one reply is the finished group of six."""
    window.controller.set_model(group_model)
    think(qtbot, window, QUESTION)
    finish(qtbot, window)
    return panel(window)


def test_six_lanes_stream_then_the_vote_the_chart_and_the_majority_reply(
    qtbot: QtBot, window: MainWindow, group_model: ModelChoice, store: ChatStore
) -> None:
    window.controller.set_model(group_model)
    think(qtbot, window, QUESTION)
    assert window.composer.text() == ""
    assert window.composer.stop_button.isVisibleTo(window)
    live = panel(window)
    lanes = live.lanes
    qtbot.waitUntil(lanes.isVisible, timeout=WAIT)
    assert len(lanes.lanes) == 6
    # Sample 6 thinks briefly: its lane shows its final answer while the others think.
    qtbot.waitUntil(lambda: lanes.lane_text(5).endswith(" 7"), timeout=WAIT)
    assert lanes.lane_text(5).startswith("6  Thought ")
    assert all("Thinking… " in lanes.lane_text(i) for i in range(5))
    assert "tokens" in lanes.lane_text(0) and " s · " in lanes.lane_text(0)
    finish(qtbot, window)

    reply = replies(window)[0]
    assert not lanes.isVisibleTo(window)
    assert live.vote.text() == "4 of 6 samples agree: 42"
    assert live.bars.rows() == [("42", 4), ("41", 1), ("7", 1)]
    # The majority's first sample is the reply: its thinking and its answer.
    assert "Sample 1 multiplies" in reply.answer_view.toPlainText()
    assert reply.thinking.text().startswith("s1w0 s1w1")
    assert "sample 1's answer, from the majority" in live.choice.text()
    rows = live.table.rows
    assert [r.answer.text() for r in rows] == ["42", "42", "41", "84/2", "42", "7"]
    assert [r.reward.text() for r in rows] == [f"reward {r}" for r in (1, 1, 0, 1, 1, 0)]
    assert [r.advantage.text() for r in rows] == ["+0.71"] * 2 + ["−1.41"] + ["+0.71"] * 2 + [
        "−1.41"
    ]
    assert [r.chosen.isVisibleTo(window) for r in rows] == [True] + [False] * 5
    # Every sample is saved with the reply, which carries sample 1's text.
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.state == "complete" and saved.content.strip() == answer_text(0)
    group = saved_group(store)
    assert len(group.samples) == 6 and group.chosen == 0
    assert [s.answer.strip() for s in group.samples] == [answer_text(i) for i in range(6)]
    assert all(s.stats is not None and s.stats.stop_reason == "eos" for s in group.samples)
    assert window.composer.think_button.isVisibleTo(window)


def test_each_samples_full_thinking_and_answer_is_one_click_away(
    qtbot: QtBot, window: MainWindow, grouped: GroupPanel
) -> None:
    row = grouped.table.rows[2]
    qtbot.mouseClick(row.show, Qt.MouseButton.LeftButton)
    assert row.detail is not None and row.detail.isVisibleTo(window)
    assert row.detail.thinking.body.toPlainText().strip() == thinking(2, 22)
    assert "Sample 3 multiplies" in row.detail.answer.toPlainText()
    qtbot.mouseClick(row.show, Qt.MouseButton.LeftButton)
    assert not row.detail.isVisibleTo(window)


def test_use_this_answer_puts_only_that_answer_into_the_history(
    qtbot: QtBot,
    window: MainWindow,
    grouped: GroupPanel,
    store: ChatStore,
    replay: ReplayFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    minority = grouped.table.rows[2]  # "41"
    qtbot.mouseClick(minority.use, Qt.MouseButton.LeftButton)
    reply = replies(window)[0]
    assert "Sample 3 multiplies" in reply.answer_view.toPlainText()
    assert reply.thinking.text().startswith("s3w0")
    assert minority.chosen.isVisibleTo(window) and not minority.use.isVisibleTo(window)
    assert grouped.table.rows[0].use.isVisibleTo(window)
    assert "sample 3's answer, as you chose" in grouped.choice.text()
    assert grouped.vote.text() == "4 of 6 samples agree: 42"  # the vote itself is unchanged
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.content.strip() == answer_text(2)
    assert saved.reasoning.startswith("s3w0")
    assert saved_group(store).chosen == 2

    # The next question goes to the engine with that one answer as the assistant's turn.
    sent: list[list[dict[str, str]]] = []
    worker = window.controller.worker
    submit = worker.submit

    def recording_submit(
        model: LoadSpec | ReplaySpec,
        messages: list[dict[str, str]],
        sampling: SamplingParams,
        samples: int = 1,
    ) -> None:  # what the engine is asked, recorded on its way there
        sent.append(messages)
        submit(model, messages, sampling, samples)

    monkeypatch.setattr(worker, "submit", recording_submit)
    window.controller.set_model(replay())
    window.composer.set_text("And 6 times 8?")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    finish(qtbot, window)
    (history,) = sent
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"].strip() == answer_text(2)
    text = json.dumps(history)
    assert "Sample 1 multiplies" not in text and "s3w0" not in text  # no other sample, no thinking


def test_thumbs_override_rewards_and_the_advantages_follow(
    qtbot: QtBot, window: MainWindow, grouped: GroupPanel, store: ChatStore
) -> None:
    last = grouped.table.rows[5]  # "7", reward 0
    qtbot.mouseClick(last.up, Qt.MouseButton.LeftButton)
    assert last.up.isChecked() and last.reward.text() == "reward 1 (your vote)"
    rows = grouped.table.rows
    assert [r.advantage.text() for r in rows] == ["+0.45"] * 2 + ["−2.24"] + ["+0.45"] * 3
    assert saved_group(store).votes == {5: True}
    # Thumbs down on a majority sample; then taking the thumbs up back.
    qtbot.mouseClick(rows[0].down, Qt.MouseButton.LeftButton)
    assert rows[0].reward.text() == "reward 0 (your vote)" and rows[0].down.isChecked()
    qtbot.mouseClick(last.up, Qt.MouseButton.LeftButton)
    assert not last.up.isChecked() and last.reward.text() == "reward 0"
    assert saved_group(store).votes == {0: False}
    assert grouped.bars.rows() == [("42", 4), ("41", 1), ("7", 1)]  # votes do not regroup


def test_a_group_reply_is_saved_and_reopened_with_all_its_samples(
    qtbot: QtBot,
    window: MainWindow,
    grouped: GroupPanel,
    store: ChatStore,
    worker: EngineWorker,
) -> None:
    qtbot.mouseClick(grouped.table.rows[3].use, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(grouped.table.rows[2].down, Qt.MouseButton.LeftButton)
    finals = [r.answer.text() for r in grouped.table.rows]
    cid = store.conversations()[0].id
    window.new_chat()
    assert replies(window) == []
    window.controller.open_conversation(cid)
    reopened = panel(window)
    qtbot.waitUntil(reopened.isVisible, timeout=WAIT)
    assert reopened.vote.text() == "4 of 6 samples agree: 42"
    assert reopened.bars.rows() == [("42", 4), ("41", 1), ("7", 1)]
    assert len(reopened.table.rows) == 6
    assert reopened.table.rows[3].chosen.isVisibleTo(window)
    assert reopened.table.rows[2].down.isChecked()
    assert "Sample 4 multiplies" in replies(window)[0].answer_view.toPlainText()

    # A fresh window and controller on the same database: the same group.
    controller = ChatController(store, worker, Settings())
    fresh = MainWindow(controller, services_for(controller), math=MathRenderer())
    qtbot.addWidget(fresh)
    fresh.controller.open_conversation(cid)
    again = panel(fresh)
    assert [r.answer.text() for r in again.table.rows] == finals
    row = again.table.rows[5]
    qtbot.mouseClick(row.show, Qt.MouseButton.LeftButton)
    assert row.detail is not None
    assert row.detail.thinking.body.toPlainText().strip() == thinking(5, 3)


def test_export_to_markdown_and_json_keeps_every_sample(
    qtbot: QtBot,
    window: MainWindow,
    grouped: GroupPanel,
    store: ChatStore,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cid = store.conversations()[0].id
    export_from_menu(window, monkeypatch, cid, SaveDialog(tmp_path / "six.md"))
    text = (tmp_path / "six.md").read_text(encoding="utf-8")
    assert answer_text(0).strip() in text
    assert "Thought 6 ways. 4 of 6 samples agree: 42" in text
    assert "### Sample 1 (answer: 42, reward 1, advantage +0.71, the reply)" in text
    assert "### Sample 3 (answer: 41, reward 0, advantage -1.41)" in text
    for i in range(6):
        assert answer_text(i).strip() in text and thinking(i, THINKING_WORDS[i]) in text

    export_from_menu(window, monkeypatch, cid, SaveDialog(tmp_path / "six", JSON))
    data = json.loads((tmp_path / "six.json").read_text(encoding="utf-8"))
    group = data["messages"][1]["stats"]["group"]
    assert [s["answer"].strip() for s in group["samples"]] == [answer_text(i) for i in range(6)]


def test_stop_mid_group_keeps_what_each_sample_wrote(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, store: ChatStore
) -> None:
    window.controller.set_model(write_group(tmp_path / "long.jsonl", [400] * 6, 40))
    think(qtbot, window, QUESTION)
    lanes = panel(window).lanes
    qtbot.waitUntil(lambda: all(lane.tokens >= 5 for lane in lanes.lanes), timeout=WAIT)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    finish(qtbot, window)

    reply = replies(window)[0]
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.state == "stopped"
    assert "Stopped" in reply.note.text()
    group = saved_group(store)
    assert len(group.samples) == 6
    for i, sample in enumerate(group.samples):
        assert sample.reasoning.startswith(f"s{i + 1}w0 s{i + 1}w1 s{i + 1}w2")
        assert sample.stats is not None and sample.stats.stop_reason == "stopped"
    stopped = panel(window)
    assert stopped.vote.text() == "No sample gave an answer"
    row = stopped.table.rows[4]
    qtbot.mouseClick(row.show, Qt.MouseButton.LeftButton)
    assert row.detail is not None
    assert row.detail.thinking.body.toPlainText() == group.samples[4].reasoning


def test_n_is_remembered(qtbot: QtBot, window: MainWindow, store: ChatStore) -> None:
    composer = window.composer
    assert composer.think_button.text() == "Think 4 ways"  # the default
    (five,) = [a for a in composer.ways_menu.actions() if a.text() == "5 ways"]
    five.trigger()
    assert composer.think_button.text() == "Think 5 ways" and five.isChecked()
    assert window.controller.settings.group_samples == 5
    saved = load_settings(app_paths().settings_file)
    assert saved.group_samples == 5
    # The next start: a window made with the saved settings offers 5 ways.
    worker = window.controller.worker
    controller = ChatController(store, worker, saved)
    later = MainWindow(controller, services_for(controller), math=MathRenderer())
    qtbot.addWidget(later)
    assert later.composer.think_button.text() == "Think 5 ways"


def test_ctrl_enter_thinks_n_ways_and_regenerate_thinks_as_many(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, store: ChatStore
) -> None:
    window.controller.set_model(write_group(tmp_path / "g.jsonl", [2, 2, 2], None))
    window.composer.set_ways(3)
    window.composer.input.setFocus()
    window.composer.set_text(QUESTION)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    finish(qtbot, window)
    assert len(saved_group(store).samples) == 3
    window.composer.set_ways(2)  # regenerate repeats the reply as it was asked: 3 ways
    replies(window)[0].regenerate_button.click()
    finish(qtbot, window)
    assert len(saved_group(store).samples) == 3
    assert panel(window).vote.text() == "2 of 3 samples agree: 42"


def test_a_streaming_group_is_checkpointed_and_reopens_with_its_lanes(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, store: ChatStore
) -> None:
    window.controller.set_model(write_group(tmp_path / "long.jsonl", [400] * 6, 40))
    think(qtbot, window, QUESTION)
    cid = store.conversations()[0].id

    def checkpointed() -> GroupReply | None:
        return GroupReply.from_stats(store.messages(cid)[-1].stats)

    # Every few seconds the reply is saved with what each sample has written so far.
    qtbot.waitUntil(lambda: checkpointed() is not None, timeout=WAIT)
    group = checkpointed()
    assert group is not None and len(group.samples) == 6
    assert all(s.reasoning.startswith(f"s{i + 1}w0") for i, s in enumerate(group.samples))
    assert store.messages(cid)[-1].state == "streaming"

    window.new_chat()
    window.controller.open_conversation(cid)
    lanes = panel(window).lanes
    assert len(lanes.lanes) == 6
    qtbot.waitUntil(lambda: "Thinking… " in lanes.lane_text(0), timeout=WAIT)
    before = lanes.lanes[0].tokens
    qtbot.waitUntil(lambda: lanes.lanes[0].tokens > before + 5, timeout=WAIT)  # it goes on
    window.controller.stop()
    finish(qtbot, window)
    assert len(saved_group(store).samples) == 6


def test_answer_now_ends_every_samples_thinking_and_each_answers(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, store: ChatStore
) -> None:
    window.controller.set_model(write_group(tmp_path / "long.jsonl", [400] * 6, 40))
    think(qtbot, window, QUESTION)
    live = panel(window)
    qtbot.waitUntil(lambda: all(lane.tokens >= 3 for lane in live.lanes.lanes), timeout=WAIT)
    qtbot.mouseClick(live.answer_now_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    group = saved_group(store)
    assert [s.answer.strip() for s in group.samples] == [answer_text(i) for i in range(6)]
    assert all(len(s.reasoning.split()) < 400 for s in group.samples)
    assert live.vote.text() == "4 of 6 samples agree: 42"
    assert not live.answer_now_button.isVisibleTo(window)
