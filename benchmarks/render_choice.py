"""Chat rendering: native QTextDocument (A) against QtWebEngine + KaTeX (B).

Both techniques parse the answer with the same markdown-it-py (+ tables, dollarmath) and
highlight code with Pygments; they differ in what draws it:

- A, native: HTML in the subset QTextDocument understands, shown in a QTextBrowser; every
  formula is TeX -> SVG by ziamath (pure Python), drawn by QSvgRenderer into a QImage that
  the document holds as an image resource.
- B, web: the same HTML with formulas left as TeX in ``<span class="math">``, shown in a
  QWebEngineView whose page loads KaTeX from local files once; KaTeX typesets in the page.

Each round starts one fresh process per technique (plus a plain-text QTextBrowser baseline)
in a rotating order and measures, in that process: import -> first painted frame of a
typical R1 answer (~600 words, table, 30-line code block, 9 formulas) and the memory of it
and all its child processes; warm re-renders of that answer; a ~5,000-word answer; and
appending one paragraph at a time to it. A "frame" is A's ``grab()`` (a full paint) and
B's second ``requestAnimationFrame`` after the change and after ``document.fonts.ready``,
reported back to Python (the first frame is also checked by grabbing until it is not blank).

Usage: python benchmarks/render_choice.py [--rounds 3] [--webengine-python PY] [--katex DIR]
B is measured when PY (default: this interpreter) imports PySide6.QtWebEngineWidgets
(PySide6 6.11 ships it in PySide6_Addons; from 6.12 it is the pyside6-webengine wheel) and
KaTeX's dist/ folder is found (``npm pack katex``, unpacked; default /tmp/katex/package/dist).
Writes benchmarks/results/render_choice.json and .md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
KATEX = Path("/tmp/katex/package/dist")  # `npm pack katex` unpacked; see docs/rendering.md
KINDS = ("baseline", "native", "web")
SIZE = (800, 600)

ANSWER = r"""## Sum of the first n squares

We want a closed form for \(S(n) = \sum_{k=1}^{n} k^2\) and then its value for $n = 100$.
Adding the squares one by one works, but it takes a hundred steps and gives no insight,
so let us look for a pattern that turns the sum into something we can write down at once.

### Idea

Look at how a cube grows from one integer to the next: \((k+1)^3 - k^3 = 3k^2 + 3k + 1\).
Adding this identity for every k from one to n makes the left side telescope, because
each middle cube appears once with a plus sign and once with a minus sign. Only the first
and the last cube survive, while the right side collects three copies of the sum we want,
three copies of the sum of the first n integers, and n ones:

$$
(n+1)^3 - 1 = 3\,S(n) + 3\cdot\frac{n(n+1)}{2} + n
$$

Solving for the unknown sum and simplifying the right side gives the well-known result

\[
S(n) = \frac{n(n+1)(2n+1)}{6}
\]

### Checking small cases

Before trusting the algebra, it is worth checking a few values by hand, since a slip in
a sign or a factor of two would show up immediately:

1. For n equal to one the formula gives one, and indeed one squared is one.
2. For n equal to two it gives five, which is one plus four.
3. For n equal to three it gives fourteen, and $1^2 + 2^2 + 3^2 = 14$ as well.
4. The growth is cubic, so doubling n multiplies the sum by roughly eight.

| n | direct sum | formula | agree |
|---:|---:|---:|:---:|
| 1 | 1 | 1 | yes |
| 2 | 5 | 5 | yes |
| 3 | 14 | 14 | yes |
| 10 | 385 | 385 | yes |
| 100 | 338350 | 338350 | yes |

### A program that checks it

The function below compares the closed form with a plain loop for many values of n and
also measures how long each takes. The loop needs $O(n)$ additions, the formula a fixed
handful of multiplications, which is why a formula wins when the input grows large:

```python
import time


def sum_squares_loop(n: int) -> int:
    total = 0
    for k in range(1, n + 1):
        total += k * k
    return total


def sum_squares_formula(n: int) -> int:
    return n * (n + 1) * (2 * n + 1) // 6


def check(limit: int = 2000) -> None:
    for n in range(limit):
        if sum_squares_loop(n) != sum_squares_formula(n):
            raise AssertionError(f"mismatch at n={n}")


def timing(n: int) -> tuple[float, float]:
    start = time.perf_counter()
    sum_squares_loop(n)
    middle = time.perf_counter()
    sum_squares_formula(n)
    return middle - start, time.perf_counter() - middle


if __name__ == "__main__":
    check()
    print(sum_squares_formula(100), timing(10**6))
```

