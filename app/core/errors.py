"""Errors a user can hit, each one clear sentence plus what to do about it.

Anything that is not an ``AppError`` is a bug: the boundary (CLI, GUI) shows a
report with the log path instead of a traceback.
"""

from __future__ import annotations


class AppError(Exception):
    """A problem the user can understand and act on.

    Attributes:
        message: One sentence saying what went wrong.
        hint: One sentence saying what to do next (may be empty).
        kind: Stable machine-readable name, used in ``--json`` error events.
        exit_code: 2 for bad input or usage, 1 for other failures.
    """

    kind = "error"
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class BadInputError(AppError):
    """The user asked for something that cannot work as given."""

    kind = "bad_input"
    exit_code = 2


class ModelFileError(BadInputError):
    """The model file is missing, not a GGUF, truncated or corrupt."""

    kind = "bad_model"


class ContextOverflowError(BadInputError):
    """The prompt does not fit in the model's context window."""

    kind = "context_overflow"


class SaveError(AppError):
    """The chat database refused a write (disk full, read-only folder, I/O error)."""

    kind = "save_failed"


class DatabaseDamagedError(SaveError):
    """The chat database file is damaged (or is not a database at all). Raised by opening
    it and by any later read or write: what is on screen stays, nothing more can be saved,
    and the next start offers to salvage what can be read."""

    kind = "database_damaged"


class DatabaseLockedError(SaveError):
    """Another program holds a lock on the chat database; the file itself is fine, and
    trying again once that program lets go succeeds."""

    kind = "database_locked"


class EngineCrashedError(AppError):
    """The inference process died; the conversation is intact."""

    kind = "engine_crashed"


class EngineError(AppError):
    """llama.cpp refused an operation (load or decode failed)."""

    kind = "engine_error"


class CannotSizeError(AppError):
    """The fit planner cannot estimate a model's memory: a size in its header is not a
    number, negative or absurd, or its catalog entry lacks one."""

    kind = "cannot_size"


class ModelTooLargeError(AppError):
    """The model is predicted not to fit in this machine's memory at all."""

    kind = "too_large"


class HubError(AppError):
    """The Hugging Face Hub answered with an error we cannot work around."""

    kind = "hub_error"


class OfflineError(HubError):
    """The Hub cannot be reached (no network, DNS, refused, timed out, offline mode)."""

    kind = "offline"


class GatedModelError(HubError):
    """The repo is gated: its licence must be accepted on the Hub and a token given."""

    kind = "gated"


class HubNotFoundError(BadInputError):
    """No such repo, revision or file on the Hub (or it is private)."""

    kind = "not_found"


class DownloadError(AppError):
    """A download could not finish; what was written is kept for a later resume."""

    kind = "download_failed"


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes do not hash to the Hub's SHA-256; they were deleted."""

    kind = "checksum_mismatch"


class NotEnoughSpaceError(DownloadError):
    """The disk cannot hold the download (checked before starting, or it filled up)."""

    kind = "disk_space"


class DownloadStoppedError(AppError):
    """The user paused or cancelled a download (not a failure; nothing to report)."""

    kind = "cancelled"


class DownloadPausedError(DownloadStoppedError):
    """The user paused a download; the partial file is kept for resuming."""

    kind = "paused"


def exit_code_for(kind: str) -> int:
    """The exit code of the error class named ``kind`` (error events carry only the kind)."""
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if cls.kind == kind:
            return cls.exit_code
        pending.extend(cls.__subclasses__())
    return AppError.exit_code


class CatalogError(AppError):
    """resources/catalog.json is missing or malformed (a packaging bug the user can report)."""

    kind = "bad_catalog"


class KeyringUnavailableError(AppError):
    """No usable OS keyring (e.g. Linux without a Secret Service); a session token still works."""

    kind = "no_keyring"


class SecretStoreError(AppError):
    """The OS keyring refused to store, read back or remove the Hub token."""

    kind = "secret_store"


class ModelImportError(AppError):
    """A model file could not be linked or copied into Ponder's models folder."""

    kind = "import_failed"
