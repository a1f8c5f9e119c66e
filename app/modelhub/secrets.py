"""The Hugging Face token: in the OS keyring, or for this session only, and never leaked.

Where the token went is always said (vorta's lesson): a keyring that silently drops a
secret, or a Linux desktop without a Secret Service, must not leave the user believing
it is stored. Every text that could carry the token (log records, exception messages,
crash reports) goes through ``redact`` first; ``install_log_redaction`` wires that into
logging for the whole process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail, null

from app.core.errors import KeyringUnavailableError, SecretStoreError
from app.core.redact import (  # re-exported: the secrets API includes redaction
    REDACTED,
    RedactingFilter,
    install_log_redaction,
    redact,
    remember_secret,
)

log = logging.getLogger(__name__)

__all__ = [
    "REDACTED",
    "KeyringStatus",
    "RedactingFilter",
    "TokenStore",
    "install_log_redaction",
    "redact",
    "remember_secret",
]

SERVICE = "ponder"
USERNAME = "huggingface"
_SESSION_HINT = "Use a session-only token (kept in memory until Ponder quits) instead."
TokenLocation = Literal["keyring", "session"]


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str  # the keyring backend's name, for the settings page
    reason: str  # why it is not usable ("" when it is)


class TokenStore:
    """The Hub token: set, read back, remove; keyring first, session-only on request.

    Args:
        backend: the keyring backend; ``None`` uses keyring's choice for this OS.
    """

    def __init__(
        self, backend: keyring.backend.KeyringBackend | None = None, account: str = USERNAME
    ) -> None:
        self._backend = backend
        self._account = account  # one secret per account: the Hub token, the API key
        self._session: str | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def status(self) -> KeyringStatus:
        kr = self.backend
        name = _backend_name(kr)
        for chained in _leaves(kr):
            if not isinstance(chained, fail.Keyring | null.Keyring):
                return KeyringStatus(True, name, "")
        return KeyringStatus(
            False,
            name,
            "No system keyring is available (on Linux, install and unlock a Secret Service "
            "such as GNOME Keyring or KWallet).",
        )

    def set_token(self, token: str, *, session_only: bool = False) -> TokenLocation:
        """Store ``token`` and say where it went; the keyring copy is read back to verify.

        Raises:
            KeyringUnavailableError: there is no usable keyring; ``session_only`` works.
            SecretStoreError: the keyring refused it or did not keep it.
        """
        token = token.strip()
        if not token:
            raise SecretStoreError("The token is empty.", "Paste the token from your Hub settings.")
        remember_secret(token)
        if session_only:
            with self._lock:
                self._session = token
            return "session"
        status = self.status()
        if not status.usable:
            raise KeyringUnavailableError(status.reason, _SESSION_HINT)
        self._call("store the token in", self.backend.set_password, SERVICE, self._account, token)
        back = self._call(
            "read the token back from", self.backend.get_password, SERVICE, self._account
        )
        if back != token:
            raise SecretStoreError(
                f"The system keyring ({status.backend}) did not keep the token.", _SESSION_HINT
            )
        with self._lock:
            self._session = None
        return "keyring"

    def token(self) -> str | None:
        """The token to send: this session's, else the keyring's, else None."""
        with self._lock:
            if self._session:
                return self._session
        if not self.status().usable:
            return None
        value = self._call("read the token from", self.backend.get_password, SERVICE, self._account)
        if value:
            remember_secret(value)
        return value or None

    def for_hub(self) -> str | None:
        """What to hand huggingface_hub: None when ``HF_TOKEN`` is set (it then sends that
        one, which wins, as in every Hugging Face tool), else ``token()``."""
        if os.environ.get("HF_TOKEN"):
            return None
        try:
            return self.token()
        except SecretStoreError as exc:
            # A locked keyring must not stop public downloads; a gated model then says it
            # needs a token, and the log says why none was sent.
            log.warning("no Hub token sent: %s", exc.message)
            return None

    def location(self) -> TokenLocation | None:
        """Where the token in use lives, for the settings page and ``models login``."""
        with self._lock:
            if self._session:
                return "session"
        try:
            return "keyring" if self.token() else None
        except SecretStoreError:
            return None

    def remove(self) -> None:
        """Forget the token everywhere; removing one that is not there is not an error."""
        with self._lock:
            self._session = None
        if not self.status().usable:
            return
        self._call(
            "remove the token from",
            self.backend.delete_password,
            SERVICE,
            self._account,
            absent_ok=True,
        )

    def _call(self, doing: str, fn: Any, *args: str, absent_ok: bool = False) -> Any:
        failure: Exception
        try:
            return fn(*args)
        except keyring.errors.PasswordDeleteError as exc:
            if absent_ok:
                return None
            failure = exc
        except Exception as exc:
            failure = exc
        # Raised outside the handler on purpose: the backend's own text may echo the secret,
        # so only its type is kept and the original is not chained into any traceback.
        raise SecretStoreError(
            f"Could not {doing} the system keyring ({_backend_name(self.backend)}): "
            f"{type(failure).__name__}.",
            "Unlock the keyring and try again, or use a session-only token (kept in memory "
            "until Ponder quits).",
        )


def _leaves(kr: keyring.backend.KeyringBackend) -> Iterable[keyring.backend.KeyringBackend]:
    """The backends a chainer delegates to (or the backend itself)."""
    backends = getattr(kr, "backends", None)
    if isinstance(backends, list | tuple):
        return list(backends)
    return [kr]


def _backend_name(kr: keyring.backend.KeyringBackend) -> str:
    name = getattr(kr, "name", "")
    return str(name) if name else type(kr).__name__
