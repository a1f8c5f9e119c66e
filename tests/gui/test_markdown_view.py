"""MarkdownView: what a reader sees of a rendered answer, static or streaming in."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextImageFormat,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.gui.render.math import MathRenderer
from app.gui.theme import dark_palette, light_palette
from app.gui.views.markdown_view import MarkdownView

pytestmark = pytest.mark.gui


def settle(qtbot: QtBot, view: MarkdownView) -> None:
    """Wait until the math thread has drawn every formula the view shows."""
    qtbot.waitUntil(lambda: not view.math_pending(), timeout=10_000)


ANSWER = r"""# Sum of squares

We want $S = \sum_{k=1}^{n} k^2$ for \(n = 10\).

1. Use the closed form
   $$S = \frac{n(n+1)(2n+1)}{6}$$
2. Check it in code.

| n | S |
|---|--:|
| 3 | 14 |
| 10 | 385 |

```python
def s(n):
    return sum(k * k for k in range(1, n + 1))


print(s(10))
```

\[
\int_0^1 x^2 \, dx = \frac{1}{3}
\]

> Quoted *text* with `code`.

---

**Final answer:** \boxed{385}
"""


@pytest.fixture
def math() -> Iterator[MathRenderer]:
    renderer = MathRenderer()
    yield renderer
    renderer.deleteLater()


@pytest.fixture
def view(qtbot: QtBot, math: MathRenderer) -> MarkdownView:
    v = MarkdownView(math=math)
    qtbot.addWidget(v)
    v.resize(560, 100)
    v.show()
    qtbot.waitExposed(v)
    return v


def images(view: MarkdownView) -> list[QImage]:
    """The formula images in the document, in order."""
    doc = view.document()
    out: list[QImage] = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                name = QTextImageFormat(fmt.toImageFormat()).name()
                res = doc.resource(QTextDocument.ResourceType.ImageResource.value, QUrl(name))
                out.append(res if isinstance(res, QImage) else QImage())
            it += 1
        block = block.next()
    return out


def block_with(view: MarkdownView, text: str) -> QTextCursor:
    found = view.document().find(text)
    assert not found.isNull(), f"{text!r} not shown"
    return found


def foreground_colours(view: MarkdownView, start: str, end: str) -> set[str]:
    """Text colours used from the block holding ``start`` to the one holding ``end``."""
    block = block_with(view, start).block()
    last = block_with(view, end).block()
    colours: set[str] = set()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.text().strip():
                colours.add(fragment.charFormat().foreground().color().name())
            it += 1
        if block == last:
            break
        block = block.next()
    return colours


def click_text(qtbot: QtBot, view: MarkdownView, text: str, occurrence: int = 0) -> None:
    cursor = QTextCursor()
    for _ in range(occurrence + 1):
        cursor = view.document().find(text, cursor)
    assert not cursor.isNull()
    middle = QTextCursor(view.document())
    middle.setPosition(cursor.selectionStart() + len(text) // 2)
    rect = view.cursorRect(middle)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


# -- structure --------------------------------------------------------------------------


def test_heading_list_and_table_are_real_structure(view: MarkdownView) -> None:
    view.set_markdown(
        "# Big title\n\nBody text.\n\n- apple\n- pear\n\n| left | right |\n|---|---|\n| 1 | 2 |"
    )
    heading = block_with(view, "Big title").block()
    body = block_with(view, "Body text.").block()
    heading_line = heading.layout().lineAt(0)
    body_line = body.layout().lineAt(0)
    assert heading_line.height() > body_line.height() * 1.2
    assert heading.charFormat().fontWeight() >= QFont.Weight.Bold or (
        heading.begin().fragment().charFormat().fontWeight() >= QFont.Weight.Bold
    )

    items = [block_with(view, t).block() for t in ("apple", "pear")]
    assert all(b.textList() is not None for b in items)
    assert items[0].textList() == items[1].textList()  # one list, not two

    table = block_with(view, "left").currentTable()
    assert table is not None
    assert (table.rows(), table.columns()) == (2, 2)
    cell = table.cellAt(1, 1)
    assert view.document().toPlainText()[cell.firstPosition() : cell.lastPosition()] == "2"


def test_a_horizontal_rule_survives_at_the_start_and_between_blocks(view: MarkdownView) -> None:
    view.set_markdown("---\n\nbetween\n\n***\n\nend")
    rules = 0
    block = view.document().begin()
    while block.isValid():
        rules += block.blockFormat().hasProperty(
            QTextFormat.Property.BlockTrailingHorizontalRulerWidth
        )
        block = block.next()
    assert rules == 2


def test_code_is_highlighted_on_a_panel(view: MarkdownView) -> None:
    view.set_markdown("```python\ndef f(x):\n    return x + 1  # add one\n```")
    assert len(foreground_colours(view, "def f", "return x")) > 1
    panel = block_with(view, "def f").currentTable()
    assert panel is not None  # the code sits in a table drawn as a panel
    assert panel.format().background().style() != Qt.BrushStyle.NoBrush


def test_unknown_language_is_shown_as_plain_code(view: MarkdownView) -> None:
    view.set_markdown("```nosuchlanguage\nif x then y\nend\n```")
    assert "if x then y\nend" in view.document().toPlainText()
    assert len(foreground_colours(view, "if x then y", "end")) == 1


def test_copy_link_puts_exactly_that_blocks_code_on_the_clipboard(
    qtbot: QtBot, view: MarkdownView
) -> None:
    first = "def f(x):\n    return x + 1\n\n\n# two blank lines above"
    second = "echo 'second block'  # with  two  spaces"
    view.set_markdown(f"Intro\n\n```python\n{first}\n```\n\nMiddle\n\n~~~bash\n{second}\n~~~\n")
    with qtbot.waitSignal(view.copy_requested) as blocker:
        click_text(qtbot, view, "Copy", occurrence=1)
    assert blocker.args == [second]
    assert QGuiApplication.clipboard().text() == second
    with qtbot.waitSignal(view.copy_requested):
        click_text(qtbot, view, "Copy", occurrence=0)
    assert QGuiApplication.clipboard().text() == first


# -- math -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "tex"),
    [
        ("Inline $x^2$ here.", "x^2"),
        ("Inline \\(x^2\\) here.", "x^2"),
        ("Display:\n\n\\[x^2 + 1\\]\n", "x^2 + 1"),
        ("Display:\n\n$$\nx^2 + 1\n$$\n", "x^2 + 1"),
        ("The answer is \\boxed{42}.", "42"),
    ],
)
def test_math_becomes_an_image(qtbot: QtBot, view: MarkdownView, source: str, tex: str) -> None:
    view.set_markdown(source)
    settle(qtbot, view)
    found = images(view)
    assert len(found) == 1
    assert not found[0].isNull()
    assert tex not in view.document().toPlainText()


def test_inline_math_is_drawn_in_the_text_colour_and_follows_the_font_size(
    qtbot: QtBot, view: MarkdownView
) -> None:
    view.setPalette(light_palette())
    view.set_markdown("Value $y = 1$.")
    settle(qtbot, view)
    light = images(view)[0]
    view.setPalette(dark_palette())  # the message re-renders itself for the new palette
    settle(qtbot, view)
    dark = images(view)[0]
    assert _ink_lightness(light) < 100 < _ink_lightness(dark)

    font = view.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    view.setFont(font)
    settle(qtbot, view)
    bigger = images(view)[0]
    assert bigger.deviceIndependentSize().height() > dark.deviceIndependentSize().height() * 1.5


def _ink_lightness(image: QImage) -> int:
    """Lightness of the most opaque pixel: the formula's ink."""
    best, alpha = QColor(), -1
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() > alpha:
                best, alpha = c, c.alpha()
    return best.lightness()