Running it prints `338350` first, and the loop takes about a tenth of a second for a
million terms while the formula answers in well under a microsecond. The check passes
for every value below two thousand, which is strong evidence, though of course not a
proof; the telescoping argument above is the proof.

### Why the answer is an integer

The product $n(n+1)(2n+1)$ is always divisible by six: one of two neighbouring integers
is even, and among the three factors one is always a multiple of three. So the division in
the formula never leaves a remainder, and integer division in the program is exact.

### Summary

- The telescoping trick turns a sum of squares into a difference of two cubes.
- The closed form is checked by hand for small values and by the program for two
  thousand values.
- For one hundred the sum is three hundred thirty-eight thousand three hundred fifty.
- The same method works for higher powers, with more terms to subtract.

**Final answer:** \boxed{338350}
"""

PARAGRAPH = (
    "Step {i}: the partial sums keep the same shape, so we add the next term "
    "$k_{{{i}}}^2 + {i}$ to the running total and compare it with the **closed form** again. "
    "Nothing new happens in this step; the `check` function would report a mismatch at "
    "once, and the table above already covers the small cases that matter for the proof."
)


def long_answer(words: int = 5000) -> str:
    """An R1-length answer: the typical one repeated, formulas numbered so each is new."""

    def numbered(section: str, n: int) -> str:
        return re.sub(
            r"(\$\$?)(.+?)\1",
            lambda m: f"{m[1]}{m[2].strip()} \\quad ({n}){m[1]}",
            section,
            flags=re.S,
        )

    parts: list[str] = []
    while len(" ".join(parts).split()) < words:
        n = len(parts) + 1
        parts.append(numbered(to_dollars(ANSWER.replace("## ", f"## {n}. ")), n))
    return "\n\n".join(parts)


def to_dollars(text: str) -> str:
    r"""Turn ``\(..\)``, ``\[..\]`` and bare ``\boxed{..}`` into dollar math, outside code."""

    def outside_code(part: str) -> str:
        part = re.sub(r"\\\[(.+?)\\\]", lambda m: f"$${m[1]}$$", part, flags=re.S)
        part = re.sub(r"\\\((.+?)\\\)", lambda m: f"${m[1]}$", part, flags=re.S)
        pieces = re.split(r"(\$\$.*?\$\$|\$[^$]*\$)", part, flags=re.S)
        return "".join(
            p if k % 2 else re.sub(r"\\boxed\{(?:[^{}]|\{[^{}]*\})*\}", r"$\g<0>$", p)
            for k, p in enumerate(pieces)
        )

    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)
    out = [p if n % 2 else outside_code(p) for n, p in enumerate(parts)]
    return "".join(out)


def make_markdown(math: Any, table_attrs: str) -> Any:
    """markdown-it with tables and dollar math; ``math(tex, display)`` writes a formula."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.use(dollarmath_plugin, allow_space=True, double_inline=True)
    formatter = HtmlFormatter(noclasses=True, nowrap=True)

    def fence(_self: Any, tokens: Any, idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        try:
            lexer = get_lexer_by_name(token.info.strip() or "text")
        except ClassNotFound:
            lexer = TextLexer()
        code = highlight(token.content, lexer, formatter)
        # A one-cell table is Qt's only box with padding and a background; pre-wrap because a
        # QTextDocument block cannot scroll sideways: one long line would widen the answer.
        return (
            '<table width="100%" cellspacing="0" cellpadding="8" bgcolor="#f6f8fa">'
            f'<tr><td><pre style="white-space: pre-wrap">{code}</pre></td></tr></table>\n'
        )

    md.add_render_rule("fence", fence)
    md.add_render_rule("table_open", lambda *_: f"<table {table_attrs}>\n")
    md.add_render_rule("math_inline", lambda s, t, i, o, e: math(t[i].content, False))
    md.add_render_rule("math_inline_double", lambda s, t, i, o, e: math(t[i].content, True))
    md.add_render_rule("math_block", lambda s, t, i, o, e: math(t[i].content, True))
    return md


def formulas(tokens: Any) -> list[tuple[str, bool]]:
    """The formulas of parsed tokens in reading order, as (TeX, display)."""
    found: list[tuple[str, bool]] = []
    for token in tokens:
        for t in [token, *(token.children or [])]:
            if t.type.startswith("math_"):
                found.append((t.content, t.type != "math_inline"))
    return found


def ms(start: float, end: float) -> float:
    return round((end - start) * 1e3, 3)


class NativeRenderer:
    """A: Markdown -> QTextDocument HTML, formulas as ziamath SVG painted into QImages."""

    def __init__(self) -> None:
        import ziafont
        import ziamath

        ziafont.config.svg2 = False  # QtSvg draws no glyphs from SVG 2's <use href=...>
        self._ziamath = ziamath
        self.images: dict[str, Any] = {}  # url -> QImage; the app would keep this as a cache
        self.timings: list[tuple[str, float, float]] = []  # (tex, ziamath ms, paint ms)
        self.md = make_markdown(self._math_html, 'border="1" cellspacing="0" cellpadding="4"')

    @staticmethod
    def url(tex: str, display: bool) -> str:
        return "math:" + hashlib.sha1(f"{display}{tex}".encode()).hexdigest()[:16]

    def render_formula(self, tex: str, display: bool) -> None:
        from PySide6.QtCore import QByteArray, Qt
        from PySide6.QtGui import QImage, QPainter
        from PySide6.QtSvg import QSvgRenderer

        t0 = time.perf_counter()
        latex = self._ziamath.Latex(tex.strip(), size=18 if display else 16, inline=not display)
        svg = latex.svg()
        t1 = time.perf_counter()
        renderer = QSvgRenderer(QByteArray(svg.encode()))
        size = renderer.defaultSize()
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        self.images[self.url(tex, display)] = image
        self.timings.append((tex, (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3))

    def _math_html(self, tex: str, display: bool) -> str:
        url = self.url(tex, display)
        if url not in self.images:
            self.render_formula(tex, display)
        size = self.images[url].size()
        img = f'<img src="{url}" width="{size.width()}" height="{size.height()}"'
        return (
            f'<p align="center">{img}></p>' if display else f'{img} style="vertical-align: middle">'
        )

    def to_html(self, text: str) -> tuple[str, dict[str, float]]:
        """HTML and the ms spent parsing, typesetting new formulas and writing HTML."""
        t0 = time.perf_counter()
        tokens = self.md.parse(to_dollars(text))
        t1 = time.perf_counter()
        for tex, display in formulas(tokens):
            if self.url(tex, display) not in self.images:
                self.render_formula(tex, display)
        t2 = time.perf_counter()
        html = str(self.md.renderer.render(tokens, self.md.options, {}))
        t3 = time.perf_counter()
        return html, {"parse": ms(t0, t1), "math": ms(t1, t2), "html": ms(t2, t3)}

    def set_resources(self, document: Any) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QTextDocument

        for url, image in self.images.items():
            document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(url), image)


def web_html(md: Any, text: str) -> str:
    return str(md.render(to_dollars(text)))


def web_markdown() -> Any:
    from html import escape

    def math(tex: str, display: bool) -> str:
        tag = "div" if display else "span"
        return f'<{tag} class="math{" display" if display else ""}">{escape(tex)}</{tag}>'

    return make_markdown(math, 'class="grid"')


WEB_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="katex.min.css"><script src="katex.min.js"></script>
<style>body{font-family:sans-serif;margin:8px} table.grid{border-collapse:collapse}
table.grid td,table.grid th{border:1px solid #999;padding:4px} .display{text-align:center}</style>
<script>
function typeset(root) {
  for (const el of root.querySelectorAll('.math'))
    katex.render(el.textContent, el, {displayMode: el.classList.contains('display'),
                                      throwOnError: false});
}
function frame(tag, t0) {
  void document.body.offsetHeight;  // style and layout now, so that js covers them
  const js = performance.now() - t0;
  document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(
    () => console.log(tag + ' ' + js.toFixed(3)))));
}
function show(html, tag) {
  const t0 = performance.now(), chat = document.getElementById('chat');
  chat.innerHTML = html; typeset(chat); frame(tag, t0);
}
function append(html, tag) {
  const t0 = performance.now(), div = document.createElement('div');
  div.innerHTML = html; typeset(div); document.getElementById('chat').appendChild(div);
  window.scrollTo(0, document.body.scrollHeight); frame(tag, t0);
}
</script></head><body><div id="chat"></div><script>console.log('ready 0')</script></body></html>
"""


def memory() -> dict[str, float]:
    """RSS and PSS summed over this process and all its children (QtWebEngineProcess)."""
    import psutil

    me = psutil.Process()
    rss = pss = 0
    procs = [me, *me.children(recursive=True)]
    for proc in procs:
        info = proc.memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return {
        "processes": len(procs),
        "rss_mb": round(rss / 2**20, 1),
        "pss_mb": round(pss / 2**20, 1),
    }


def painted(image: Any) -> bool:
    """Whether a grabbed frame shows more than a background and a frame line."""
    w, h = image.width(), image.height()
    return len({image.pixel(x, y) for x in range(4, w - 4, 9) for y in range(4, h - 4, 9)}) > 2


def wait_ms(msecs: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(msecs, loop.quit)
    loop.exec()


def child_baseline(t_start: float, _args: argparse.Namespace) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication, QTextBrowser

    app = QApplication([])
    view = QTextBrowser()
    view.resize(*SIZE)
    view.setPlainText(ANSWER)
    view.show()
    app.processEvents()
    assert painted(view.grab().toImage())
    return {
        "cold_ms": ms(t_start, time.perf_counter()),
        "frame_at": time.monotonic(),
        "memory": memory(),
    }


def render_native(view: Any, renderer: NativeRenderer, text: str) -> dict[str, float]:
    from PySide6.QtWidgets import QApplication

    t0 = time.perf_counter()
    html, phases = renderer.to_html(text)
    t1 = time.perf_counter()
    renderer.set_resources(view.document())
    view.setHtml(html)
    t2 = time.perf_counter()
    QApplication.processEvents()  # the widget re-lays out at its viewport width
    view.document().documentLayout().documentSize()  # the whole answer, not just the screen
    t3 = time.perf_counter()
    image = view.grab().toImage()
    t4 = time.perf_counter()
    assert painted(image)
    return {
        **phases,
        "set_html": ms(t1, t2),
        "layout": ms(t2, t3),
        "paint": ms(t3, t4),
        "total": ms(t0, t4),
    }


def append_native(view: Any, renderer: NativeRenderer, text: str) -> dict[str, float]:
    """A completed paragraph goes to the end of the document; only it is laid out anew."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextCursor, QTextDocument

    t0 = time.perf_counter()
    html, phases = renderer.to_html(text)
    t1 = time.perf_counter()
    document = view.document()
    for url, image in list(renderer.images.items())[-1:]:
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(url), image)
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertBlock()
    cursor.insertHtml(html)
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum())
    view.viewport().repaint()
    t2 = time.perf_counter()
    markdown = ms(t0, t1) - phases["math"]
    return {
        "markdown": round(markdown, 3),
        "math": phases["math"],
        "insert_paint": ms(t1, t2),
        "gui": round(markdown + ms(t1, t2), 3),
    }


