"""A rendered Markdown answer: static, or streaming in as the model writes it.

Streaming never re-renders what is already on screen. ``BlockSplitter`` hands out completed
top-level blocks; each is rendered to HTML once and appended, and everything after the last
rendered block (the block still being written, plus completed blocks whose formulas are
still being drawn on the math thread) is shown as plain text at the end of the document.
A flush therefore costs time for the new text only, however long the answer gets. Two Qt
details matter for that: every layout of a changed document walks all of its frames, so a
flush makes its changes in one edit block (one layout), and formulas go in as image
characters, not as HTML ``<img>``, which Qt would make frames of their own.

The document is built by appending one block's HTML at a time, for a stored message too, so
a streamed answer ends up exactly like the same answer shown at once.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import ceil

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFontDatabase,
    QFontInfo,
    QGuiApplication,
    QMouseEvent,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextImageFormat,
    QTextOption,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget

from app.core.mdblocks import BlockSplitter
from app.gui.render.markdown import MathSpan, ParsedBlock, Theme, shared_renderer, stylesheet
from app.gui.render.math import MathKey, MathRenderer, default_renderer, middle_axis

log = logging.getLogger(__name__)

INLINE_MATH_SCALE = 1.15  # STIX glyphs look small next to UI sans fonts at the same size
DISPLAY_MATH_SCALE = 1.25
_MARK = "\u2063"  # invisible separator: a throwaway first paragraph, see _append_html
_FRAME_START = "\ufdd0"  # QTextBeginningOfFrame
_FRAME_END = "\ufdd1"  # QTextEndOfFrame
_PARAGRAPH_END = "\u2029"  # QChar::ParagraphSeparator, between blocks
_OBJECT = "\ufffc"  # what an image is in a document's plain text
_COPY_SCHEME = "copy-code"


@dataclass(slots=True)
class _Block:
    parsed: ParsedBlock
    keys: tuple[MathKey, ...]


@dataclass(frozen=True, slots=True)
class _Image:
    """A formula image waiting for its placeholder in the block just inserted."""

    name: str
    width: float
    height: float


class MarkdownView(QTextBrowser):
    """Read-only rendered Markdown that sizes its height to its content.

    It has no scroll bars of its own: it lives in a scrolling chat list, which scrolls.

    Signals:
        copy_requested(str): a code block's Copy link put this text on the clipboard.
    """

    copy_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, math: MathRenderer | None = None) -> None:
        super().__init__(parent)
        self._theme = self._make_theme()
        self._dpr = self.devicePixelRatioF()
        self._math = math if math is not None else default_renderer()
        self._renderer = shared_renderer()
        self._splitter = BlockSplitter()
        self._source: list[str] = []
        self._pending: list[str] = []  # appended but not flushed yet
        self._waiting: deque[_Block] = deque()  # complete, formulas still being drawn
        self._streaming = False
        self._restyle_at_finish = False
        self._rendered = False  # any block rendered into the document yet
        self._plain_start: int | None = None  # where the plain-text end part begins
        self._plain_own_block = False  # the plain part started a block of its own
        self._codes: list[str] = []  # code of each Copy link, by number
        self._math_sources: dict[str, str] = {}  # image resource name -> TeX as written
        self._images: list[_Image] | None = None  # formulas of the block being rendered
        self._height = 0

        self.setAccessibleName("Answer")
        self.setReadOnly(True)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)  # the message's background shows through
        doc = self.document()
        doc.setUndoRedoEnabled(False)  # nobody edits; an undo stack would only grow
        doc.setDefaultStyleSheet(stylesheet(self._theme))
        doc.documentLayout().documentSizeChanged.connect(self._update_height)
        self.anchorClicked.connect(self._on_anchor)
        self._math.ready.connect(self._on_math_ready)
        self._update_height()

    # -- public API ---------------------------------------------------------------------

    def set_markdown(self, text: str) -> None:
        """Show a whole message at once.

        Blocks whose formulas are cached render at once; the others show as plain text until
        the worker has drawn their formulas (opening a long chat never waits for ziamath).
        """
        self._reset()
        self._source = [text]
        sources = self._splitter.feed(text) + self._splitter.finish()
        self._waiting.extend(self._prepare(source, fetch=True) for source in sources)
        with self._edit():
            self._show_waiting()

    def append(self, text: str) -> None:
        """Streaming: buffer ``text``; nothing is laid out until ``flush``."""
        if text:
            self._source.append(text)
            self._pending.append(text)
            self._streaming = True

    def flush(self) -> None:
        """Render newly completed blocks; show the incomplete rest as plain text."""
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        for source in self._splitter.feed(text):
            self._waiting.append(self._prepare(source, fetch=True))
        with self._edit():
            if not self._render_ready():
                self._extend_plain(text)

    def finish(self) -> None:
        """End of the stream: render every block (those waiting for formulas when drawn)."""
        text = "".join(self._pending)
        self._pending.clear()
        sources = self._splitter.feed(text) + self._splitter.finish()
        self._waiting.extend(self._prepare(source, fetch=True) for source in sources)
        with self._edit():
            self._show_waiting()
        self._streaming = False
        if self._restyle_at_finish:
            self._restyle_at_finish = False
            self.set_markdown(self.markdown())

    def math_pending(self) -> bool:
        """Blocks still wait for formula images (shown as plain text meanwhile)."""
        return bool(self._waiting)

    def markdown(self) -> str:
        """The source text so far (flushed or not)."""
        if len(self._source) > 1:
            self._source = ["".join(self._source)]
        return self._source[0] if self._source else ""

    # -- Qt overrides -------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(super().sizeHint().width(), self._height)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        super().mouseReleaseEvent(e)
        e.accept()  # a click in the text ends here, link or not; the message has no use for it

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        # The chat list scrolls, not this view; Ctrl+wheel must not zoom one message.
        bar = self.horizontalScrollBar()
        sideways = abs(e.angleDelta().x()) > abs(e.angleDelta().y())
        if sideways and bar.isVisible() and not e.modifiers():
            super().wheelEvent(e)
        else:
            e.ignore()

    def changeEvent(self, e: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(e)
        if e.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._restyle()

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.DevicePixelRatioChange:
            self._restyle()
        return super().event(e)

    def loadResource(self, type: int, name: QUrl | str) -> object:  # noqa: N802 (Qt API)
        # Every image this view shows was added to the document; fetch nothing else.
        return None

    def createMimeDataFromSelection(self) -> QMimeData:  # noqa: N802 (Qt API)
        # Qt's own data computes its text lazily from the selection, formulas as U+FFFC, and
        # ignores setText; so the copy is a plain QMimeData carrying the TeX instead.
        data = QMimeData()
        cursor = self.textCursor()
        if cursor.hasSelection():
            data.setHtml(cursor.selection().toHtml())
            data.setText(self._selected_text(cursor))
        return data

    # -- blocks -------------------------------------------------------------------------

    def _prepare(self, source: str, *, fetch: bool) -> _Block:
        parsed = self._renderer.parse(source)
        keys = tuple(self._math_key(span) for span in parsed.math)
        if fetch:
            for key in keys:
                if self._math.lookup(key) is None:
                    self._math.request(key)
        return _Block(parsed, keys)

    def _render_ready(self) -> bool:
        """Append the waiting blocks whose formulas are all drawn (in order); any?"""
        ready: list[_Block] = []
        while self._waiting and all(
            self._math.lookup(k) is not None for k in self._waiting[0].keys
        ):
            ready.append(self._waiting.popleft())
        if not ready:
            return False
        self._remove_plain()
        for block in ready:
            self._append_block(block)
        rest = "".join(b.parsed.source for b in self._waiting) + self._splitter.tail
        self._extend_plain(rest)
        return True

    def _show_waiting(self) -> None:
        """Render the waiting blocks that are ready; the rest shows as plain text."""
        self._remove_plain()
        while self._waiting and all(
            self._math.lookup(k) is not None for k in self._waiting[0].keys
        ):
            self._append_block(self._waiting.popleft())
        rest = "".join(b.parsed.source for b in self._waiting) + self._splitter.tail
        self._extend_plain(rest)

    @contextmanager
    def _edit(self) -> Iterator[None]:
        """One edit block: the document is laid out once, when it ends, not per change."""
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        try:
            yield
        finally:
            cursor.endEditBlock()

    def _append_block(self, block: _Block) -> None:
        images: list[_Image] = []
        self._images = images
        try:
            body = self._to_html(block)
        finally:
            self._images = None
        if body.count(_OBJECT) != len(images):
            # The text itself holds U+FFFC, so placeholders would be ambiguous: use <img>.
            images = []
            body = self._to_html(block)
        if body.strip():
            start = self._append_html(body)
            if images:
                self._place_images(start, images)

    def _to_html(self, block: _Block) -> str:
        return self._renderer.to_html(
            block.parsed, math=self._math_html, code_link=self._code_link, theme=self._theme
        )

    def _place_images(self, start: int, images: list[_Image]) -> None:
        """Turn the placeholders after ``start`` into the formula images, in order.

        Qt's HTML importer makes every ``<img>`` a frame of its own, and each layout walks
        all frames: with a few formulas per paragraph, each flush would cost more than the
        last. An image format on a U+FFFC character draws the same and adds no frame.
        """
        doc = self.document()
        cursor = QTextCursor(doc)
        pending = iter(images)
        block = doc.findBlock(start)
        while block.isValid():
            text, base = block.text(), block.position()
            at = text.find(_OBJECT, max(0, start - base))
            while at >= 0:
                cursor.setPosition(base + at)
                cursor.setPosition(base + at + 1, QTextCursor.MoveMode.KeepAnchor)
                placeholder = cursor.charFormat()
                if not placeholder.isImageFormat():
                    image = next(pending, None)
                    if image is None:
                        return
                    fmt = QTextImageFormat()
                    fmt.merge(placeholder)  # the text's format there: size, weight, link
                    fmt.setName(image.name)
                    fmt.setWidth(image.width)
                    fmt.setHeight(image.height)
                    fmt.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
                    cursor.setCharFormat(fmt)
                at = text.find(_OBJECT, at + 1)
            block = block.next()

    def _append_html(self, body: str) -> int:
        """Insert ``body`` at the end; returns where it starts."""
        # QTextCursor.insertHtml merges the first inserted paragraph into the block at the
        # cursor, which keeps its own format (a heading would lose its size). So a marker
        # paragraph goes first and takes that place; then the marker is removed, and when the
        # block it landed in was a placeholder (see _vacant), that block goes too, unless a
        # table follows, which needs a block before it.
        doc = self.document()
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        vacant = _vacant(cursor, fresh=not self._rendered)
        if not vacant and cursor.block().length() == 1:
            # An empty block that means something (a rule) would take the HTML's formats.
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            vacant = True
        start = cursor.position()
        # Whitespace after the last tag would become a trailing space of the last paragraph.
        cursor.insertHtml(f"<p>{_MARK}</p>{body.strip()}")
        cursor.setPosition(start)
        separate = doc.characterAt(start + 1) == _PARAGRAPH_END
        whole = vacant and separate and doc.characterAt(start + 2) != _FRAME_START
        end = start + 2 if whole else start + 1
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._rendered = True
        return start

    def _extend_plain(self, text: str) -> None:
        if not text:
            return
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if self._plain_start is None:
            self._plain_own_block = not _vacant(cursor, fresh=not self._rendered)
            if self._plain_own_block:
                cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            self._plain_start = cursor.position()
        cursor.insertText(text, QTextCharFormat())

    def _remove_plain(self) -> None:
        if self._plain_start is None:
            return
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._plain_start - (1 if self._plain_own_block else 0))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._plain_start = None

    def _reset(self) -> None:
        doc = self.document()
        doc.clear()  # also drops the formula images it held
        doc.setDefaultStyleSheet(stylesheet(self._theme))
        self._splitter = BlockSplitter()
        self._source.clear()
        self._pending.clear()
        self._waiting.clear()
        self._streaming = False
        self._rendered = False
        self._plain_start = None
        self._codes.clear()
        self._math_sources.clear()

    # -- math and code ------------------------------------------------------------------

    def _math_key(self, span: MathSpan) -> MathKey:
        scale = DISPLAY_MATH_SCALE if span.display else INLINE_MATH_SCALE
        return MathKey(
            tex=span.tex,
            display=span.display,
            color=self._theme.text,
            size=round(self._theme.font_px * scale, 2),
            dpr=self._dpr,
            axis=middle_axis(self.document().defaultFont()),
        )

    def _math_html(self, span: MathSpan) -> str:
        key = self._math_key(span)
        drawn = self._math.lookup(key) or self._math.render(key)
        if not drawn.ok:
            return f"<code>{html.escape(span.source)}</code>"
        name = "math:" + hashlib.blake2s(repr(key).encode(), digest_size=12).hexdigest()
        if name not in self._math_sources:
            self.document().addResource(
                QTextDocument.ResourceType.ImageResource.value, QUrl(name), drawn.image
            )
            self._math_sources[name] = span.source
        if self._images is not None:  # a placeholder; see _place_images
            self._images.append(_Image(name, drawn.width, drawn.height))
            return _OBJECT
        return (
            f'<img src="{name}" width="{drawn.width}" height="{drawn.height}"'
            ' style="vertical-align: middle" />'
        )

    def _code_link(self, code: str) -> str:
        self._codes.append(code)
        return f"{_COPY_SCHEME}:{len(self._codes) - 1}"

    @Slot(object)
    def _on_math_ready(self, key: MathKey) -> None:
        if self._waiting and any(key in block.keys for block in self._waiting):
            with self._edit():
                if self._streaming:
                    self._render_ready()
                else:
                    self._show_waiting()

    @Slot(QUrl)
    def _on_anchor(self, url: QUrl) -> None:
        scheme = url.scheme()
        if scheme == _COPY_SCHEME:
            index = int(url.path()) if url.path().isdigit() else -1
            if 0 <= index < len(self._codes):
                code = self._codes[index]
                clipboard = QGuiApplication.clipboard()
                clipboard.setText(code)
                self.copy_requested.emit(code)
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
        else:
            log.debug("ignored a link with scheme %r", scheme)

    def _selected_text(self, cursor: QTextCursor) -> str:
        """The selection as plain text, with each formula as the TeX it was written as."""
        text = cursor.selection().toPlainText()
        if _OBJECT not in text:
            return text
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        sources: list[str] = []
        block = self.document().findBlock(start)
        while block.isValid() and block.position() < end:
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt = fragment.charFormat()
                if fmt.isImageFormat():
                    lo = max(start, fragment.position())
                    hi = min(end, fragment.position() + fragment.length())
                    tex = self._math_sources.get(fmt.toImageFormat().name(), _OBJECT)
                    sources.extend([tex] * max(0, hi - lo))
                it += 1
            block = block.next()
        parts = text.split(_OBJECT)
        out = [parts[0]]
        for i, part in enumerate(parts[1:]):
            out.append(sources[i] if i < len(sources) else _OBJECT)
            out.append(part)
        return "".join(out)

    # -- looks and size -----------------------------------------------------------------

    def _make_theme(self) -> Theme:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        return Theme(
            text=text.name(),
            muted=_mix(text, base, 0.4),
            link=palette.color(QPalette.ColorRole.Link).name(),
            border=_mix(text, base, 0.72),
            subtle_bg=_mix(text, base, 0.9),
            font_px=float(QFontInfo(self.font()).pixelSize()),
            mono_family=QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(),
            dark=base.lightnessF() < 0.5,
        )

    def _restyle(self) -> None:
        theme = self._make_theme()
        dpr = self.devicePixelRatioF()
        if theme == self._theme and dpr == self._dpr:
            return
        self._theme = theme
        self._dpr = dpr
        self.document().setDefaultStyleSheet(stylesheet(theme))
        if self._streaming:
            self._restyle_at_finish = True  # what is on screen stays; redone once at the end
        elif self._source:
            self.set_markdown(self.markdown())

    @Slot()
    def _update_height(self) -> None:
        margins = self.contentsMargins()
        height = ceil(self.document().size().height())
        height += margins.top() + margins.bottom()
        bar = self.horizontalScrollBar()
        if bar.isVisible():
            height += bar.sizeHint().height()
        if height != self._height:
            self._height = height
            self.setFixedHeight(height)


def _vacant(end: QTextCursor, fresh: bool) -> bool:
    """Is the block at ``end`` a placeholder: an empty document's block, or the one Qt keeps
    after a table? Other empty blocks mean something (a horizontal rule is one) and stay.
    """
    if end.block().length() != 1:
        return False
    at = end.position()
    return (fresh and at == 0) or end.document().characterAt(at - 1) == _FRAME_END


def _mix(a: QColor, b: QColor, t: float) -> str:
    """``a`` moved ``t`` of the way towards ``b``, as ``#rrggbb``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    ).name()
