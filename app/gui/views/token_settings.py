"""The Hugging Face token in Settings: set it, remove it, and see where it really went.

The token goes to the OS keyring and is read back before the page says it is stored
(``TokenStore.set_token``). Where no keyring works (a Linux desktop without a Secret
Service), the page says so and offers to keep the token for this session only, instead of
pretending it was saved. Keyring calls can block (D-Bus, an unlock prompt), so they run on
Qt's thread pool and the page shows the answer when it comes. The token itself is never
shown again, logged, or written anywhere but the keyring.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.workers.background import BackgroundJobs
from app.modelhub.secrets import KeyringStatus, TokenLocation, TokenStore

SESSION_NOTE = "kept in memory until Ponder quits"


class _Answer(NamedTuple):
    """A keyring job's answer: the keyring's state, where the token is, what to say."""

    status: KeyringStatus
    location: TokenLocation | None
    text: str


class HubTokenSection(QWidget):
    """Set or remove the Hub token, with where it is stored.

    Args:
        tokens: the token store the downloads read (one per app: a session-only token
            lives in it).
    """

    def __init__(self, tokens: TokenStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tokens = tokens
        self._jobs = BackgroundJobs(self)
        self._loaded = False
        self._has_token = False
        self.busy = False

        intro = QLabel(
            "Gated models (such as Llama-based ones) need a Hugging Face token: accept the "
            "licence on the model's page, then create a read token at "
            "huggingface.co/settings/tokens and paste it here."
        )
        intro.setWordWrap(True)
        self.where_label = QLabel("Looking for the system keyring…")
        self.where_label.setObjectName("tokenWhere")
        self.where_label.setWordWrap(True)
        self.where_label.setTextFormat(Qt.TextFormat.PlainText)
        self.where_label.setAccessibleName("Where the token is stored")
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_…")
        self.token_edit.setAccessibleName("Hugging Face token")
        self.token_edit.setToolTip("Paste a token from huggingface.co/settings/tokens")
        self.token_edit.textChanged.connect(self._update_buttons)
        self.token_edit.returnPressed.connect(self._on_save)
        self.save_button = self._button(
            "Save token", "Store the token in the system keyring and check that it was kept"
        )
        self.session_button = self._button(
            "Use for this session only", f"Do not store the token: it is {SESSION_NOTE}"
        )
        self.remove_button = self._button(
            "Remove token", "Forget the token (keyring and this session)"
        )
        self.save_button.clicked.connect(self._on_save)
        self.session_button.clicked.connect(self._on_session)
        self.remove_button.clicked.connect(self._on_remove)
        self.session_button.hide()
        self.message = QLabel()
        self.message.setObjectName("tokenMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAccessibleName("Token message")
        self.env_note = QLabel(
            "HF_TOKEN is set in your environment; downloads use it while it is set."
        )
        self.env_note.setWordWrap(True)
        self.env_note.setVisible(bool(os.environ.get("HF_TOKEN")))

        form = QFormLayout()
        caption = QLabel("&Token:")
        caption.setBuddy(self.token_edit)
        form.addRow(caption, self.token_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.session_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.where_label)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.env_note)
        layout.addStretch(1)
        self._update_buttons()

    def refresh(self) -> None:
        """Ask the keyring (off the GUI thread) where the token is now."""
        self._run(lambda: "")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt API)
        # The keyring is asked only once the page is seen: opening Settings for the
        # font size should not wake a Secret Service.
        super().showEvent(event)
        if not self._loaded:
            self._loaded = True
            self.refresh()

    def _button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.setAccessibleDescription(tip)
        return button

    def _on_save(self) -> None:
        token = self.token_edit.text()
        if not token.strip() or self.busy:  # Enter while a save runs: one at a time
            return

        def job() -> str:
            where = self._tokens.set_token(token)
            return self._stored_text(where)

        self._run(job)

    def _on_session(self) -> None:
        token = self.token_edit.text()
        if not token.strip():
            self.message.setText("Paste the token first, then choose this session only.")
            return
        self._run(lambda: self._stored_text(self._tokens.set_token(token, session_only=True)))

    def _on_remove(self) -> None:
        def job() -> str:
            self._tokens.remove()
            return "The token was removed."

        self._run(job)

    def _stored_text(self, where: TokenLocation) -> str:
        if where == "session":
            return f"The token is set for this session only ({SESSION_NOTE})."
        return f"The token is stored in the system keyring ({self._tokens.status().backend})."

    def _run(self, action: Callable[[], str]) -> None:
        """Run ``action`` on the pool, then report the keyring's state and its message; a
        failure (a keyring plugin's bug among them) offers a token for this session."""
        self.busy = True
        self._update_buttons()
        tokens = self._tokens

        def work() -> _Answer:
            text = action()
            return _Answer(tokens.status(), tokens.location(), text)

        self._jobs.run(
            work,
            self._on_answered,
            lambda message: self._on_failed(message, offer_session=True),
            what="The system keyring",
        )

    def _on_answered(self, answer: _Answer) -> None:
        status, location, text = answer
        self.busy = False
        if text:
            self.token_edit.clear()
        self.message.setText(text)
        if location == "session":
            where = f"Token: this session only ({SESSION_NOTE})."
        elif location == "keyring":
            where = f"Token: stored in the system keyring ({status.backend})."
        else:
            where = "No token set."
        if not status.usable:
            where += f" {status.reason} A token added here is kept for this session only."
        self.where_label.setText(where)
        self.session_button.setVisible(not status.usable)
        self.save_button.setVisible(status.usable)
        self._has_token = location is not None
        self._update_buttons()

    def _on_failed(self, message: str, offer_session: bool) -> None:
        self.busy = False
        self.message.setText(message)
        if offer_session:
            self.session_button.show()
        self._update_buttons()

    def _update_buttons(self) -> None:
        typed = bool(self.token_edit.text().strip())
        self.save_button.setEnabled(typed and not self.busy)
        self.session_button.setEnabled(typed and not self.busy)
        self.remove_button.setEnabled(self._has_token and not self.busy)