def gui_stall(renderer: NativeRenderer, items: list[tuple[str, bool]]) -> dict[str, Any]:
    """Longest gap between 1 ms timer ticks while formulas render on/off the GUI thread."""
    import threading

    from PySide6.QtCore import QEventLoop, QTimer

    def run(in_worker: bool, switch_s: float = 0.005) -> dict[str, float]:
        sys.setswitchinterval(switch_s)  # how long a thread may hold the GIL when asked
        renderer.images.clear()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        def work() -> None:
            for tex, display in items:
                renderer.render_formula(tex, display)

        loop = QEventLoop()
        ticker, poll = QTimer(), QTimer()
        ticker.setInterval(1)
        ticker.timeout.connect(tick)
        t0 = time.perf_counter()
        ticker.start()
        if in_worker:
            worker = threading.Thread(target=work)
            poll.timeout.connect(lambda: None if worker.is_alive() else loop.quit())
            worker.start()
            poll.start(2)
        else:

            def on_gui_thread() -> None:
                work()
                loop.quit()

            QTimer.singleShot(0, on_gui_thread)
        loop.exec()
        ticker.stop()
        poll.stop()
        sys.setswitchinterval(0.005)
        return {"wall_ms": ms(t0, time.perf_counter()), "max_gap_ms": round(max(gaps) * 1e3, 1)}

    return {
        "gui_thread": run(False),
        "worker_thread": run(True),
        "worker_thread_switch_1ms": run(True, 0.001),
        "formulas": len(items),
    }


