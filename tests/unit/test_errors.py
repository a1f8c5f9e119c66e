from app.core.errors import exit_code_for


def test_error_kinds_map_to_their_exit_codes() -> None:
    assert exit_code_for("context_overflow") == 2
    assert exit_code_for("bad_model") == 2
    assert exit_code_for("engine_crashed") == 1
    assert exit_code_for("too_large") == 1
    assert exit_code_for("something_new") == 1