def test_invalid_tex_shows_its_source_in_monospace(
    qtbot: QtBot, view: MarkdownView, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.gui.render.math"):
        view.set_markdown("Broken $\\frac{1}{$ formula and fine $x$.")
        settle(qtbot, view)
    text = view.document().toPlainText()
    assert "$\\frac{1}{$" in text
    assert len(images(view)) == 1  # the valid one is still drawn
    source = block_with(view, "\\frac{1}{")
    metrics = QFontMetricsF(source.charFormat().font())
    assert metrics.horizontalAdvance("i") == metrics.horizontalAdvance("W")  # monospace
    assert any("\\frac{1}{" in r.getMessage() for r in caplog.records)


def test_selected_formulas_copy_as_their_tex(qtbot: QtBot, view: MarkdownView) -> None:
    view.set_markdown("Area $\\pi r^2$ and \\boxed{7}")
    settle(qtbot, view)
    view.selectAll()
    view.copy()
    assert QGuiApplication.clipboard().text() == "Area $\\pi r^2$ and \\boxed{7}"


# -- streaming --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_streaming_in_random_chunks_ends_like_showing_it_at_once(
    qtbot: QtBot, math: MathRenderer, view: MarkdownView, seed: int
) -> None:
    rng = random.Random(seed)
    pos = 0
    while pos < len(ANSWER):
        step = rng.randint(1, 12)
        view.append(ANSWER[pos : pos + step])
        pos += step
        view.flush()
        if rng.random() < 0.3:
            qtbot.wait(1)  # let formulas drawn on the math thread arrive mid-stream
    view.finish()
    settle(qtbot, view)
    assert view.markdown() == ANSWER

    static = MarkdownView(math=math)
    qtbot.addWidget(static)
    static.set_markdown(ANSWER)
    settle(qtbot, static)
    assert view.document().toPlainText() == static.document().toPlainText()
    assert len(images(view)) == len(images(static)) == 5
    assert "def s(n):" in view.document().toPlainText()


