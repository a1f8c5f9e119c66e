"""Run the real app (as ``ponder`` builds it) and send one message to a slow replay model.

Used by test_app_crash.py as a separate process that the test kills (SIGKILL) or asks to
quit (SIGTERM). On a normal exit it prints how many characters of reasoning the window had
received (``shown=N``), so a test can check that all of it was saved.
Usage: python -m tests.gui.app_driver REPLAY.jsonl TOKENS_PER_S "message"
"""

from __future__ import annotations

import sys

from app.gui.app import _quit_on_signals, make_application, open_session
from app.gui.viewmodels.chat_controller import ModelChoice


def main() -> int:
    replay, rate, message = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    app = make_application(sys.argv[:1])
    _quit_on_signals(app)  # as `ponder` does: SIGTERM quits through the normal path
    session = open_session(app)
    shown: list[str] = []
    session.controller.reasoning.connect(shown.append)
    session.window.show()
    session.controller.set_model(
        ModelChoice("Replay", replay, replay_tokens_per_s=rate, is_replay=True)
    )
    session.controller.send(message)
    code = app.exec()
    session.close()
    print(f"shown={len(''.join(shown))}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
