"""Take the README's screenshots of the real window (run under Xvfb, see the Makefile).

The reply is a scripted R1-style stream played by the replay backend (no model can run a
real R1 on the build machine), and the Hub of the first-run page is the loopback stand-in the
tests use, publishing a sparse file of the real model's size (the build machine has no
internet); everything else is the real app: window, store, engine process, rendering. The
Machines window's workers are two real `ponder worker` processes on loopback. Usage:
    xvfb-run -a -s "-screen 0 1280x820x24" .venv/bin/python scripts/screenshots.py [OUT_DIR]
        [--only machines]

``--only design`` takes the design pass's shots instead: the main window with a chat, the
first-run page, the Hardware and the Models windows, each light and dark, the main window
maximized on a 1440x900 screen (a window manager must run to maximize it):
    xvfb-run -a -s "-screen 0 1440x900x24" sh -c 'openbox & sleep 1;
        .venv/bin/python scripts/screenshots.py docs/screenshots/design-after --only design'
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.app import Session, make_application, open_session  # noqa: E402
from app.gui.viewmodels.chat_controller import ModelChoice  # noqa: E402
from app.gui.views.welcome import WelcomePage  # noqa: E402
from tests.integration.hub_server import HubServer  # noqa: E402
from tests.loopback import start_workers, stop_workers  # noqa: E402

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


GROUP_QUESTION = (
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. "
    "How much does the ball cost?"
)
# Six R1-style samples of one question: four find 5 cents (one writes it as 1/20 of a
# dollar), one takes the intuitive 10 cents, one solves for the bat.
GROUP_SAMPLES = [
    (
        "Okay, let me set this up. Let the ball cost x dollars. The bat costs x + 1.00. "
        "Together x + (x + 1.00) = 1.10, so 2x = 0.10 and x = 0.05. Check: 0.05 + 1.05 = "
        "1.10, and 1.05 - 0.05 = 1.00. Good.",
        "Let the ball cost $x$. The bat costs $x + 1.00$, so $2x + 1.00 = 1.10$ and "
        "$x = 0.05$.\n\nThe ball costs $\\boxed{\\$0.05}$ (5 cents).",
    ),
    (
        "Hmm, the quick answer is 10 cents, but then the bat would be 1.10 and the total "
        "1.20. So that's wrong. Ball b, bat b + 1. 2b + 1 = 1.10, b = 0.05.",
        "Not 10 cents: with a $0.10 ball the total would be $1.20.\n\n"
        "$2b + 1 = 1.10 \\Rightarrow b = \\boxed{0.05}$ dollars.",
    ),
    (
        "The bat costs a dollar more than the ball. The total is 1.10. Take away the "
        "dollar: 0.10 is left, and the ball is... 0.10. That seems right.",
        "The ball costs $\\boxed{0.10}$ dollars.",
    ),
    (
        "Let me work in cents. Ball c, bat c + 100, total 2c + 100 = 110, c = 5 cents, "
        "which is one twentieth of a dollar.",
        "In dollars the ball costs $\\boxed{\\frac{1}{20}}$, that is 5 cents.",
    ),
    (
        "Wait, is it 0.10? Then the bat is 1.10 and they sum to 1.20, not 1.10. Let me "
        "solve properly: x + x + 1 = 1.1, 2x = 0.1, x = 0.05. Bat 1.05, ball 0.05.",
        "**Answer:** the ball costs $\\boxed{0.05}$ dollars and the bat $1.05$.",
    ),
    (
        "Ball plus bat is 1.10 and the bat is 1.00 more. So the bat is 1.10 - 0.05... "
        "let me just say the bat is 1.05.",
        "The bat costs $\\boxed{1.05}$.",
    ),
]


def write_group_replay(path: Path) -> None:
    """A recorded group reply: each sample's chunks tagged with its index."""
    lines = [json.dumps({"prompt": "<｜User｜>q<｜Assistant｜><think>\n"})]
    for i, (reasoning, answer) in enumerate(GROUP_SAMPLES):
        chunks = [w + " " for w in reasoning.split(" ")] + ["\n</think>\n\n"]
        chunks += [w + " " for w in answer.split(" ")]
        lines += [json.dumps({"chunk": c, "sample": i}) for c in chunks]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def group(app: QApplication, session: Session, out: Path, tmp: Path) -> None:
    """Think 6 ways: the vote, the answers' chart and the samples, the majority's reply."""
    window = session.window
    replay = tmp / "group.jsonl"
    write_group_replay(replay)
    session.controller.set_model(
        ModelChoice("DeepSeek-R1-Distill-Qwen-7B (replay)", str(replay), 40, is_replay=True)
    )
    window.new_chat()
    window.composer.set_ways(6)
    window.composer.set_text(GROUP_QUESTION)
    window.composer.think_button.click()
    wait_for(app, lambda: not session.controller.busy, 60)
    pump(app, 1.0)
    window.chat.scroll_to_end()
    shoot(app, out / "group.png")


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


