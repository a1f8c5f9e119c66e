"""The toolbar's model picker: a check always ends, whatever goes wrong inside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.gguf import GGUFHeader
from app.core.paths import app_paths
from app.gui.views.model_picker import ModelPicker
from app.gui.workers import model_check

WAIT = 30_000


@pytest.fixture
def picker(qtbot: QtBot, home: Path) -> ModelPicker:
    p = ModelPicker()
    qtbot.addWidget(p)
    return p


def test_a_bug_in_the_check_ends_in_a_sentence_and_the_picker_recovers(
    qtbot: QtBot, picker: ModelPicker, gemma_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while checking a model left the picker on "Checking …" for
    good; now it says the check failed and where the log is, and the next check works."""
    real_read_model = model_check.read_model

    def broken(path: Path) -> GGUFHeader:
        raise RuntimeError("a bug in the header reader")

    monkeypatch.setattr(model_check, "read_model", broken)
    with qtbot.waitSignal(picker.check_failed, timeout=WAIT) as blocker:
        picker.choose(gemma_path)
    path, message = blocker.args
    assert path == str(gemma_path)
    assert message == (
        f"Checking {gemma_path.name} failed (RuntimeError); the log file "
        f"{app_paths().app_log} has the details."
    )
    assert "Checking" not in picker.fit_label.text()
    assert f"Cannot use {gemma_path.name}" in picker.fit_label.text()
    assert picker.fit_label.toolTip() == message
    assert picker.current is None

    monkeypatch.setattr(model_check, "read_model", real_read_model)
    with qtbot.waitSignal(picker.model_chosen, timeout=WAIT):
        picker.choose(gemma_path)
    assert picker.current is not None and picker.current.path == str(gemma_path)


def test_a_file_that_cannot_be_read_is_one_sentence(
    qtbot: QtBot, picker: ModelPicker, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.gguf"
    with qtbot.waitSignal(picker.check_failed, timeout=WAIT) as blocker:
        picker.choose(missing)
    assert "gone.gguf" in blocker.args[1] and "log file" not in blocker.args[1]
    assert "Cannot use gone.gguf" in picker.fit_label.text()


def test_a_bug_while_listing_models_on_disk_leaves_the_picker_usable(
    qtbot: QtBot, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[object]:
        raise RuntimeError("a bug in discovery")

    monkeypatch.setattr(model_check, "models_on_disk", broken)
    p = ModelPicker()
    qtbot.addWidget(p)
    with qtbot.waitSignal(p.checker.found, timeout=WAIT) as blocker:
        p.checker.scan()
    assert blocker.args == [[]]
    assert p.combo.itemText(p.combo.count() - 1) == "Open a GGUF file…"
