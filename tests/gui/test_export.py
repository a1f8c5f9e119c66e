"""Exporting a chat from the sidebar's menu, through the real window, store and engine.

The save dialog and the warning box are modal: they run their own event loop and wait for a
person, so nothing on the test thread could click them. Both are replaced (monkeypatch) by
functions that answer as the user would and record what the window asked or said; everything
between the menu and the file on disk is the real code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.core.store import ChatStore
from app.gui.views.main_window import MainWindow
from tests.gui.conftest import ReplayFactory
from tests.gui.test_chat_window import finish, send

pytestmark = pytest.mark.gui

QUESTION = "Why is the sky blue?"
MARKDOWN = "Markdown (*.md)"
JSON = "JSON (*.json)"


@dataclass
class SaveDialog:
    """Stands in for ``QFileDialog.getSaveFileName``: answers ``path`` with ``kind`` chosen.

    A ``path`` of None is the user pressing Cancel.
    """

    path: Path | None
    kind: str = MARKDOWN
    suggested: list[str] = field(default_factory=list)

    def __call__(self, parent: QWidget, caption: str, where: str, filters: str) -> tuple[str, str]:
        assert self.kind in filters.split(";;")  # the user can only pick an offered type
        self.suggested.append(where)
        return ("", "") if self.path is None else (str(self.path), self.kind)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ``QMessageBox.warning`` was asked to say, title and text, instead of a modal box."""
    said: list[str] = []

    def warning(parent: QWidget, title: str, text: str) -> QMessageBox.StandardButton:
        said.append(f"{title}: {text}")
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warning)
    return said


@pytest.fixture
def cid(qtbot: QtBot, window: MainWindow, replay: ReplayFactory, store: ChatStore) -> int:
    """A chat with one question and its reply (replay backend), shown in the window."""
    window.controller.set_model(replay())
    send(qtbot, window, QUESTION)
    finish(qtbot, window)
    (conv,) = store.conversations()
    return conv.id


def export_from_menu(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, cid: int, dialog: SaveDialog
) -> None:
    """Right-click the chat in the sidebar and choose "Export…"; the dialog answers."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    menu = window.sidebar.context_menu(cid)
    (export,) = [a for a in menu.actions() if a.text() == "Export…"]
    export.trigger()


def test_markdown_export_holds_the_question_the_answer_and_the_folded_thinking(
    qtbot: QtBot,
    window: MainWindow,
    cid: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warnings: list[str],
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    dialog = SaveDialog(folder / "sky.md")
    export_from_menu(window, monkeypatch, cid, dialog)

    # The dialog proposes a file named after the chat, without characters files dislike.
    assert [Path(s).name for s in dialog.suggested] == ["Why is the sky blue.md"]
    text = (folder / "sky.md").read_text(encoding="utf-8")
    assert QUESTION in text
    assert "The sky is **blue** because of Rayleigh scattering." in text
    opened, thought, closed = (
        text.index("<details>"),
        text.index("Let me think. The sky scatters blue light more."),
        text.index("</details>"),
    )
    assert opened < thought < closed < text.index("Rayleigh scattering")
    # Written atomically: the finished file and nothing else (no temporary left behind).
    assert [p.name for p in folder.iterdir()] == ["sky.md"]
    assert warnings == []
    assert window.statusBar().currentMessage() == f"Exported to {folder / 'sky.md'}"


def test_json_export_parses_and_holds_the_messages(
    qtbot: QtBot,
    window: MainWindow,
    cid: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warnings: list[str],
) -> None:
    # The user picked the JSON type and typed a name without an extension.
    export_from_menu(window, monkeypatch, cid, SaveDialog(tmp_path / "sky", JSON))

    data = json.loads((tmp_path / "sky.json").read_text(encoding="utf-8"))
    assert not (tmp_path / "sky").exists() and not (tmp_path / "sky.md").exists()
    assert data["title"] == QUESTION
    question, answer = data["messages"]
    assert (question["role"], question["content"]) == ("user", QUESTION)
    assert answer["role"] == "assistant"
    assert answer["content"] == "The sky is **blue** because of Rayleigh scattering."
    assert answer["reasoning"] == "Let me think. The sky scatters blue light more."
    assert answer["state"] == "complete"
    assert warnings == []


def test_a_folder_that_does_not_exist_is_reported_plainly_and_nothing_is_written(
    qtbot: QtBot,
    window: MainWindow,
    cid: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warnings: list[str],
) -> None:
    missing = tmp_path / "no such folder"
    with qtbot.captureExceptions() as exceptions:
        export_from_menu(window, monkeypatch, cid, SaveDialog(missing / "sky.md"))

    assert exceptions == []  # no traceback: the user gets a sentence instead
    assert warnings == [
        f"Export failed: The folder “{missing}” does not exist. Choose an existing folder."
    ]
    assert not missing.exists()  # no folder made up on the way
    assert "Exported" not in window.statusBar().currentMessage()


def test_cancelling_the_dialog_writes_nothing(
    qtbot: QtBot,
    window: MainWindow,
    cid: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warnings: list[str],
) -> None:
    exports = {"*.md", "*.json", "*.tmp"}
    before = {p for pattern in exports for p in tmp_path.rglob(pattern)}
    export_from_menu(window, monkeypatch, cid, SaveDialog(None))
    assert {p for pattern in exports for p in tmp_path.rglob(pattern)} == before
    assert warnings == []
    assert "Exported" not in window.statusBar().currentMessage()


def test_a_write_that_fails_says_why_and_leaves_no_partial_file(
    qtbot: QtBot,
    window: MainWindow,
    cid: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warnings: list[str],
) -> None:
    folder = tmp_path / "exports"
    (folder / "sky.md").mkdir(parents=True)  # the name is taken by a folder: the write fails
    with qtbot.captureExceptions() as exceptions:
        export_from_menu(window, monkeypatch, cid, SaveDialog(folder / "sky.md"))

    assert exceptions == []
    (said,) = warnings
    assert said.startswith("Export failed: Could not write sky.md: ")
    assert said.endswith("Check that the disk has space and the folder is writable.")
    assert "Errno" not in said and "Traceback" not in said
    assert [p.name for p in folder.iterdir()] == ["sky.md"]  # the temporary file is gone
    assert (folder / "sky.md").is_dir()
    assert "Exported" not in window.statusBar().currentMessage()