def wait_for(app: QApplication, ready: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline:
        pump(app, 0.1)


def publish_recommended(app: QApplication, welcome: WelcomePage, hub: HubServer, tmp: Path) -> None:
    """Put the first-run page's recommended model on the loopback Hub (sparse files of its
    real size) and point the app at it."""
    from app.modelhub.catalog import load_catalog

    os.environ["HF_ENDPOINT"] = hub.endpoint
    wait_for(app, lambda: welcome.ladder.recommended_row is not None, 60)
    row = welcome.ladder.row_at(welcome.ladder.recommended_row or 0)
    quant = load_catalog().get(row.id).quant(row.quant)
    for f in quant.files:
        blob = tmp / Path(f.path).name
        with blob.open("wb") as sparse:
            sparse.truncate(f.size_bytes or f.approx_bytes or row.download_bytes or 1)
        hub.add_file(quant.repo_id, f.path, blob, sha256="0" * 64)
    welcome._check_hub()


def first_run(app: QApplication, out: Path, tmp: Path) -> None:
    """The welcome page of a fresh install, its recommended model ready to download."""
    os.environ["PONDER_HOME"] = str(tmp / "first-run")
    session = open_session(app)
    window = session.window
    welcome = window.welcome
    assert welcome is not None
    with HubServer() as hub:
        publish_recommended(app, welcome, hub, tmp)
        window.resize(1240, 790)
        window.move(20, 15)
        window.show()
        wait_for(app, welcome.download_button.isEnabled, 60)
        shoot(app, out / "welcome.png")
    del os.environ["HF_ENDPOINT"]
    window.close()
    session.close()


def machines(app: QApplication, session: Session, out: Path) -> None:
    """The Machines window: two workers on loopback, the chat pooled across them, and every
    catalog size with its verdict across the two."""
    window = session.window
    workers = start_workers(None, None)
    try:
        machines_window = window.tools.open_machines()
        machines_window.resize(1180, 740)
        machines_window.move(50, 40)
        tab = machines_window.workers
        for address, _ in workers:
            tab.address.setText(address)
            tab.add_button.click()
        ladder = tab.ladder.model()
        wait_for(app, lambda: ladder.rowCount() > 0 and not window.machines.busy, 60)
        tab.pooled.click()
        pump(app, 1.0)
        shoot(app, out / "machines.png")
        machines_window.close()
    finally:
        stop_workers(workers)


def only_machines(app: QApplication, out: Path, tmp: Path) -> None:
    os.environ["PONDER_HOME"] = str(tmp / "machines")
    session = open_session(app, welcome=False)
    window = session.window
    window.resize(1240, 790)
    window.move(20, 15)
    window.show()
    pump(app, 1.0)
    machines(app, session, out)
    window.close()
    session.close()


# The sidebar's other chats for the design shots, with how many days ago each was last used.
DATED_CHATS = [
    ("Why is the sky blue?", 0),
    ("Prove that √2 is irrational", 1),
    ("Plan a three-day trip to Kyoto", 3),
    ("Explain the KV cache in transformers", 5),
    ("Regex for ISO 8601 dates", 12),
    ("Summarise the attention paper", 24),
    ("Sourdough starter schedule", 48),
    ("Birthday poem for Ana", 80),
]


def set_theme(app: QApplication, session: Session, theme: str) -> None:
    """Switch light/dark as the Settings dialog does (palette, style sheet, views)."""
    window = session.window
    window._apply_settings(dataclasses.replace(session.controller.settings, theme=theme))
    pump(app, 0.5)


def design(app: QApplication, out: Path, tmp: Path) -> None:
    """Main window with a chat, first-run page, Hardware and Models, light and dark."""
    os.environ["PONDER_HOME"] = str(tmp / "design-first-run")
    session = open_session(app)
    window = session.window
    welcome = window.welcome
    assert welcome is not None
    with HubServer() as hub:
        publish_recommended(app, welcome, hub, tmp)
        window.showMaximized()
        wait_for(app, welcome.download_button.isEnabled, 60)
        for theme in ("light", "dark"):
            set_theme(app, session, theme)
            shoot(app, out / f"welcome-{theme}.png")
    del os.environ["HF_ENDPOINT"]
    window.close()
    session.close()

    os.environ["PONDER_HOME"] = str(tmp / "design-home")
    session = open_session(app, welcome=False)
    now = time.time()
    for title, days in DATED_CHATS:
        cid = session.store.create_conversation(title)
        session.store.add_message(cid, "user", title)
        when = now - days * 86400 - 3600
        with session.store.transaction():
            session.store.db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (when, cid)
            )
    session.window.conversations.refresh()
    window = session.window
    set_theme(app, session, "light")
    window.showMaximized()
    pump(app, 0.5)
    gemma = ROOT / ".cache" / "test-models" / "gemma-3-270m-q4_k_m.gguf"
    if gemma.exists():
        window.picker.choose(gemma)
        pump(app, 2.0)
    replay = tmp / "design-reply.jsonl"
    write_replay(replay)
    session.controller.set_model(
        ModelChoice("DeepSeek-R1-Distill-Qwen-7B (replay)", str(replay), 40, is_replay=True)
    )
    window.composer.set_text(QUESTION)
    window.composer.send_button.click()
    wait_for(app, lambda: not session.controller.busy, 60)
    pump(app, 1.0)
    for theme in ("light", "dark"):
        set_theme(app, session, theme)
        shoot(app, out / f"main-{theme}.png")
        hardware = window.tools.open_hardware()
        hardware.resize(1180, 720)
        hardware.move(60, 60)
        wait_for(app, lambda: window.ladder.recommended_row is not None, 30)
        pump(app, 3.0)  # a few live samples for the sparklines
        shoot(app, out / f"hardware-{theme}.png")
        hardware.close()
        models = window.tools.open_models()
        models.resize(1100, 650)
        models.move(80, 80)
        pump(app, 2.0)
        shoot(app, out / f"models-{theme}.png")
        models.close()
    window.close()
    session.close()


def main() -> int:
    args = sys.argv[1:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    if "--only" in args:
        del args[args.index("--only") : args.index("--only") + 2]
    out = Path(args[0]) if args else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ponder-shots-") as tmp:
        app = make_application([sys.argv[0]])
        if only == "machines":
            only_machines(app, out, Path(tmp))
            return 0
        if only == "design":
            design(app, out, Path(tmp))
            return 0
        first_run(app, out, Path(tmp))
        os.environ["PONDER_HOME"] = str(Path(tmp) / "home")
        session = open_session(app, welcome=False)
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
        hardware = window.tools.open_hardware()
        hardware.resize(1180, 720)
        hardware.move(50, 50)
        wait_for(app, lambda: window.ladder.recommended_row is not None, 30)
        pump(app, 4.0)  # a few live samples for the sparklines
        shoot(app, out / "hardware.png")
        hardware.close()
        models = window.tools.open_models()
        models.resize(1100, 650)
        models.move(70, 80)
        pump(app, 3.0)
        models.tabs.setCurrentIndex(1)
        pump(app, 1.0)
        shoot(app, out / "models.png")
        models.close()
        group(app, session, out, Path(tmp))
        machines(app, session, out)
        window.close()
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
