"""Does the chat window stay smooth while a long reasoning reply streams in?

Runs the real main window offscreen (as `ponder` builds it: settings, SQLite store, engine
process with the replay backend) and measures:

1. Streaming: ``--tokens`` tokens (half reasoning, then a Markdown answer with headings,
   lists, a table, code blocks, inline and display math and a \\boxed{} result) replayed
   at ``--rate`` tokens/s. A 5 ms precise timer on the GUI thread records every event-loop
   stall (how late each tick fires). The GUI thread's CPU time (``time.thread_time``, so
   Qt's layout and painting count, not only our slots) per token is taken over the first
   and the last 1,000 tokens of the reply, and of each part: reasoning streams into a plain
   text panel, the answer is rendered as Markdown, so the two cost differently; what must
   not happen is a cost that grows as a part gets longer.
2. A stored 500-message conversation: time from ``open_conversation`` to the chat painted,
   then scrolling it page by page from the end to the start (building earlier messages as
   they come into view) and back, with the time of each step.

Streaming runs ``--rounds`` times, the long chat ``--chat-rounds`` times (a new chat each
time, with formulas of its own, so that each round draws and lays out as much); the table
shows medians (and the worst stall and scroll step of all).
The window opens on the chat (``welcome=False``), as for a user who has chosen a model.
On a shared machine, run the code before and after a change alternately and pass the
before run's JSON as ``--baseline`` (and how the machine was as ``--conditions``): the
table then shows both; the GUI thread's CPU time per scroll step is given beside the wall
time, as other programs' load inflates the latter.

Usage: python benchmarks/gui_streaming.py [--tokens 8000] [--rate 500] [--messages 500]
                                          [--rounds 3] [--chat-rounds 3] [--baseline JSON]
                                          [--conditions TEXT]
Writes benchmarks/results/gui_streaming.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.events import LiveStats  # noqa: E402
from app.gui.app import Session, make_application, open_session, settle_heap  # noqa: E402
from app.gui.viewmodels.chat_controller import ModelChoice  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TICK_MS = 5
NOISE = 1.1  # "no costlier": within 10% (see the targets in main)

REASONING_PARAGRAPH = (
    "Okay, so I need to work out how much the tank holds. The base is {a} by {b} and the "
    "height is {c}, so the volume is a times b times c. Let me check that again: {a} times "
    "{b} is {ab}, and then times {c} gives {abc}. Hmm, but wait, the question asks for "
    "litres, and one litre is a thousand cubic centimetres, so I divide by 1000. "
)
ANSWER_BLOCKS = [
    "## Step {i}: the volume\n\nThe tank is a box, so its volume is $V = a \\cdot b \\cdot c$ "
    "with $a = {a}$, $b = {b}$ and $c = {c}$.\n\n",
    "- base area: ${a} \\times {b} = {ab}$\n- volume: ${ab} \\times {c} = {abc}$\n"
    "- in litres: $\\frac{{{abc}}}{{1000}}$\n\n",
    "| quantity | value |\n|---|---|\n| base | {ab} |\n| volume | {abc} |\n\n",
    "```python\ndef volume(a, b, c):\n    return a * b * c\n\nprint(volume({a}, {b}, {c}))\n"
    "```\n\n",
    "$$\\sum_{{k=1}}^{{{c}}} {ab} = {abc}$$\n\n",
]


def write_replay(path: Path, tokens: int) -> None:
    """Half reasoning, then the answer; one chunk (token) per word."""
    words: list[str] = ["<think>\n"]
    i = 0
    while len(words) < tokens // 2:
        a, b, c = 10 + i % 7, 20 + i % 5, 30 + i % 3
        text = REASONING_PARAGRAPH.format(a=a, b=b, c=c, ab=a * b, abc=a * b * c)
        words += [w + " " for w in text.split(" ") if w]
        if i % 3 == 2:
            words[-1] += "\n\n"
        i += 1
    words.append("\n</think>\n\n")
    i = 0
    while len(words) < tokens - 12:
        a, b, c = 10 + i % 7, 20 + i % 5, 30 + i % 3
        block = ANSWER_BLOCKS[i % len(ANSWER_BLOCKS)].format(
            i=i + 1, a=a, b=b, c=c, ab=a * b, abc=a * b * c
        )
        words += _split_keep(block)
        i += 1
    words += ["So ", "the ", "answer ", "is ", "$\\boxed{", "27", "}$", ".\n"]
    path.write_text("".join(json.dumps({"chunk": w}) + "\n" for w in words[:tokens]))


def _split_keep(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch in " \n":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class StallMonitor:
    """How late a 5 ms timer fires on the GUI thread: every delay is a stall users feel."""

    def __init__(self) -> None:
        self.timer = QTimer(interval=TICK_MS)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.stalls: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self.stalls.clear()
        self.clock.start()
        self._last = 0.0
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.stalls.append(max(0.0, now - self._last - TICK_MS))
        self._last = now


def bench_streaming(app: QApplication, s: Session, tokens: int, rate: float, tmp: Path) -> dict:
    replay = tmp / "reply.jsonl"
    write_replay(replay, tokens)
    marks: list[tuple[int, float, bool]] = []  # (generated tokens, GUI CPU s, reasoning)

    def on_live(stats: LiveStats) -> None:
        marks.append((stats.generated_tokens, time.thread_time(), stats.reasoning))

    s.controller.live.connect(on_live)
    s.controller.set_model(ModelChoice("Replay", str(replay), rate, is_replay=True))
    monitor = StallMonitor()
    done = {"flag": False}
    s.controller.busy_changed.connect(lambda busy: done.update(flag=not busy))
    s.window.composer.set_text("How many litres does the tank hold?")
    monitor.start()
    start_cpu, start = time.thread_time(), time.perf_counter()
    s.window.composer.send_button.click()
    while not done["flag"]:
        app.processEvents()
        time.sleep(0.0005)
    wall = time.perf_counter() - start
    cpu = time.thread_time() - start_cpu
    monitor.stop()
    s.controller.live.disconnect(on_live)

    def cost(part: bool | None, last: bool) -> float:
        """GUI thread CPU µs per token over the first (or last) ~1,000 tokens between marks.

        ``part`` picks the marks: True reasoning, False answer, None the whole reply. A mark
        belongs to the part that was streaming when it was taken, so a window of one part
        never takes in tokens of the other (the marks come every ~250 tokens, and the one
        after the last reasoning mark lies a few answer tokens in).
        """
        pool = [(n, t) for n, t, reasoning in marks if part is None or reasoning == part]
        if len(pool) < 2:
            return float("nan")
        if last:
            n1, t1 = pool[-1]
            n0, t0 = min(pool, key=lambda m: abs(m[0] - (n1 - 1000)))
        else:
            n0, t0 = pool[0]
            n1, t1 = min(pool, key=lambda m: abs(m[0] - (n0 + 1000)))
        if n1 <= n0:
            return float("nan")
        return round((t1 - t0) / (n1 - n0) * 1e6, 1)

    stalls = monitor.stalls
    rows = s.store.messages(s.controller.cid)
    stats = rows[-1].stats or {}
    return {
        "tokens": int(stats.get("reasoning_tokens", 0)) + int(stats.get("answer_tokens", 0)),
        "reasoning_tokens": stats.get("reasoning_tokens"),
        "rate_tok_s": rate,
        "wall_s": round(wall, 2),
        "gui_cpu_s": round(cpu, 2),
        "stall_p99_ms": round(percentile(stalls, 99), 2),
        "stall_max_ms": round(max(stalls, default=0.0), 2),
        "stall_ticks": len(stalls),
        "first_1000_us_per_token": cost(None, last=False),
        "last_1000_us_per_token": cost(None, last=True),
        "reasoning_first_1000": cost(True, last=False),
        "reasoning_last_1000": cost(True, last=True),
        "answer_first_1000": cost(False, last=False),
        "answer_last_1000": cost(False, last=True),
        "answer_chars": len(rows[-1].content),
        "reasoning_chars": len(rows[-1].reasoning),
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, except the worst stall, which is the worst of all."""
    out: dict[str, Any] = {"rounds": len(runs)}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[key] = max(values) if key == "stall_max_ms" else statistics.median(values)
    return out