def child_native(t_start: float, args: argparse.Namespace) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication, QTextBrowser

    app = QApplication([])
    renderer = NativeRenderer()
    view = QTextBrowser()
    view.resize(*SIZE)
    view.show()
    app.processEvents()
    first = render_native(view, renderer, ANSWER)
    out: dict[str, Any] = {
        "cold_ms": ms(t_start, time.perf_counter()),
        "frame_at": time.monotonic(),
    }
    out |= {"memory": memory(), "first": first, "first_formula": renderer.timings[0]}
    if args.shots:
        view.grab().save(str(args.shots / "native_first.png"))
    items = [(tex, d) for tex, d in formulas(renderer.md.parse(to_dollars(ANSWER)))]
    warm, per_formula = [], []
    for _ in range(args.renders):
        renderer.images.clear()
        renderer.timings.clear()
        warm.append(render_native(view, renderer, ANSWER))
        per_formula.append(renderer.timings)
    out["warm"] = warm
    out["per_formula"] = [
        {
            "tex": tex,
            "display": display,
            "ziamath_ms": statistics.median(run[i][1] for run in per_formula),
            "paint_ms": statistics.median(run[i][2] for run in per_formula),
        }
        for i, (tex, display) in enumerate(items)
    ]
    out["warm_cached"] = [render_native(view, renderer, ANSWER) for _ in range(3)]
    renderer.images.clear()
    text = long_answer()
    out["long"] = render_native(view, renderer, text)
    out["long_words"] = len(text.split())
    out["appends"] = [
        append_native(view, renderer, PARAGRAPH.format(i=i)) for i in range(args.appends)
    ]
    if args.shots:
        view.grab().save(str(args.shots / "native_appended.png"))
    out["stall"] = gui_stall(renderer, items)
    out["memory_end"] = memory()
    return out


