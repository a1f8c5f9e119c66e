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


class EngineCrashedError(AppError):
    """The inference process died; the conversation is intact."""

    kind = "engine_crashed"


class EngineError(AppError):
    """llama.cpp refused an operation (load or decode failed)."""

    kind = "engine_error"


class ModelTooLargeError(AppError):
    """The model is predicted not to fit in this machine's memory at all."""

    kind = "too_large"


def exit_code_for(kind: str) -> int:
    """The exit code of the error class named ``kind`` (error events carry only the kind)."""
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if cls.kind == kind:
            return cls.exit_code
        pending.extend(cls.__subclasses__())
    return AppError.exit_code
