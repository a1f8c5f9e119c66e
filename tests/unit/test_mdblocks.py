"""BlockSplitter: where streamed Markdown may be cut into blocks rendered once and kept."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.mdblocks import BlockSplitter


def split_all(text: str) -> list[str]:
    s = BlockSplitter()
    return s.feed(text) + s.finish()


def split_chunks(chunks: list[str]) -> list[str]:
    s = BlockSplitter()
    out: list[str] = []
    for chunk in chunks:
        out += s.feed(chunk)
    return out + s.finish()


def test_paragraphs_and_headings_end_at_blank_lines() -> None:
    text = "# Title\n\nFirst line\nsecond line\n\nLast"
    assert split_all(text) == ["# Title\n\n", "First line\nsecond line\n\n", "Last"]


def test_a_block_is_returned_as_soon_as_the_next_one_starts() -> None:
    s = BlockSplitter()
    assert s.feed("One.\n\n") == []  # the next line might still continue it
    assert s.tail == "One.\n\n"
    assert s.feed("T") == ["One.\n\n"]  # unindented, no list: a new block
    assert s.tail == "T"


def test_the_start_of_a_line_may_leave_it_open_until_it_can_tell() -> None:
    s = BlockSplitter()
    assert s.feed("- a\n\n") == []
    assert s.feed("-") == []  # could be the next item of this list
    assert s.feed(" b\n\n  ") == []  # it is; then an indented line continues it
    assert s.feed("c\n\nNext") == ["- a\n\n- b\n\n  c\n\n"]
    assert s.tail == "Next"


def test_blank_lines_inside_a_backtick_fence_do_not_split_it() -> None:
    code = "```python\nx = 1\n\n\ny = 2\n```\n"
    assert split_all(code + "\nAfter.") == [code, "\nAfter."]


def test_a_closing_fence_completes_the_code_block_at_once() -> None:
    s = BlockSplitter()
    assert s.feed("```\na\n\nb\n") == []
    assert s.feed("```\n") == ["```\na\n\nb\n```\n"]
    assert s.tail == ""


def test_tilde_fence_holds_backtick_fences_and_needs_its_own_closer() -> None:
    code = "~~~~markdown\n```python\nx\n\n```\n\n~~~\nstill inside\n~~~~\n"
    assert split_all(code + "\nout") == [code, "\nout"]


def test_a_shorter_closing_fence_does_not_close() -> None:
    code = "`````\n```\n\ninner\n```\n\n`````\n"
    assert split_all(code + "next") == [code, "next"]


def test_inline_backticks_are_not_a_fence() -> None:
    text = "```inline``` code\n\nNext paragraph"
    assert split_all(text) == ["```inline``` code\n\n", "Next paragraph"]


def test_display_math_holds_blank_lines() -> None:
    dollars = "$$\na = b\n\nc = d\n$$\n\n"
    brackets = "\\[\nx\n\ny\n\\]\n\n"
    assert split_all(dollars + brackets + "end") == [dollars, brackets, "end"]


def test_dollars_inside_inline_code_do_not_open_math() -> None:
    text = "Use `$$` for display math.\n\nNext."
    assert split_all(text) == ["Use `$$` for display math.\n\n", "Next."]


def test_one_line_display_math_is_closed_on_its_line() -> None:
    assert split_all("$$x^2$$\n\nAfter") == ["$$x^2$$\n\n", "After"]


def test_a_loose_list_stays_one_block() -> None:
    # Cutting between items would restart the numbering of an ordered list.
    text = (
        "1. first\n\n2. second\n   more of second\n\n   its second paragraph\n\n3. third\n\nAfter."
    )
    blocks = split_all(text)
    assert blocks == [text.removesuffix("After."), "After."]


def test_a_different_list_starts_a_new_block() -> None:
    assert split_all("- a\n\n- b\n\n1. c") == ["- a\n\n- b\n\n", "1. c"]


def test_an_indented_fence_in_a_list_keeps_its_blank_lines() -> None:
    text = "1. Step:\n\n   ```python\n   x = 1\n\n   y = 2\n   ```\n\n2. Next\n\nDone"
    assert split_all(text) == [text.removesuffix("Done"), "Done"]


def test_finish_flushes_an_unclosed_fence() -> None:
    s = BlockSplitter()
    assert s.feed("Intro\n\n```\ncode\n\nmore") == ["Intro\n\n"]
    assert s.finish() == ["```\ncode\n\nmore"]
    assert s.tail == ""


def test_crlf_line_ends() -> None:
    assert split_all("a\r\n\r\nb\r\n") == ["a\r\n\r\n", "b\r\n"]


LINES = st.sampled_from(
    [
        "",
        "  ",
        "text",
        "# head",
        "- item",
        "* item",
        "1. item",
        "2) item",
        "-",
        "-x",
        "12.",
        "1234567890. ten digits",
        "   indented",
        "    code",
        "```",
        "```python",
        "````",
        "~~~",
        "$$",
        "$$x$$",
        "\\[",
        "\\]",
        "a `$$` b",
        "| a | b |",
        "|---|---|",
        "é 🤔",
    ]
)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines = draw(st.lists(LINES, max_size=30))
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=400)
@given(chunked())
def test_blocks_and_tail_spell_out_the_text_however_it_is_chunked(
    case: tuple[str, list[str]],
) -> None:
    text, chunks = case
    s = BlockSplitter()
    done: list[str] = []
    for chunk in chunks:
        done += s.feed(chunk)
    assert "".join(done) + s.tail == text
    final = done + s.finish()
    assert "".join(final) == text
    assert final == split_all(text)  # cut in the same places whatever the chunking
    assert all(block for block in final)


@given(chunked())
def test_everything_fed_is_in_the_blocks_or_the_tail_after_every_feed(
    case: tuple[str, list[str]],
) -> None:
    _, chunks = case
    s = BlockSplitter()
    done: list[str] = []
    fed = ""
    for chunk in chunks:
        fed += chunk
        done += s.feed(chunk)
        assert "".join(done) + s.tail == fed
