"""The chat window end to end: real widgets, real SQLite, the real engine process running
the replay backend (scripted reasoning streams), and one round trip with the real model."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.views.main_window import MainWindow
from app.gui.views.message_widgets import AssistantMessage, UserMessage
from tests.gui.conftest import ReplayFactory
from tests.gui.services import services_for

pytestmark = pytest.mark.gui

WAIT = 30_000


def send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.composer.input.setFocus()
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)


def replies(window: MainWindow) -> list[AssistantMessage]:
    return [w for w in window.chat._widgets if isinstance(w, AssistantMessage)]


def questions(window: MainWindow) -> list[UserMessage]:
    return [w for w in window.chat._widgets if isinstance(w, UserMessage)]


def finish(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT)


def test_a_reply_streams_thinking_then_answer_and_is_saved(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay())
    send(qtbot, window, "Why is the sky blue?")
    # The question is saved before any reply arrives, and the box is emptied.
    convs = store.conversations()
    assert [c.title for c in convs] == ["Why is the sky blue?"]
    assert [m.role for m in store.messages(convs[0].id)][:1] == ["user"]
    assert window.composer.text() == ""
    assert window.composer.stop_button.isVisibleTo(window)
    finish(qtbot, window)

    reply = replies(window)[0]
    assert "Rayleigh scattering" in reply.answer_view.toPlainText()
    assert "**" not in reply.answer_view.toPlainText()  # rendered, not raw Markdown
    assert "Let me think" in reply.thinking.body.toPlainText()
    assert reply.thinking.toggle.text().startswith("Thought for")
    assert not reply.thinking.is_open()  # folded away once the answer came
    assert "tok/s" in reply.stats_label.text() and "Replay" in reply.stats_label.text()
    saved = store.messages(convs[0].id)[-1]
    assert saved.state == "complete"
    assert saved.reasoning.startswith("Let me think")
    assert "Rayleigh" in saved.content and "<think>" not in saved.content
    assert window.composer.send_button.isVisibleTo(window)
    # The sidebar lists the chat under the title from the question, selected.
    assert window.conversations.rowCount() == 1
    assert window.conversations.data(window.conversations.index(0)) == "Why is the sky blue?"


def test_clicking_the_folded_thinking_opens_it(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay())
    send(qtbot, window, "hi")
    finish(qtbot, window)
    panel = replies(window)[0].thinking
    assert not panel.body.isVisible()
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    assert panel.body.isVisible() and panel.is_open()


def test_reasoning_opened_after_the_reply_reads_from_its_start(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    """The live peek follows the end of the reasoning; opened afterwards to read it, the
    whole thought is there from its first line (no box scrolling inside the chat), not
    where the peek left it."""
    reasoning = " ".join(f"Step {i}: check the next case carefully.\n" for i in range(60))
    window.controller.set_model(replay(reasoning=reasoning, tokens_per_s=400))
    send(qtbot, window, "hi")
    panel = replies(window)[0].thinking
    qtbot.waitUntil(lambda: "Step 5" in panel.body.toPlainText(), timeout=WAIT)
    finish(qtbot, window)
    if panel.is_open():
        qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)  # fold it first
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    bar = panel.body.verticalScrollBar()
    assert bar.maximum() == 0 and bar.value() == 0  # all of it, at its full height
    top = panel.body.cursorForPosition(QPoint(4, 4)).block().text()
    assert top.startswith("Step 0")


def test_shift_enter_makes_a_new_line_and_sends_nothing(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay())
    window.composer.input.setFocus()
    qtbot.keyClicks(window.composer.input, "line one")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer.input, "line two")
    assert window.composer.text() == "line one\nline two"
    assert store.conversations() == []


def test_sending_without_a_model_keeps_the_text_and_says_what_to_do(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert "No model is chosen yet" in window.chat.empty.text()  # said before sending, too
    send(qtbot, window, "hello")
    assert window.composer.text() == "hello"
    assert "Choose a model first" in window.statusBar().currentMessage()


def test_escape_stops_a_reply_and_keeps_what_was_written(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(reasoning="word " * 400, tokens_per_s=50))
    send(qtbot, window, "think long")
    reply = replies(window)[0]
    qtbot.waitUntil(lambda: "word" in reply.thinking.body.toPlainText(), timeout=WAIT)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    finish(qtbot, window)
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.state == "stopped"
    assert saved.reasoning.startswith("word")
    assert "Stopped" in reply.note.text()


def test_answer_now_ends_the_thinking_and_the_answer_follows(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(
        replay(reasoning="hmm " * 400, answer="Forty-two.", tokens_per_s=50)
    )
    send(qtbot, window, "answer quickly")
    reply = replies(window)[0]
    qtbot.waitUntil(reply.thinking.answer_now_button.isVisible, timeout=WAIT)
    qtbot.mouseClick(reply.thinking.answer_now_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    assert "Forty-two." in reply.answer_view.toPlainText()
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.stats is not None and saved.stats["thinking_ended_by"] == "answer_now"
    assert saved.reasoning.count("hmm") < 400


def test_a_streaming_reply_is_checkpointed_while_it_streams(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(reasoning="step " * 600, tokens_per_s=100))
    send(qtbot, window, "long one")
    cid = store.conversations()[0].id
    # Read the file through a second connection, as a restarted app would.
    other = ChatStore(store.path)
    try:
        qtbot.waitUntil(lambda: other.messages(cid)[-1].reasoning.startswith("step"), timeout=WAIT)
        assert other.messages(cid)[-1].state == "streaming"
    finally:
        other.close()
    window.controller.stop()
    finish(qtbot, window)


def test_regenerate_replaces_the_last_reply(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(answer="first answer"))
    send(qtbot, window, "q")
    finish(qtbot, window)
    window.controller.set_model(replay(answer="second answer"))
    qtbot.mouseClick(replies(window)[0].regenerate_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    assert len(replies(window)) == 1
    assert "second answer" in replies(window)[0].answer_view.toPlainText()
    rows = store.messages(store.conversations()[0].id)
    assert [r.role for r in rows] == ["user", "assistant"]
    assert rows[1].content == "second answer"


def test_edit_and_resend_replaces_the_later_messages_after_confirming(
    qtbot: QtBot,
    window: MainWindow,
    replay: ReplayFactory,
    store: ChatStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The confirmation is a modal QMessageBox; the test answers it by patching
    QMessageBox.question (a modal loop cannot be clicked from the test thread)."""
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []

    def yes(*args: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    window.controller.set_model(replay(answer="one"))
    send(qtbot, window, "first question")
    finish(qtbot, window)
    send(qtbot, window, "second question")
    finish(qtbot, window)
    window.controller.set_model(replay(answer="edited answer"))
    first = questions(window)[0]
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    first.editor.setPlainText("first question, edited")
    qtbot.mouseClick(first.resend_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)
    assert asked and "3 messages" in asked[0]
    rows = store.messages(store.conversations()[0].id)
    assert [(r.role, r.content) for r in rows] == [
        ("user", "first question, edited"),
        ("assistant", "edited answer"),
    ]
    assert [w.row.content for w in questions(window)] == ["first question, edited"]


def test_an_engine_crash_is_shown_and_the_next_message_works(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(reasoning="deep " * 500, tokens_per_s=50))
    send(qtbot, window, "crash please")
    reply = replies(window)[0]
    qtbot.waitUntil(lambda: "deep" in reply.thinking.body.toPlainText(), timeout=WAIT)
    pid = window.controller.worker.client.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    finish(qtbot, window)
    assert window.isVisible()
    assert reply.note.isVisible() and "engine" in reply.note.text().lower()
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.state == "error" and saved.reasoning.startswith("deep")

    window.controller.set_model(replay(answer="back again"))
    send(qtbot, window, "still there?")
    finish(qtbot, window)
    assert "back again" in replies(window)[-1].answer_view.toPlainText()


def test_switching_chats_and_back_shows_each_conversation(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    window.controller.set_model(replay(answer="about cats"))
    send(qtbot, window, "cats?")
    finish(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat._widgets == []
    window.controller.set_model(replay(answer="about dogs"))
    send(qtbot, window, "dogs?")
    finish(qtbot, window)
    assert window.conversations.rowCount() == 2
    cats = next(c.id for c in store.conversations() if c.title == "cats?")
    window.sidebar.conversation_selected.emit(cats)
    assert "about cats" in replies(window)[0].answer_view.toPlainText()
    assert [q.row.content for q in questions(window)] == ["cats?"]


def test_an_interrupted_reply_reappears_marked_after_a_restart(
    qtbot: QtBot, controller: ChatController, store: ChatStore
) -> None:
    cid = store.create_conversation("crashed chat")
    store.add_message(cid, "user", "question")
    mid = store.add_message(cid, "assistant", "", state="streaming")
    store.checkpoint(mid, "half an answ", "some reasoning")
    assert store.recover_interrupted() == 1
    win = MainWindow(controller, services_for(controller))
    qtbot.addWidget(win)
    controller.open_conversation(cid)
    reply = replies(win)[0]
    assert "half an answ" in reply.answer_view.toPlainText()
    assert "Interrupted" in reply.note.text()
    assert reply.regenerate_button.isVisibleTo(win)


def test_a_long_chat_opens_with_its_last_messages_and_loads_earlier_ones_on_scroll(
    qtbot: QtBot, window: MainWindow, store: ChatStore
) -> None:
    cid = store.create_conversation("long")
    for i in range(60):
        store.add_message(cid, "user", f"question {i}")
        store.add_message(cid, "assistant", f"answer {i}")
    window.controller.open_conversation(cid)
    built = window.chat.built_count()
    assert 0 < built < 120
    assert window.chat._widgets[-1].row.content == "answer 59"
    qtbot.waitUntil(
        lambda: window.chat.verticalScrollBar().value() == window.chat.verticalScrollBar().maximum()
    )
    while window.chat.load_earlier():
        pass
    assert window.chat.built_count() == 120
    assert window.chat._widgets[0].row.content == "question 0"


def test_keyboard_shortcuts_move_focus(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert isinstance(QApplication.focusWidget(), QLineEdit)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.composer.input


def test_every_control_has_an_accessible_name(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory
) -> None:
    window.controller.set_model(replay())
    send(qtbot, window, "hi")
    finish(qtbot, window)
    controls = [
        w
        for w in window.findChildren(QWidget)
        if isinstance(w, QAbstractButton | QLineEdit | QPlainTextEdit) and w.isVisibleTo(window)
    ]
    assert len(controls) > 8
    unnamed = [f"{type(w).__name__} {w.objectName()!r}" for w in controls if not w.accessibleName()]
    assert unnamed == []


def test_a_broken_gguf_is_refused_with_a_reason(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with qtbot.waitSignal(window.picker.check_failed, timeout=WAIT) as blocker:
        window.picker.choose(bad)
    assert window.controller.model is None
    assert "broken.gguf" in window.picker.fit_label.text()
    # The whole reason, in the chat column, for as long as it takes to read it.
    assert window.problem.isVisibleTo(window) and window.problem.text() == blocker.args[1]


def test_an_incomplete_download_is_refused_before_loading(
    qtbot: QtBot, window: MainWindow, r1_header_path: Path, tmp_path: Path
) -> None:
    model = tmp_path / "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"
    model.symlink_to(r1_header_path)  # the real header, most tensor data missing
    with qtbot.waitSignal(window.picker.check_failed, timeout=WAIT) as blocker:
        window.picker.choose(model)
    assert "is incomplete" in blocker.args[1] and "download" in blocker.args[1]
    assert window.controller.model is None


def test_a_real_gguf_shows_its_name_and_fit(
    qtbot: QtBot, window: MainWindow, gemma_path: Path
) -> None:
    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(gemma_path)
    assert window.controller.model is not None
    assert window.picker.combo.currentText() == "Gemma 3 270m · Q4_K_M"
    fit = window.picker.fit_label.text()
    assert any(v in fit for v in ("CPU only", "Fits on GPU", "Partial offload")), fit
    assert "tok/s" in fit


@pytest.mark.integration
@pytest.mark.slow
def test_round_trip_with_the_real_model(
    qtbot: QtBot, window: MainWindow, gemma_path: Path, store: ChatStore
) -> None:
    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(gemma_path)
    window.controller.set_settings(window.controller.settings.__class__(max_tokens=24, n_ctx=2048))
    send(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=120_000)
    reply = replies(window)[0]
    saved = store.messages(store.conversations()[0].id)[-1]
    assert saved.state == "complete" and saved.content
    assert saved.stats is not None and saved.stats["backend"] == "CPU"
    assert "tok/s" in reply.stats_label.text()
    assert "tokens" in window.rate_label.text()


def test_settings_from_the_dialog_apply_at_once_and_are_saved(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, ponder_home: Path
) -> None:
    from PySide6.QtCore import QTimer

    from app.core.paths import app_paths
    from app.core.settings import load_settings
    from app.gui.views.settings_dialog import SettingsDialog

    def choose_collapsed_and_ok() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        dialog.thinking_panel.setCurrentIndex(dialog.thinking_panel.findData("collapsed"))
        dialog.max_tokens.setValue(1234)
        dialog.ok_button.click()

    QTimer.singleShot(0, choose_collapsed_and_ok)
    window.open_settings()  # modal: the timer above answers it
    assert window.controller.settings.thinking_panel == "collapsed"
    saved = load_settings(app_paths().settings_file)
    assert (saved.thinking_panel, saved.max_tokens) == ("collapsed", 1234)

    # The next reply streams with its thinking folded (the title still counts).
    window.controller.set_model(replay(reasoning="ponder " * 300, tokens_per_s=100))
    send(qtbot, window, "go")
    reply = replies(window)[0]
    qtbot.waitUntil(lambda: "Thinking" in reply.thinking.toggle.text(), timeout=WAIT)
    qtbot.waitUntil(reply.thinking.isVisible, timeout=WAIT)
    assert not reply.thinking.is_open()
    window.controller.stop()
    finish(qtbot, window)


def test_the_boxed_toggle_is_remembered(
    qtbot: QtBot, window: MainWindow, ponder_home: Path
) -> None:
    from app.core.paths import app_paths
    from app.core.settings import load_settings

    window.composer.boxed.setFocus()
    qtbot.keyClick(window.composer.boxed, Qt.Key.Key_Space)
    assert window.controller.settings.boxed_answers
    assert load_settings(app_paths().settings_file).boxed_answers


def test_models_other_apps_downloaded_are_in_the_picker(
    qtbot: QtBot, controller: ChatController, home: Path, gemma_path: Path
) -> None:
    lmstudio = home / ".lmstudio" / "models" / "unsloth" / "gemma-3-270m-it-GGUF"
    lmstudio.mkdir(parents=True)
    (lmstudio / "gemma-3-270m-q4_k_m.gguf").hardlink_to(gemma_path)  # no copy, as LM Studio
    win = MainWindow(controller, services_for(controller))
    qtbot.addWidget(win)
    combo = win.picker.combo

    def entries() -> list[str]:
        return [combo.itemText(i) for i in range(combo.count())]

    # Found in the background: wait for the list, not for a signal that may have passed.
    qtbot.waitUntil(lambda: any("LM Studio" in t for t in entries()), timeout=WAIT)
    index = next(i for i, t in enumerate(entries()) if "LM Studio" in t)
    with qtbot.waitSignal(win.picker.model_chosen, timeout=WAIT):
        combo.setCurrentIndex(index)
        combo.activated.emit(index)
    assert controller.model is not None and controller.model.path.endswith("q4_k_m.gguf")


def test_the_settings_say_what_auto_means_for_the_chosen_model(
    qtbot: QtBot, window: MainWindow, gemma_path: Path
) -> None:
    from PySide6.QtCore import QTimer

    from app.gui.views.settings_dialog import SettingsDialog

    with qtbot.waitSignal(window.picker.model_chosen, timeout=WAIT):
        window.picker.choose(gemma_path)
    seen: list[str] = []

    def read_and_cancel() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        seen.append(dialog.hardware_hint.text())
        dialog.cancel_button.click()

    QTimer.singleShot(0, read_and_cancel)
    window.open_settings()
    assert seen and seen[0].startswith("Auto for Gemma 3 270m:")
    assert "tokens of context" in seen[0] and "layers on the GPU" in seen[0]


def test_editing_a_question_uses_the_message_boxs_keys(
    qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore
) -> None:
    """Esc cancels the edit, Enter sends it (Shift+Enter is a new line), as in the box
    below the chat."""
    window.controller.set_model(replay(answer="first"))
    send(qtbot, window, "original")
    finish(qtbot, window)
    first = questions(window)[0]
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(first.editor, Qt.Key.Key_Escape)
    assert not first.editor.isVisible() and first.text.isVisible()
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    first.editor.clear()
    qtbot.keyClicks(first.editor, "edited")
    qtbot.keyClick(first.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert first.editor.toPlainText() == "edited\n"  # a new line, nothing sent
    qtbot.keyClick(first.editor, Qt.Key.Key_Return)
    finish(qtbot, window)
    rows = store.messages(store.conversations()[0].id)
    assert [r.content for r in rows if r.role == "user"] == ["edited"]