def test_incomplete_text_shows_as_plain_text_until_its_block_completes(
    view: MarkdownView,
) -> None:
    view.append("Some **bold")
    view.flush()
    assert "Some **bold" in view.document().toPlainText()  # the tail, as written so far
    view.append(" words**\n\nNext")
    view.flush()
    text = view.document().toPlainText()
    assert "Some bold words" in text  # rendered: the markers are gone
    assert text.endswith("Next")
    bold = block_with(view, "bold words")
    assert bold.charFormat().fontWeight() >= QFont.Weight.Bold


def test_a_block_waiting_for_its_formula_stays_text_until_the_image_arrives(
    qtbot: QtBot, view: MarkdownView
) -> None:
    view.append("Before $\\sqrt{y^3}$ after.\n\nStill typing")
    view.flush()
    # The formula is drawn on the math thread; meanwhile its block is shown as written.
    assert "$\\sqrt{y^3}$" in view.document().toPlainText()
    qtbot.waitUntil(lambda: len(images(view)) == 1, timeout=10_000)
    text = view.document().toPlainText()
    assert "$\\sqrt{y^3}$" not in text
    assert text.startswith("Before ") and text.endswith("Still typing")


def test_height_follows_the_content_as_it_streams_in(qtbot: QtBot, view: MarkdownView) -> None:
    heights = [view.height()]
    for i in range(12):
        view.append(f"Paragraph number {i} with a few words in it.\n\n")
        view.flush()
        heights.append(view.height())
    view.finish()
    heights.append(view.height())
    assert heights == sorted(heights[:-1]) + heights[-1:]
    assert heights[-2] > heights[0] * 3
    doc_height = view.document().size().height()
    assert view.height() >= doc_height  # everything visible, nothing to scroll inside
    assert view.verticalScrollBar().maximum() == 0

    view.resize(260, view.height())  # narrower: lines wrap, the view gets taller
    qtbot.waitUntil(lambda: view.height() > heights[-1])


