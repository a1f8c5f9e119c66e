"""The Hugging Face token on the Settings page: stored in the keyring and read back,
removed, kept for the session only where no keyring works, and never written elsewhere.

The OS keyrings cannot run here, so ``DictKeyring`` (keyring's own backend API, from the
secrets unit tests) stands in for them; the no-keyring path uses keyring's real
``fail.Keyring``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLineEdit
from pytestqt.qtbot import QtBot

from app.core.paths import app_paths
from app.core.settings import Settings, save_settings
from app.gui.views.settings_dialog import SettingsDialog
from app.gui.views.token_settings import HubTokenSection
from app.modelhub.secrets import TokenStore
from tests.unit.test_secrets import DictKeyring, ForgetfulKeyring

pytestmark = pytest.mark.gui

TOKEN = "hf_GUItokenNEVERleak0123456789abcdefXYZ"
LEFT = Qt.MouseButton.LeftButton


def shown_section(qtbot: QtBot, tokens: TokenStore) -> HubTokenSection:
    section = HubTokenSection(tokens)
    qtbot.addWidget(section)
    section.show()
    qtbot.waitUntil(lambda: not section.busy)  # the keyring is asked once the page shows
    return section


def type_token(qtbot: QtBot, section: HubTokenSection) -> None:
    section.token_edit.clear()
    qtbot.keyClicks(section.token_edit, TOKEN)


def test_a_token_is_stored_in_the_keyring_read_back_and_removed(qtbot: QtBot) -> None:
    kr = DictKeyring()
    section = shown_section(qtbot, TokenStore(kr))
    assert section.where_label.text() == "No token set."
    assert not section.remove_button.isEnabled()
    assert section.token_edit.echoMode() == QLineEdit.EchoMode.Password
    type_token(qtbot, section)
    qtbot.mouseClick(section.save_button, LEFT)
    qtbot.waitUntil(lambda: "stored in the system keyring" in section.message.text())
    assert kr.name in section.message.text()  # which keyring, by name
    assert kr.store[("ponder", "huggingface")] == TOKEN
    assert TokenStore(kr).token() == TOKEN  # the next session finds it
    assert section.token_edit.text() == ""  # not left on screen
    assert "stored in the system keyring" in section.where_label.text()
    assert section.remove_button.isEnabled()

    qtbot.mouseClick(section.remove_button, LEFT)
    qtbot.waitUntil(lambda: section.where_label.text() == "No token set.")
    assert kr.store == {}
    assert section.message.text() == "The token was removed."


def test_without_a_keyring_the_page_says_so_and_offers_a_session_token(qtbot: QtBot) -> None:
    tokens = TokenStore(fail.Keyring())
    section = shown_section(qtbot, tokens)
    where = section.where_label.text()
    assert "No system keyring" in where and "this session only" in where
    assert section.session_button.isVisibleTo(section)
    assert not section.save_button.isVisibleTo(section)  # no pretending it can be saved
    type_token(qtbot, section)
    qtbot.mouseClick(section.session_button, LEFT)
    qtbot.waitUntil(lambda: "this session only" in section.message.text())
    assert tokens.token() == TOKEN and tokens.location() == "session"
    assert section.where_label.text().startswith("Token: this session only")


def test_a_keyring_that_drops_the_token_is_reported_and_a_session_offered(qtbot: QtBot) -> None:
    tokens = TokenStore(ForgetfulKeyring())
    section = shown_section(qtbot, tokens)
    assert not section.session_button.isVisibleTo(section)
    type_token(qtbot, section)
    qtbot.mouseClick(section.save_button, LEFT)
    qtbot.waitUntil(lambda: "did not keep the token" in section.message.text())
    assert "session-only" in section.message.text()
    assert section.session_button.isVisibleTo(section)
    assert section.token_edit.text() == TOKEN  # still there to use for the session
    qtbot.mouseClick(section.session_button, LEFT)
    qtbot.waitUntil(lambda: tokens.location() == "session")


def test_settings_has_a_hugging_face_page_and_the_token_stays_out_of_its_file(
    qtbot: QtBot, ponder_home: Path
) -> None:
    kr = DictKeyring()
    dialog = SettingsDialog(Settings(), TokenStore(kr))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    titles = [dialog.tabs.tabText(i).replace("&", "") for i in range(dialog.tabs.count())]
    assert titles == ["General", "Hugging Face"]
    dialog.tabs.setCurrentWidget(dialog.hub_token)
    section = dialog.hub_token
    qtbot.waitUntil(lambda: section.where_label.text() == "No token set.")
    for control in [section.token_edit, *section.findChildren(QAbstractButton)]:
        assert control.accessibleName() and control.toolTip()
    type_token(qtbot, section)
    qtbot.mouseClick(section.save_button, LEFT)
    qtbot.waitUntil(lambda: kr.store.get(("ponder", "huggingface")) == TOKEN)
    with qtbot.waitSignal(dialog.settings_applied):
        dialog.font_size.setValue(13)
        dialog.ok_button.click()
    paths = app_paths().ensure()
    save_settings(paths.settings_file, dialog.settings())
    written = [p for p in ponder_home.rglob("*") if p.is_file()]
    assert paths.settings_file in written
    assert all(TOKEN not in p.read_text(encoding="utf-8", errors="replace") for p in written)
