"""Markdown -> the HTML subset QTextDocument understands.

markdown-it-py parses (CommonMark + tables + strikethrough, raw HTML off because model output
is untrusted, so ``<script>`` stays text). Math is recognised in every form reasoning models
write it: ``$..$`` and ``$$..$$`` (dollarmath), ``\\(..\\)`` and ``\\[..\\]``, and a bare
``\\boxed{..}`` outside any delimiters (R1 writes its final answer that way). This module does
not draw math: parsing lists the formulas of a block first (``ParsedBlock.math``) so the
caller can have their images ready, then ``to_html`` asks the caller for each formula's HTML.

Qt's HTML importer knows no CSS classes on most elements, no borders on paragraphs and no
``<div>`` backgrounds, so code blocks are one-cell tables (a real panel with padding) and
colours come from a ``Theme`` built from the widget's palette.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight  # type: ignore[import-untyped,unused-ignore]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped,unused-ignore]
from pygments.lexer import Lexer  # type: ignore[import-untyped,unused-ignore]
from pygments.lexers import TextLexer, get_lexer_by_name  # type: ignore[import-untyped,unused-ignore]
from pygments.styles import get_style_by_name  # type: ignore[import-untyped,unused-ignore]
from pygments.token import Token as PygmentsToken  # type: ignore[import-untyped,unused-ignore]
from pygments.util import ClassNotFound  # type: ignore[import-untyped,unused-ignore]

log = logging.getLogger(__name__)

LIGHT_CODE_STYLE = "default"
DARK_CODE_STYLE = "one-dark"
_MATH_TYPES = frozenset({"math_inline", "math_inline_double", "math_block"})
_WEB_SCHEMES = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class Theme:
    """Colours (``#rrggbb``) and sizes the HTML and its stylesheet are made with."""

    text: str = "#1d1d1f"
    muted: str = "#6e6e73"
    link: str = "#1a5fc8"
    border: str = "#c8c8cc"
    subtle_bg: str = "#ededf0"  # inline code, table header
    font_px: float = 14.0
    mono_family: str = "monospace"
    dark: bool = False

    @property
    def code_style(self) -> str:
        return DARK_CODE_STYLE if self.dark else LIGHT_CODE_STYLE


@dataclass(frozen=True, slots=True)
class MathSpan:
    """One formula: its TeX, how it is set, and the source text to show if it cannot be."""

    tex: str
    display: bool
    source: str


@dataclass(frozen=True, slots=True)
class ParsedBlock:
    """A parsed Markdown block and the formulas it holds, in order."""

    source: str
    tokens: Sequence[Token]
    math: tuple[MathSpan, ...]


MathHtml = Callable[[MathSpan], str]
CodeLink = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class _Context:
    math: MathHtml  # formula -> <img> (or its source, when it could not be drawn)
    code_link: CodeLink  # code text -> href of its "Copy" link
    theme: Theme


class MarkdownRenderer:
    """Parses Markdown blocks and renders them as Qt-friendly HTML. Not thread-safe."""

    def __init__(self) -> None:
        md = MarkdownIt(
            "commonmark",
            {"html": False, "linkify": False, "typographer": False},
            renderer_cls=_QtHtmlRenderer,
        )
        md.enable(["table", "strikethrough"])
        # No labels, no "$ x $" and no "$5 and $10": prose about money must stay prose.
        md.use(
            dollarmath_plugin,
            allow_labels=False,
            allow_space=False,
            allow_digits=False,
            double_inline=True,
        )
        md.inline.ruler.before("escape", "tex_brackets", _tex_brackets_inline)
        md.block.ruler.before(
            "fence",
            "tex_brackets_block",
            _tex_brackets_block,
            {"alt": ["paragraph", "reference", "blockquote", "list"]},
        )
        # dollarmath installs its own renderers for the math tokens; ours draw images.
        for name in _MATH_TYPES:
            md.add_render_rule(name, getattr(_QtHtmlRenderer, name))
        self._md = md

    def parse(self, source: str) -> ParsedBlock:
        tokens = self._md.parse(source)
        spans: list[MathSpan] = []
        for token in tokens:
            for t in token.children or (token,):
                if t.type in _MATH_TYPES:
                    spans.append(_math_span(t))
        return ParsedBlock(source, tokens, tuple(spans))

    def to_html(
        self, block: ParsedBlock, *, math: MathHtml, code_link: CodeLink, theme: Theme
    ) -> str:
        env: EnvType = {"ctx": _Context(math, code_link, theme)}
        out: str = self._md.renderer.render(block.tokens, self._md.options, env)
        return out


def _math_span(token: Token) -> MathSpan:
    tex = token.content.strip()
    display = token.type != "math_inline"
    if token.markup.startswith("\\"):
        closing = "\\)" if token.markup == "\\(" else "\\]"
        source = token.markup + token.content + closing
    else:
        source = token.markup + token.content + token.markup
    return MathSpan(tex, display, source)


def _ctx(env: EnvType) -> _Context:
    ctx = env["ctx"]
    assert isinstance(ctx, _Context)
    return ctx


class _QtHtmlRenderer(RendererHTML):
    """markdown-it's HTML renderer with code, math, images and tables made for Qt."""

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        lang = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        return code_panel(token.content, lang, _ctx(env))

    def code_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return code_panel(tokens[idx].content, "", _ctx(env))

    def math_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return _ctx(env).math(_math_span(tokens[idx]))

    def math_inline_double(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return _ctx(env).math(_math_span(tokens[idx]))

    def math_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return f'<p class="math" align="center">{_ctx(env).math(_math_span(tokens[idx]))}</p>\n'

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # Never fetch: a remote image is a tracking pixel, a local one a file probe.
        token = tokens[idx]
        src = str(token.attrs.get("src", ""))
        alt = html.escape(self.renderInlineAsText(token.children or [], options, env) or src)
        if src.startswith(_WEB_SCHEMES):
            return f'<a href="{html.escape(src)}">{alt}</a>'
        return alt

    def table_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return '<table class="md" cellspacing="0" cellpadding="4">\n'

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _cell_open("th", tokens[idx])

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _cell_open("td", tokens[idx])


def _cell_open(tag: str, token: Token) -> str:
    # A cell with a style attribute loses the stylesheet's borders in Qt; use align instead.
    style = str(token.attrs.get("style", ""))
    align = style.removeprefix("text-align:").strip() if style.startswith("text-align:") else ""
    return f'<{tag} align="{align}">' if align in ("left", "center", "right") else f"<{tag}>"


def code_panel(code: str, lang: str, ctx: _Context) -> str:
    """A fenced code block: a panel with the language and a Copy link above the code."""
    style = get_style_by_name(ctx.theme.code_style)
    fg = style.style_for_token(PygmentsToken.Text).get("color")
    fg = f"#{fg}" if fg else ctx.theme.text
    bg = style.background_color
    href = ctx.code_link(code.removesuffix("\n"))  # the lines shown, as shown
    body = highlight_code(code, lang, ctx.theme.code_style)
    label = html.escape(lang)
    return (
        f'<table class="code" width="100%" cellspacing="0" cellpadding="0"'
        f' bgcolor="{bg}" style="background-color: {bg};">'
        f'<tr><td class="codehead" style="color: {ctx.theme.muted};">{label}</td>'
        f'<td class="codehead" align="right"><a href="{href}">Copy</a></td></tr>'
        f'<tr><td class="codebody" colspan="2"><pre style="color: {fg};">{body}</pre>'
        "</td></tr></table>\n"
    )


def highlight_code(code: str, lang: str, style: str) -> str:
    """``code`` as HTML spans with inline colours; plain (escaped) text for unknown ``lang``."""
    text = code.removesuffix("\n")
    if not text:
        return ""
    try:
        out: str = highlight(text, _lexer(lang.lower()), _formatter(style))
    except Exception:  # a lexer choking on odd input must not cost the user the code
        log.debug("highlighting as %r failed", lang, exc_info=True)
        return html.escape(text)
    return out.removesuffix("\n")


def warm_up() -> None:
    """Load Pygments' lexer table, Python lexer and formatter now (about 60 ms of imports)
    rather than in the middle of the first answer with a code block. Safe on any thread."""
    for style in (LIGHT_CODE_STYLE, DARK_CODE_STYLE):
        highlight_code("x = 1\n", "python", style)


@lru_cache(maxsize=1)
def shared_renderer() -> MarkdownRenderer:
    """One parser for every view (GUI thread): building one compiles dozens of regexes."""
    return MarkdownRenderer()


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer:
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False) if lang else _plain()
    except ClassNotFound:
        return _plain()


def _plain() -> Lexer:
    return TextLexer(stripnl=False, ensurenl=False)


@lru_cache(maxsize=4)
def _formatter(style: str) -> HtmlFormatter[str]:
    return HtmlFormatter(noclasses=True, nowrap=True, style=style)


def stylesheet(theme: Theme) -> str:
    """The document's default stylesheet: sizes relative to the body font, palette colours."""
    px = theme.font_px
    heading = {1: 1.4, 2: 1.25, 3: 1.1, 4: 1.0, 5: 1.0, 6: 0.9}
    headings = "\n".join(
        f"h{n} {{ font-size: {round(px * f)}px; margin-top: {round(px * 0.9)}px;"
        f" margin-bottom: {round(px * 0.4)}px; }}"
        for n, f in heading.items()
    )
    gap = round(px * 0.45)
    mono = theme.mono_family
    return f"""
body {{ color: {theme.text}; }}
p {{ margin-top: {gap}px; margin-bottom: {gap}px; }}
{headings}
a {{ color: {theme.link}; }}
ul, ol {{ margin-top: {gap}px; margin-bottom: {gap}px; }}
blockquote {{ color: {theme.muted}; margin-left: {round(px)}px; margin-right: 0px;
  margin-top: {gap}px; margin-bottom: {gap}px; }}
code {{ font-family: '{mono}'; background-color: {theme.subtle_bg}; }}
pre {{ font-family: '{mono}'; margin: 0px; white-space: pre-wrap; }}
table.md {{ border-collapse: collapse; margin-top: {gap}px; margin-bottom: {gap}px; }}
table.md td, table.md th {{ border: 1px solid {theme.border}; padding: 3px 8px; }}
table.md th {{ background-color: {theme.subtle_bg}; }}
table.code {{ margin-top: {gap}px; margin-bottom: {gap}px; }}
td.codehead {{ font-size: {round(px * 0.85)}px; padding: 4px 10px 0px 10px; }}
td.codebody {{ padding: 2px 10px 8px 10px; }}
hr {{ color: {theme.border}; }}
"""


# -- \( \) and \[ \] and a bare \boxed{} -------------------------------------------------


def _tex_brackets_inline(state: StateInline, silent: bool) -> bool:
    src, pos, end = state.src, state.pos, state.posMax
    if src[pos] != "\\" or pos + 1 >= end:
        return False
    opener = src[pos + 1]
    if opener in "([":
        closer = "\\)" if opener == "(" else "\\]"
        close = src.find(closer, pos + 2, end)
        if close < 0 or not src[pos + 2 : close].strip():
            return False
        if not silent:
            token = state.push("math_inline" if opener == "(" else "math_inline_double", "math", 0)
            token.content = src[pos + 2 : close]
            token.markup = "\\" + opener
        state.pos = close + 2
        return True
    if src.startswith("\\boxed{", pos):
        close = _closing_brace(src, pos + len("\\boxed"), end)
        if close < 0:
            return False
        if not silent:
            token = state.push("math_inline", "math", 0)
            token.content = src[pos : close + 1]
        state.pos = close + 1
        return True
    return False


def _closing_brace(src: str, open_at: int, end: int) -> int:
    """Index of the ``}`` matching the ``{`` at ``open_at``, or -1."""
    depth = 0
    i = open_at
    while i < end:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _tex_brackets_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    begin = state.bMarks[start] + state.tShift[start]
    src = state.src
    if not src.startswith("\\[", begin):
        return False
    first = src[begin + 2 : state.eMarks[start]].rstrip()
    if "\\]" in first:
        if not first.endswith("\\]"):
            return False  # "\[x\] and more" is inline math in a paragraph
        last, close = start, begin + 2 + len(first) - 2
    else:
        last, close = start + 1, -1
        while last < end:
            if state.sCount[last] < state.blkIndent and not state.isEmpty(last):
                return False  # left the list item / quote it started in
            line = src[state.bMarks[last] + state.tShift[last] : state.eMarks[last]].rstrip()
            if line.endswith("\\]"):
                close = state.bMarks[last] + state.tShift[last] + len(line) - 2
                break
            last += 1
        if close < 0:
            return False
    if silent:
        return True
    state.line = last + 1
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = src[begin + 2 : close]
    token.markup = "\\["
    token.map = [start, state.line]
    return True