def child_web(t_start: float, args: argparse.Namespace) -> dict[str, Any]:
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer, QUrl
    from PySide6.QtWebEngineCore import QWebEnginePage
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication([])
    md = web_markdown()

    class Page(QWebEnginePage):
        """Pages report "tag js_ms" on the console once their frame is out."""

        def __init__(self) -> None:
            super().__init__()
            self.seen: dict[str, float] = {}
            self.errors: list[str] = []
            self.loop: QEventLoop | None = None

        def javaScriptConsoleMessage(self, level: Any, text: str, line: int, src: str) -> None:  # noqa: N802
            tag, _, value = text.partition(" ")
            if level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
                self.errors.append(f"{src}:{line}: {text}")
            elif re.fullmatch(r"-?[\d.]+", value):
                self.seen[tag] = float(value)
            if self.loop is not None:
                self.loop.quit()

        def wait(self, tag: str) -> float:
            deadline = time.monotonic() + 60
            while tag not in self.seen and not self.errors and time.monotonic() < deadline:
                self.loop = QEventLoop()
                QTimer.singleShot(1000, self.loop.quit)
                self.loop.exec()
                self.loop = None
            if tag not in self.seen:
                raise RuntimeError(f"page never reported {tag!r}: {self.errors}")
            return self.seen.pop(tag)

        def call(self, function: str, html: str, tag: str) -> dict[str, float]:
            """GUI-thread ms (the call returns at once), in-page ms, ms until the frame."""
            t0 = time.perf_counter()
            self.runJavaScript(f"{function}({json.dumps(html)}, {json.dumps(tag)})")
            t1 = time.perf_counter()
            js = self.wait(tag)
            return {"call": ms(t0, t1), "js": js, "frame": ms(t0, time.perf_counter())}

    def render(function: str, text: str, tag: str) -> dict[str, float]:
        t0 = time.perf_counter()
        html = web_html(md, text)
        phases = page.call(function, html, tag)
        markdown = ms(t0, time.perf_counter()) - phases["frame"]
        return {
            "markdown": round(markdown, 3),
            "gui": round(markdown + phases["call"], 3),
            "js": phases["js"],
            "total": round(markdown + phases["frame"], 3),
        }

    view = QWebEngineView()
    page = Page()
    view.setPage(page)
    view.resize(*SIZE)
    view.show()
    app.processEvents()
    page.setHtml(WEB_PAGE, QUrl.fromLocalFile(str(args.katex) + "/"))
    page.wait("ready")
    ready = time.perf_counter()
    first = render("show", ANSWER, "first")
    done = time.perf_counter()
    while not painted(view.grab().toImage()):
        if time.perf_counter() - done > 30:
            raise RuntimeError("the page never painted")
        wait_ms(5)
    out: dict[str, Any] = {
        "cold_ms": ms(t_start, time.perf_counter()),
        "frame_at": time.monotonic(),
    }
    out |= {
        "memory": memory(),
        "first": first,
        "page_ready_ms": ms(t_start, ready),
        "grab_after_ms": ms(done, time.perf_counter()),
    }
    if args.shots:
        view.grab().save(str(args.shots / "web_first.png"))
    out["warm"] = [render("show", ANSWER, f"w{i}") for i in range(args.renders)]
    text = long_answer()
    out["long"] = render("show", text, "long")
    out["long_words"] = len(text.split())
    out["appends"] = [render("append", PARAGRAPH.format(i=i), f"a{i}") for i in range(args.appends)]
    if args.shots:
        wait_ms(100)
        view.grab().save(str(args.shots / "web_appended.png"))
    out["memory_end"] = memory()
    if page.errors:
        raise RuntimeError(f"page errors: {page.errors}")
    return out


