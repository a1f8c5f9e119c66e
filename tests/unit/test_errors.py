"""Error kinds: each one the engine or a command sends maps to its class's exit code."""

from __future__ import annotations

import pytest

from app.core import errors
from app.core.errors import AppError, exit_code_for


def _kinds() -> dict[str, type[AppError]]:
    found: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.kind, cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.ContextOverflowError, 2),
        (errors.ModelFileError, 2),
        (errors.EngineCrashedError, 1),
        (errors.ModelTooLargeError, 1),
        (errors.CannotSizeError, 1),
    ],
)
def test_error_kinds_map_to_their_exit_codes(cls: type[AppError], code: int) -> None:
    assert _kinds()[cls.kind] is cls  # the kind names this class, not another
    assert exit_code_for(cls.kind) == cls.exit_code == code


def test_an_unknown_kind_is_a_failure_not_bad_input() -> None:
    assert "something_new" not in _kinds()
    assert exit_code_for("something_new") == 1