def make_long_chat(s: Session, messages: int, first: int = 0) -> int:
    """A stored chat whose replies each have reasoning, headings, a list, a table, code,
    and formulas of their own (no two replies share a formula, as in a real chat; nor do
    two chats made with ``first`` that far apart, so none finds its formulas drawn)."""
    store = s.store
    cid = store.create_conversation("A long chat")
    for i in range(first, first + messages // 2):
        a, b, c = 100 + i, 200 + 3 * i, 30 + i % 7
        store.add_message(
            cid, "user", f"Question {i}: how much does a {a} by {b} by {c} tank hold?"
        )
        answer = "".join(
            block.format(i=i, a=a, b=b, c=c, ab=a * b, abc=a * b * c) for block in ANSWER_BLOCKS
        )
        reasoning = REASONING_PARAGRAPH.format(a=a, b=b, c=c, ab=a * b, abc=a * b * c) * 8
        mid = store.add_message(cid, "assistant", "", model="Replay")
        store.finish_message(
            mid, answer, reasoning, "complete", {"decode_tok_s": 50.0, "answer_tokens": 300}
        )
    return cid


def bench_long_chat(app: QApplication, s: Session, messages: int, first: int = 0) -> dict:
    cid = make_long_chat(s, messages, first)
    s.controller.new_conversation()
    app.processEvents()
    start = time.perf_counter()
    s.controller.open_conversation(cid)
    app.processEvents()
    s.window.chat.viewport().repaint()
    open_ms = (time.perf_counter() - start) * 1000
    built_at_open = s.window.chat.built_count()
    bar = s.window.chat.verticalScrollBar()
    steps: list[float] = []
    cpu: list[float] = []  # the GUI thread's CPU time per step (other programs' load aside)

    def step(delta: int) -> None:
        t, c = time.perf_counter(), time.thread_time()
        bar.setValue(bar.value() + delta)
        app.processEvents()
        s.window.chat.viewport().repaint()
        steps.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)

    app.processEvents()
    s.window.chat.scroll_to_end()
    app.processEvents()
    deadline = time.perf_counter() + 5  # (the first messages may not fill the screen yet)
    while bar.maximum() <= 0 and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if not s.window.chat.isVisible() or bar.maximum() <= 0:
        raise SystemExit("the chat is not on screen or does not scroll: nothing to measure")
    stuck = 0  # steps in a row without movement or new messages (a safety stop)
    waits = 0  # steps at the top of what is built, while earlier messages are being built
    while (bar.value() > 0 or s.window.chat._first > 0) and stuck < 50:
        before = (bar.value(), s.window.chat.built_count())
        waits += bar.value() == 0
        step(-bar.pageStep())
        stuck = stuck + 1 if (bar.value(), s.window.chat.built_count()) == before else 0
    up = len(steps)
    while bar.value() < bar.maximum():
        step(bar.pageStep())
    return {
        "messages": messages,
        "open_ms": round(open_ms, 1),
        "built_at_open": built_at_open,
        "scroll_range_px": bar.maximum(),
        "scroll_steps_up": up,
        "scroll_steps_waiting_at_top": waits,
        "scroll_steps_down": len(steps) - up,
        "scroll_step_p50_ms": round(percentile(steps, 50), 1),
        "scroll_step_p99_ms": round(percentile(steps, 99), 1),
        "scroll_step_max_ms": round(max(steps, default=0.0), 1),
        "scroll_step_cpu_p50_ms": round(percentile(cpu, 50), 1),
        "scroll_step_cpu_p99_ms": round(percentile(cpu, 99), 1),
        "scroll_total_s": round(sum(steps) / 1000, 2),
        "messages_built_after_scroll": s.window.chat.built_count(),
    }