def child_env(kind: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if kind == "web" and hasattr(os, "geteuid") and os.geteuid() == 0:
        flags = env.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:  # Chromium refuses to run its sandbox as root
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()
    return env


def run_child(kind: str, python: str, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh process; its import -> frame time, plus spawn -> frame on a shared clock."""
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--renders",
        str(args.renders),
        "--appends",
        str(args.appends),
        "--katex",
        str(args.katex),
    ]
    cmd += ["--shots", str(args.shots)] if args.shots else []
    spawned = time.monotonic()
    env = child_env(kind)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        errors = [x for x in proc.stderr.splitlines() if re.match(r"\w+(Error|Exception)\b", x)]
        last = (errors or proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {last}"}
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["spawn_ms"] = round((result.pop("frame_at") - spawned) * 1e3, 1)
    return result


def probe(python: str, code: str) -> str | None:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def wheel_sizes(specs: list[str]) -> list[dict[str, Any]]:
    """Download size and unpacked size of each wheel (no dependencies) from the package index."""
    rows = []
    for spec in specs:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                    tmp,
                    spec,
                ],
                check=True,
                capture_output=True,
                timeout=600,
            )
            wheel = next(Path(tmp).glob("*.whl"))
            installed = sum(i.file_size for i in zipfile.ZipFile(wheel).infolist())
            rows.append(
                {
                    "wheel": wheel.name,
                    "download_mb": round(wheel.stat().st_size / 1e6, 2),
                    "installed_mb": round(installed / 1e6, 2),
                }
            )
    return rows


WEBENGINE_FILES = r"""
import re, sys
from importlib.metadata import PackageNotFoundError, files
found = []
for dist in ("pyside6_webengine", "pyside6_addons"):
    try:
        found += [f for f in files(dist) or [] if re.search(sys.argv[1], str(f), re.I)]
    except PackageNotFoundError:
        pass
print(sum(f.locate().stat().st_size for f in found if f.locate().is_file()))
"""


def sizes(web_python: str, katex: Path) -> dict[str, Any]:
    """Wheels A needs, the QtWebEngine wheel, and QtWebEngine's files as B's Python has them."""
    from importlib.metadata import version

    names = (
        "markdown-it-py",
        "mdurl",
        "mdit-py-plugins",
        "pygments",
        "ziamath",
        "ziafont",
        "latex2mathml",
    )
    web = probe(
        web_python, "from importlib.metadata import version; print(version('pyside6-webengine'))"
    )
    out: dict[str, Any] = {
        "native": wheel_sizes([f"{n}=={version(n)}" for n in names]),
        "web": wheel_sizes([f"pyside6-webengine=={web}" if web else "pyside6-webengine"]),
    }
    pattern = r"webengine|webchannel|icudtl|\.pak$"  # Chromium, its data, resources, locales
    cmd = [web_python, "-c", WEBENGINE_FILES, pattern]
    installed = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    if installed:
        out["webengine_installed_mb"] = round(int(installed) / 1e6, 2)
    if katex.is_dir():
        shipped = [katex / "katex.min.js", katex / "katex.min.css", *katex.glob("fonts/*.woff2")]
        out["katex_mb"] = round(sum(f.stat().st_size for f in shipped) / 1e6, 2)
    return out


def med(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Medians over rounds (cold figures) and over all renders/appends (warm figures)."""
    out: dict[str, dict[str, float]] = {}
    for kind, results in runs.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            continue

        def pool(part: str, key: str, ok: list[dict[str, Any]] = ok) -> list[float]:
            return [x[key] for r in ok for x in r[part]]

        row = {
            "cold_ms": med([r["cold_ms"] for r in ok]),
            "spawn_ms": med([r["spawn_ms"] for r in ok]),
            "processes": max(r["memory"]["processes"] for r in ok),
            "rss_mb": med([r["memory"]["rss_mb"] for r in ok]),
            "pss_mb": med([r["memory"]["pss_mb"] for r in ok]),
        }
        if kind != "baseline":
            native = kind == "native"
            frames = pool("appends", "gui" if native else "total")
            warm_math = pool("warm", "math") if native else [0.0] * len(pool("warm", "total"))
            row |= {
                "first_render_ms": med([r["first"]["total"] for r in ok]),
                "warm_ms": med(pool("warm", "total")),
                "warm_gui_ms": med(
                    [t - m for t, m in zip(pool("warm", "total"), warm_math, strict=True)]
                    if native
                    else pool("warm", "gui")
                ),
                "long_ms": med([r["long"]["total"] for r in ok]),
                "long_gui_ms": med(
                    [r["long"]["total"] - r["long"].get("math", 0) for r in ok]
                    if native
                    else [r["long"]["gui"] for r in ok]
                ),
                "append_frame_ms": med(frames),
                "append_frame_p95_ms": round(statistics.quantiles(frames, n=20)[-1], 1),
                "append_gui_ms": med(pool("appends", "gui")),
                "rss_end_mb": med([r["memory_end"]["rss_mb"] for r in ok]),
                "pss_end_mb": med([r["memory_end"]["pss_mb"] for r in ok]),
            }
        if kind == "native":
            row["warm_math_ms"] = med(pool("warm", "math"))
            row["warm_cached_ms"] = med(pool("warm_cached", "total"))
            row["append_math_ms"] = med(
                [
                    g + m
                    for g, m in zip(pool("appends", "gui"), pool("appends", "math"), strict=True)
                ]
            )
        if kind == "web":
            row["warm_page_ms"] = med(pool("warm", "js"))
            row["append_page_ms"] = med(pool("appends", "js"))
        out[kind] = row
    return out


ROWS = [  # (label, key, unit)
    ("import -> first frame of the answer", "cold_ms", "ms"),
    ("process spawn -> first frame", "spawn_ms", "ms"),
    ("processes", "processes", ""),
    ("RSS at first frame, all processes", "rss_mb", "MB"),
    ("PSS at first frame, all processes", "pss_mb", "MB"),
    ("first render in a fresh process, until its frame", "first_render_ms", "ms"),
    ("warm render, formulas typeset again, until its frame", "warm_ms", "ms"),
    ("  of it on the GUI thread (A: without formulas)", "warm_gui_ms", "ms"),
    ("  of it formulas: ziamath + QtSvg", "warm_math_ms", "ms"),
    ("  of it in the page: DOM + KaTeX + layout", "warm_page_ms", "ms"),
    ("warm render, formula images cached", "warm_cached_ms", "ms"),
    ("~5,000-word answer, whole render until its frame", "long_ms", "ms"),
    ("  of it on the GUI thread (A: without formulas)", "long_gui_ms", "ms"),
    ("append one paragraph: until its frame, median", "append_frame_ms", "ms"),
    ("append one paragraph: until its frame, p95", "append_frame_p95_ms", "ms"),
    ("append one paragraph: GUI-thread time", "append_gui_ms", "ms"),
    ("append one paragraph: in the page (DOM + KaTeX + layout)", "append_page_ms", "ms"),
    ("append one paragraph: GUI thread incl. its formula", "append_math_ms", "ms"),
    ("RSS after the long answer + appends", "rss_end_mb", "MB"),
    ("PSS after the long answer + appends", "pss_end_mb", "MB"),
]


def markdown(data: dict[str, Any]) -> str:
    meta, summary = data["meta"], data["summary"]
    web = "status" in data["web"]
    lines = [
        f"# Chat rendering: native vs QtWebEngine ({meta['date']}, {meta['cpu_count']} cores)",
        "",
        f"Medians: cold figures over {meta['rounds']} fresh process(es) per technique, warm "
        f"figures over {meta['renders']} renders and {meta['appends']} appends per process. "
        f"Typical answer: {meta['answer_words']} words, {meta['answer_formulas']} formulas.",
        f"Qt: native {meta['qt_native']}, web {meta['qt_web'] or 'n/a'}; "
        f"KaTeX {meta['katex'] or 'n/a'}." + (f" B: {data['web']['status']}." if web else ""),
        "",
        "| | unit | plain-text baseline | A: QTextDocument + ziamath | B: QtWebEngine + KaTeX |",
        "|---|---|---:|---:|---:|",
    ]
    for label, key, unit in ROWS:
        cells = [summary.get(k, {}).get(key, "") for k in KINDS]
        if any(c != "" for c in cells):
            cells = [
                c if c != "" else ("not measured" if web and k == "web" else "-")
                for c, k in zip(cells, KINDS, strict=True)
            ]
            lines.append(f"| {label} | {unit} | " + " | ".join(map(str, cells)) + " |")
    for kind, results in data["runs"].items():
        lines += [
            f"\n{kind} failed in round {n + 1}: {r['error']}"
            for n, r in enumerate(results)
            if "error" in r
        ]
    native = [r for r in data["runs"]["native"] if "error" not in r]
    if native:
        lines += [
            "",
            "Per formula (A, warm, median ms; off the GUI thread in the app):",
            "",
            "| TeX | display | ziamath | QSvgRenderer -> QImage |",
            "|---|---|---:|---:|",
        ]
        formulas_by_run = [r["per_formula"] for r in native]
        for i, f in enumerate(formulas_by_run[0]):
            zm = med([run[i]["ziamath_ms"] for run in formulas_by_run])
            paint = statistics.median(run[i]["paint_ms"] for run in formulas_by_run)
            display = "yes" if f["display"] else ""
            lines.append(f"| `{f['tex'].strip()}` | {display} | {zm} | {paint:.2f} |")

        def stall(mode: str, key: str) -> float:
            return med([r["stall"][mode][key] for r in native])

        lines += [
            "",
            f"First formula in a fresh process: {med([r['first_formula'][1] for r in native])} ms"
            f" (ziamath); all formulas of the first render: "
            f"{med([r['first']['math'] for r in native])} ms.",
            f"Typesetting the answer's {native[0]['stall']['formulas']} formulas on the GUI "
            f"thread stops the event loop for {stall('gui_thread', 'max_gap_ms')} ms; in a "
            f"worker thread the longest gap between 1 ms timer ticks is "
            f"{stall('worker_thread', 'max_gap_ms')} ms (wall {stall('worker_thread', 'wall_ms')}"
            f" ms; the GIL is shared, so the worker does not run faster, it only yields); "
            f"with sys.setswitchinterval(0.001) the longest gap is "
            f"{stall('worker_thread_switch_1ms', 'max_gap_ms')} ms "
            f"(wall {stall('worker_thread_switch_1ms', 'wall_ms')} ms).",
        ]
    if "sizes" in data:
        sz = data["sizes"]
        lines += ["", "| package (wheel) | download MB | installed MB |", "|---|---:|---:|"]
        lines += [
            f"| {r['wheel']} | {r['download_mb']} | {r['installed_mb']} |"
            for r in sz["native"] + sz["web"]
        ]
        total = [round(sum(r[k] for r in sz["native"]), 2) for k in ("download_mb", "installed_mb")]
        lines.append(f"| **A total** | {total[0]} | {total[1]} |")
        if "webengine_installed_mb" in sz:
            lines.append(
                f"| QtWebEngine files in B's installed PySide6 ({meta['qt_web']}) | "
                f"| {sz['webengine_installed_mb']} |"
            )
        if "katex_mb" in sz:
            lines.append(
                f"| KaTeX (min.js, min.css, woff2 fonts) | {sz['katex_mb']} | {sz['katex_mb']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--renders", type=int, default=10, help="warm renders per process")
    ap.add_argument("--appends", type=int, default=40, help="paragraph appends per process")
    ap.add_argument(
        "--webengine-python",
        default=sys.executable,
        help="interpreter for B (one with pyside6-webengine; default: this one)",
    )
    ap.add_argument("--katex", type=Path, default=KATEX, help="KaTeX dist/ folder")
    ap.add_argument("--no-sizes", action="store_true", help="skip the wheel downloads")
    ap.add_argument("--shots", type=Path, help="save first/last frames as PNGs here")
    ap.add_argument("--name", default="render_choice", help="results file name (no suffix)")
    ap.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        t_start = time.perf_counter()
        child = {"baseline": child_baseline, "native": child_native, "web": child_web}
        print("RESULT " + json.dumps(child[args.child](t_start, args)), flush=True)
        return 0

    qt = "from importlib.metadata import version as v; print(v('pyside6_essentials'))"
    web_python = args.webengine_python
    kinds = list(KINDS)
    web_status: dict[str, Any] = {}
    if probe(web_python, "import PySide6.QtWebEngineWidgets") is None:
        web_status = {
            "status": f"not installed (PySide6.QtWebEngineWidgets missing in {web_python})"
        }
        kinds.remove("web")
    elif not (args.katex / "katex.min.js").is_file():
        web_status = {"status": f"not measured: no KaTeX at {args.katex} (npm pack katex)"}
        kinds.remove("web")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for n in range(args.rounds):
        for kind in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
            result = run_child(kind, web_python if kind == "web" else sys.executable, args)
            runs[kind].append(result)
            print(
                f"round {n + 1} {kind:<8} "
                + (
                    result.get("error")
                    or f"cold {result['cold_ms']:7.0f} ms  rss {result['memory']['rss_mb']:6.0f} MB"
                ),
                flush=True,
            )
    katex_pkg = args.katex.parent / "package.json"
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rounds": args.rounds,
        "renders": args.renders,
        "appends": args.appends,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "qt_native": probe(sys.executable, qt),
        "qt_web": probe(web_python, qt) if "web" in kinds else None,
        "katex": json.loads(katex_pkg.read_text())["version"] if katex_pkg.is_file() else None,
        "answer_words": len(ANSWER.split()),
        "window": SIZE,
        "answer_formulas": len(formulas(web_markdown().parse(to_dollars(ANSWER)))),
        "env": {k: v for k, v in child_env("web").items() if k.startswith(("QT_", "QTWEBENGINE"))},
    }
    data: dict[str, Any] = {
        "meta": meta,
        "web": web_status,
        "summary": summarize(runs),
        "runs": runs,
    }
    if not args.no_sizes:
        data["sizes"] = sizes(web_python, args.katex)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
