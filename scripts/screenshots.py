"""Take the README's screenshots of the real window (run under Xvfb, see the Makefile).

The reply is a scripted R1-style stream played by the replay backend (no model can run a
real R1 on the build machine); everything else is the real app: window, store, engine
process, rendering. Usage:
    xvfb-run -a -s "-screen 0 1280x820x24" .venv/bin/python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.app import make_application, open_session  # noqa: E402
from app.gui.viewmodels.chat_controller import ModelChoice  # noqa: E402

QUESTION = "What is the sum of the first 100 positive integers? Check it in Python."
REASONING = (
    "Okay, so the user wants 1 + 2 + 3 + ... + 100. I remember the story about Gauss: pair "
    "the first and the last term. 1 + 100 = 101, 2 + 99 = 101, and so on, and there are 50 "
    "such pairs, so the sum is 50 × 101 = 5050.\n\nLet me double-check with the general "
    "formula. The sum of the first n integers is n(n+1)/2. For n = 100 that gives "
    "100 × 101 / 2 = 10100 / 2 = 5050. Both ways agree.\n\nThe user also asked for a Python "
    "check, so I should show a one-liner with sum(range(1, 101)) and say what it prints. "
    "I'll present the formula, the substitution, the code, and box the final answer."
)
ANSWER = (
    "The sum of the first $n$ positive integers is Gauss's formula:\n\n"
    "$$S_n = \\frac{n(n+1)}{2}$$\n\n"
    "For $n = 100$ the pairs $1 + 100$, $2 + 99$, … each add up to $101$, and there are "
    "$50$ of them:\n\n"
    "$$S_{100} = \\frac{100 \\cdot 101}{2} = 5050$$\n\n"
    "A quick check in Python:\n\n"
    "```python\ntotal = sum(range(1, 101))\nprint(total)  # 5050\n```\n\n"
    "**Answer:** $\\boxed{5050}$"
)
OTHER_CHATS = [
    "Why is the sky blue?",
    "Prove that √2 is irrational",
    "Plan a three-day trip to Kyoto",
    "Explain the KV cache in transformers",
]


def write_replay(path: Path) -> None:
    words = ["<think>\n"]
    words += [w + " " for w in REASONING.split(" ")]
    words.append("\n</think>\n\n")
    words += [w + " " for w in ANSWER.split(" ")]
    path.write_text("".join(json.dumps({"chunk": w}) + "\n" for w in words))


def pump(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def shoot(app: QApplication, path: Path) -> None:
    pump(app, 0.3)
    screen = app.primaryScreen()
    screen.grabWindow(0).save(str(path))
    print(f"wrote {path}")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ponder-shots-") as tmp:
        os.environ["PONDER_HOME"] = str(Path(tmp) / "home")
        app = make_application([sys.argv[0]])
        session = open_session(app)
        for title in OTHER_CHATS:
            cid = session.store.create_conversation(title)
            session.store.add_message(cid, "user", title)
        session.window.conversations.refresh()
        window = session.window
        window.resize(1240, 790)
        window.move(20, 15)
        window.show()
        gemma = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
        if gemma.exists():
            window.picker.choose(gemma)
            pump(app, 2.0)
        replay = Path(tmp) / "reply.jsonl"
        write_replay(replay)
        session.controller.set_model(
            ModelChoice("DeepSeek-R1-Distill-Qwen-7B (replay)", str(replay), 12, is_replay=True)
        )
        window.composer.set_text(QUESTION)
        window.composer.send_button.click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and session.controller.busy:
            pump(app, 0.1)
            live = window.chat._live
            if live is not None and len(live.reasoning_text()) > 420:
                break
        shoot(app, out / "thinking.png")
        while session.controller.busy:
            pump(app, 0.1)
        pump(app, 1.0)
        shoot(app, out / "answer.png")
        window.close()
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