def combine_chats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds (the worst step of all as the max)."""

    def median(values: list[float]) -> float:
        m = statistics.median(values)
        return int(m) if float(m).is_integer() else round(m, 1)

    out: dict[str, Any] = {
        k: median([r[k] for r in runs]) for k in runs[0] if k != "scroll_step_max_ms"
    }
    out["scroll_step_max_ms"] = max(r["scroll_step_max_ms"] for r in runs)
    out["rounds"] = len(runs)
    out["scroll_step_p99_ms_rounds"] = [r["scroll_step_p99_ms"] for r in runs]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=8000)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3, help="streaming runs (medians reported)")
    ap.add_argument(
        "--chat-rounds",
        type=int,
        default=3,
        help="long chats opened and scrolled, each with formulas of its own (medians reported)",
    )
    ap.add_argument("--name", default="gui_streaming")
    ap.add_argument("--switch", type=float, default=None, help="sys.setswitchinterval (test)")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the JSON of an earlier run (e.g. the code before a change) to show alongside",
    )
    ap.add_argument("--conditions", default="", help="how the machine was, for the record")
    args = ap.parse_args()
    if args.switch:
        sys.setswitchinterval(args.switch)

    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["PONDER_HOME"] = str(tmp / "home")
        app = make_application([sys.argv[0]])
        # welcome=False: the chat page, as for a user who has chosen a model (a fresh home
        # would otherwise open the first-run page, and the scroll test would scroll nothing).
        session = open_session(app, welcome=False)
        settle_heap()  # as `ponder` does once the window is up
        session.window.resize(1180, 780)
        session.window.show()
        app.processEvents()
        try:
            runs = []
            for _ in range(args.rounds):
                session.controller.new_conversation()
                runs.append(bench_streaming(app, session, args.tokens, args.rate, tmp))
            streaming = combine(runs)
            long_chat = combine_chats(
                [
                    bench_long_chat(app, session, args.messages, first=r * args.messages)
                    for r in range(args.chat_rounds)
                ]
            )
        finally:
            session.window.close()
            session.close()
    targets = {
        "stall_p99_ms <= 16": streaming["stall_p99_ms"] <= 16,
        "stall_max_ms <= 50": streaming["stall_max_ms"] <= 50,
        # Cost must not grow with length: compared within each part (see the docstring).
        # Within NOISE: on a shared machine two spans of the same cost differ by a few per
        # cent either way (a strict comparison came out either way run to run); work that
        # grew with the length would cost far more by the end of a 4,000-token part.
        "reasoning: last 1000 tokens no costlier than the first": streaming["reasoning_last_1000"]
        <= NOISE * streaming["reasoning_first_1000"],
        "answer: last 1000 tokens no costlier than the first": streaming["answer_last_1000"]
        <= NOISE * streaming["answer_first_1000"],
        "500-message chat opens < 300 ms": long_chat["open_ms"] < 300,
        "500-message chat scroll step p99 <= 16 ms": long_chat["scroll_step_p99_ms"] <= 16,
    }
    result: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "qpa": os.environ.get("QT_QPA_PLATFORM"),
        },
        "conditions": args.conditions,
        "streaming": streaming,
        "long_chat": long_chat,
        "targets": targets,
    }
    if args.baseline is not None:
        base = json.loads(args.baseline.read_text())
        result["baseline"] = {k: base[k] for k in ("streaming", "long_chat") if k in base}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if all(targets.values()) else 1


def markdown(r: dict[str, Any]) -> str:
    st, lc = r["streaming"], r["long_chat"]
    base = r.get("baseline")
    bst, blc = (base["streaming"], base["long_chat"]) if base else ({}, {})

    def row(name: str, value: str, before: str, target: str = "") -> str:
        return (
            f"| {name} | {value} | {before} | {target} |"
            if base
            else (f"| {name} | {value} | {target} |")
        )

    def fig(d: dict[str, Any], *keys: str, unit: str = "", sep: str = " / ") -> str:
        if not d or any(k not in d for k in keys):
            return "n/a" if base else ""
        return sep.join(str(d[k]) for k in keys) + unit

    lines = [
        "# GUI streaming benchmark",
        "",
        f"Machine: {r['machine']['cores']} cores, Python {r['machine']['python']}, "
        f"Qt platform {r['machine']['qpa']}.",
    ]
    if r.get("conditions"):
        lines += ["", f"Conditions: {r['conditions']}"]
    lines += [
        "",
        "| measure | value | before | target |" if base else "| measure | value | target |",
        "|---|---|---|---|" if base else "|---|---|---|",
        row(
            "tokens streamed (rate), rounds",
            f"{st['tokens']:,.0f} ({st['rate_tok_s']:.0f} tok/s), {st['rounds']}",
            fig(bst, "tokens", "rounds", sep=", "),
            "8,000 at 500",
        ),
        row(
            "event-loop stall p99",
            f"{st['stall_p99_ms']} ms",
            fig(bst, "stall_p99_ms", unit=" ms"),
            "<= 16 ms",
        ),
        row(
            "event-loop stall max",
            f"{st['stall_max_ms']} ms",
            fig(bst, "stall_max_ms", unit=" ms"),
            "<= 50 ms",
        ),
        row(
            "GUI thread CPU per token, reply's first / last 1,000",
            fig(st, "first_1000_us_per_token", "last_1000_us_per_token", unit=" µs"),
            fig(bst, "first_1000_us_per_token", "last_1000_us_per_token", unit=" µs"),
        ),
        row(
            "... reasoning (plain text): first / last 1,000",
            fig(st, "reasoning_first_1000", "reasoning_last_1000", unit=" µs"),
            fig(bst, "reasoning_first_1000", "reasoning_last_1000", unit=" µs"),
            "last <= first (+10%)",
        ),
        row(
            "... answer (Markdown, math, code): first / last 1,000",
            fig(st, "answer_first_1000", "answer_last_1000", unit=" µs"),
            fig(bst, "answer_first_1000", "answer_last_1000", unit=" µs"),
            "last <= first (+10%)",
        ),
        row(
            "GUI thread CPU, whole reply",
            f"{st['gui_cpu_s']} s of {st['wall_s']} s",
            fig(bst, "gui_cpu_s", "wall_s", unit=" s", sep=" s of "),
        ),
        row(
            f"{lc['messages']}-message chat: open and paint",
            f"{lc['open_ms']} ms",
            fig(blc, "open_ms", unit=" ms"),
            "< 300 ms",
        ),
        row(
            "scroll end to start and back: steps up (of them waiting at the top) / down",
            fig(lc, "scroll_steps_up", "scroll_steps_waiting_at_top", "scroll_steps_down"),
            fig(blc, "scroll_steps_up", "scroll_steps_waiting_at_top", "scroll_steps_down"),
        ),
        row(
            "long chats scrolled (each its own formulas); scroll step p99 of each",
            f"{lc.get('rounds', 1)}; "
            + " / ".join(map(str, lc.get("scroll_step_p99_ms_rounds", []))),
            fig(blc, "rounds"),
        ),
        row(
            "scroll step p50 / p99 (medians of the rounds) / max (of all)",
            fig(lc, "scroll_step_p50_ms", "scroll_step_p99_ms", "scroll_step_max_ms", unit=" ms"),
            fig(blc, "scroll_step_p50_ms", "scroll_step_p99_ms", "scroll_step_max_ms", unit=" ms"),
            "p99 <= 16 ms",
        ),
        row(
            "scroll step, GUI thread CPU p50 / p99",
            fig(lc, "scroll_step_cpu_p50_ms", "scroll_step_cpu_p99_ms", unit=" ms"),
            fig(blc, "scroll_step_cpu_p50_ms", "scroll_step_cpu_p99_ms", unit=" ms"),
        ),
        "",
        "Targets: "
        + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in r["targets"].items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
