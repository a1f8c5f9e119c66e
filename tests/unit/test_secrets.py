"""The Hub token in the keyring: stored, verified, removed, and never leaked anywhere.

The OS keyrings (Secret Service, Keychain, Windows Credential Locker) cannot run here, so
``DictKeyring`` below stands in for them through keyring's own plugin API
(``KeyringBackend``); the no-keyring path uses keyring's real ``fail.Keyring``.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.errors import PasswordDeleteError

from app.core.errors import KeyringUnavailableError, SecretStoreError
from app.modelhub.secrets import REDACTED, TokenStore, install_log_redaction, redact

TOKEN = "hf_TESTtokenNEVERleak0123456789abcdefXYZ"


class DictKeyring(KeyringBackend):
    """A keyring backend that keeps secrets in a dict (stands in for the OS store)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


class ForgetfulKeyring(DictKeyring):
    """Accepts the secret and silently drops it (a locked or broken store)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


class LeakyFailingKeyring(DictKeyring):
    """Fails with the secret in its own error text, as a careless backend might."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"D-Bus said no while storing {password}")


class LockedKeyring(DictKeyring):
    """Refuses every read, as a locked desktop keyring does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("the collection is locked")


def test_a_locked_keyring_does_not_stop_public_downloads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    store = TokenStore(LockedKeyring())
    with pytest.raises(SecretStoreError):
        store.token()  # asked directly (the settings page), the reason is given
    assert store.for_hub() is None  # a download goes ahead without a token


def test_a_token_is_stored_read_back_and_removed() -> None:
    kr = DictKeyring()
    store = TokenStore(kr)
    assert store.status().usable
    assert store.set_token(f"  {TOKEN}\n") == "keyring"
    assert kr.store[("ponder", "huggingface")] == TOKEN
    assert TokenStore(kr).token() == TOKEN  # a later session finds it
    assert store.location() == "keyring"
    store.remove()
    assert store.token() is None and store.location() is None
    store.remove()  # removing twice is fine


def test_without_a_keyring_it_says_so_and_offers_a_session_token() -> None:
    store = TokenStore(fail.Keyring())
    status = store.status()
    assert not status.usable and "Secret Service" in status.reason
    with pytest.raises(KeyringUnavailableError) as err:
        store.set_token(TOKEN)
    assert "session-only token" in err.value.hint
    assert store.token() is None  # nothing was silently kept
    assert store.set_token(TOKEN, session_only=True) == "session"
    assert store.token() == TOKEN and store.location() == "session"
    store.remove()
    assert store.token() is None


def test_a_chainer_of_only_fail_backends_is_not_usable() -> None:
    store = TokenStore(chainer.ChainerBackend())
    assert store.status().usable is any(
        not isinstance(b, fail.Keyring) for b in chainer.ChainerBackend.backends
    )


def test_a_keyring_that_drops_the_token_is_caught_by_the_read_back() -> None:
    with pytest.raises(SecretStoreError, match="did not keep the token"):
        TokenStore(ForgetfulKeyring()).set_token(TOKEN)


def test_the_token_never_leaks_into_logs_errors_or_files(
    ponder_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    log = logging.getLogger("app.modelhub.test")
    file_log = ponder_home / "logs" / "ponder.log"
    file_log.parent.mkdir(parents=True)
    handler = logging.FileHandler(file_log, encoding="utf-8")
    logging.getLogger().addHandler(handler)
    install_log_redaction()  # handlers added later get the filter too
    texts: list[str] = []
    try:
        caplog.set_level(logging.DEBUG)
        store = TokenStore(DictKeyring())
        store.set_token(TOKEN)
        log.info("logged in with %s", store.token())
        log.warning(f"header Authorization: Bearer {TOKEN}")
        try:
            raise ValueError(f"request failed for token {TOKEN}")
        except ValueError:
            log.exception("download failed")
        with pytest.raises(SecretStoreError) as err:
            TokenStore(LeakyFailingKeyring()).set_token(TOKEN)
        texts += [str(err.value), err.value.hint, repr(err.value)]
        texts.append("".join(traceback.format_exception(err.value)))
        assert err.value.__context__ is None and err.value.__cause__ is None
        store.remove()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    texts.append(caplog.text)
    texts += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert REDACTED in caplog.text and "ValueError" in caplog.text
    for path in ponder_home.rglob("*"):
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    assert file_log.read_text(encoding="utf-8").count(REDACTED) >= 3
    leaks = [t for t in texts if TOKEN in t]
    assert not leaks


def test_redact_hides_hub_shaped_tokens_it_never_saw() -> None:
    other = "hf_" + "a1B2" * 9
    assert redact(f"token={other}; fine") == f"token={REDACTED}; fine"
    assert redact("hf_short stays") == "hf_short stays"