def wheel(view: MarkdownView, modifiers: Qt.KeyboardModifier) -> QWheelEvent:
    centre = QPointF(view.viewport().rect().center())
    event = QWheelEvent(
        centre,
        QPointF(view.viewport().mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    return event


def test_the_wheel_is_left_to_the_chat_list_and_never_zooms(
    qtbot: QtBot, math: MathRenderer
) -> None:
    area = QScrollArea()
    area.setWidgetResizable(True)
    inner = QWidget()
    layout = QVBoxLayout(inner)
    message = MarkdownView(math=math)
    message.set_markdown("\n\n".join(f"Paragraph {i}." for i in range(60)))
    layout.addWidget(message)
    area.setWidget(inner)
    area.resize(400, 300)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    assert message.height() > 600  # the whole message, not a scrolling window onto it
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0)  # the list scrolls
    assert not wheel(message, Qt.KeyboardModifier.NoModifier).isAccepted()  # passed up to it
    size = message.document().defaultFont().pointSizeF()
    assert not wheel(message, Qt.KeyboardModifier.ControlModifier).isAccepted()
    assert message.document().defaultFont().pointSizeF() == size


def test_set_markdown_replaces_a_stream_in_progress(view: MarkdownView) -> None:
    view.append("old text\n\nmore")
    view.flush()
    view.set_markdown("new")
    assert view.document().toPlainText() == "new"
    assert view.markdown() == "new"


# -- safety and interaction -------------------------------------------------------------


def test_raw_html_in_the_source_is_shown_as_text(view: MarkdownView) -> None:
    view.set_markdown("<script>alert('x')</script> and <b>not bold</b>")
    text = view.document().toPlainText()
    assert "<script>alert('x')</script>" in text
    assert "<b>not bold</b>" in text


def test_images_in_markdown_are_never_fetched(view: MarkdownView) -> None:
    view.set_markdown("![tracker](https://example.com/pixel.png) ![secret](/etc/passwd)")
    assert images(view) == []
    assert "tracker" in view.document().toPlainText()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs handed to the desktop (offscreen Qt has no browser to hand them to)."""
    urls: list[str] = []

    def open_url(url: QUrl) -> bool:
        urls.append(url.toString())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    return urls


def test_web_links_open_outside_and_other_links_do_nothing(
    qtbot: QtBot, view: MarkdownView, opened: list[str]
) -> None:
    view.set_markdown("See [the site](https://example.com/a) or [a file](file:///etc/passwd).")
    before = view.document().toPlainText()
    click_text(qtbot, view, "the site")
    click_text(qtbot, view, "a file")
    assert opened == ["https://example.com/a"]
    assert view.document().toPlainText() == before  # nothing was opened inside the view


def test_text_is_selectable_by_keyboard_and_named_for_screen_readers(
    qtbot: QtBot, view: MarkdownView
) -> None:
    view.set_markdown("Select **me** please")
    assert view.accessibleName() == "Answer"
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.textCursor().selectedText() == "Select me please"
    view.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.textCursor().selectedText() == "S"


def test_a_click_on_the_code_itself_copies_nothing(qtbot: QtBot, view: MarkdownView) -> None:
    view.set_markdown("```\nsome code\n```")
    QGuiApplication.clipboard().setText("before")
    with qtbot.assertNotEmitted(view.copy_requested):
        click_text(qtbot, view, "some code")
    assert QGuiApplication.clipboard().text() == "before"


PIECES = st.sampled_from(
    [
        "",
        "plain words",
        "# Heading",
        "- item",
        "1. first",
        "   indented",
        "> quote",
        "---",
        "```",
        "```python",
        "x = 1  # code?",
        "~~~",
        "$$",
        "a^2 + b^2",
        "$x_1$ and \\(y\\)",
        "\\[",
        "\\]",
        "\\boxed{4}",
        "$\\frac{1}{$",
        "| a | b |",
        "|---|---|",
        "<b>html</b>",
        "**bold** _it_ `co`",
        "[l](https://e.org)",
        "![i](x.png)",
        "é 🤔 中文",
    ]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(PIECES, max_size=14), cuts=st.lists(st.integers(1, 9), max_size=40))
def test_any_markdown_streams_to_the_same_text_as_shown_at_once(
    qtbot: QtBot, math: MathRenderer, lines: list[str], cuts: list[int]
) -> None:
    text = "\n".join(lines)
    streamed = MarkdownView(math=math)
    static = MarkdownView(math=math)
    qtbot.addWidget(streamed)
    qtbot.addWidget(static)
    pos, steps = 0, iter(cuts)
    while pos < len(text):
        step = next(steps, 7)
        streamed.append(text[pos : pos + step])
        streamed.flush()
        pos += step
    streamed.finish()
    static.set_markdown(text)
    settle(qtbot, streamed)
    settle(qtbot, static)
    assert streamed.document().toPlainText() == static.document().toPlainText()
    assert streamed.markdown() == text


def test_a_stored_message_shows_at_once_and_its_new_formulas_follow(
    qtbot: QtBot, view: MarkdownView
) -> None:
    # Opening a chat never waits for formulas to be typeset: the text is there at once.
    view.set_markdown("Intro paragraph.\n\nThe value $\\sqrt{q^5 + 17}$ matters.")
    text = view.document().toPlainText()
    assert text.startswith("Intro paragraph.")
    assert "$\\sqrt{q^5 + 17}$" in text and view.math_pending()
    settle(qtbot, view)
    assert len(images(view)) == 1
    assert "$" not in view.document().toPlainText()


def test_formulas_do_not_become_frames(qtbot: QtBot, view: MarkdownView) -> None:
    # Qt's HTML import makes every <img> a frame, and every layout walks all frames: an
    # answer with hundreds of formulas would get slower to stream as it grew.
    text = "\n\n".join(f"Step {i}: $x_{{{i}}} = {i}^2$ and $y_{{{i}}} = {i}$." for i in range(40))
    view.set_markdown(text + "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    settle(qtbot, view)
    assert len(images(view)) == 80
    frames = view.document().rootFrame().childFrames()
    assert len(frames) == 1  # the table
