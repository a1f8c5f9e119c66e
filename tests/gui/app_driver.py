"""Run the real app (as ``ponder`` builds it) and send one message to a slow replay model.

Used by test_app_crash.py as a separate process that the test kills with SIGKILL.
Usage: python -m tests.gui.app_driver REPLAY.jsonl TOKENS_PER_S "message"
"""

from __future__ import annotations

import sys

from app.gui.app import make_application, open_session
from app.gui.viewmodels.chat_controller import ModelChoice


def main() -> int:
    replay, rate, message = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    app = make_application(sys.argv[:1])
    session = open_session(app)
    session.window.show()
    session.controller.set_model(
        ModelChoice("Replay", replay, replay_tokens_per_s=rate, is_replay=True)
    )
    session.controller.send(message)
    code = app.exec()
    session.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
