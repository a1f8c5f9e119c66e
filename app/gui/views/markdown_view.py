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
a streamed answer ends up exactly like the same answer shown at once. How the document is
edited at its end (HTML, plain text, formula images, copying) is ``app.gui.render.document``;
this module decides what goes in and when.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections import deque
from dataclasses import dataclass
from functools import lru_cache, partial
from math import ceil

from PySide6.QtCore import (
    QEvent,
    QMimeData,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QDesktopServices, QGuiApplication, QMouseEvent, QTextOption, QWheelEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QTextBrowser, QWidget

from app.core.mdblocks import BlockSplitter
from app.gui.render.document import DocumentWriter, FormulaImage, edit_block, palette_theme
from app.gui.render.markdown import MathSpan, ParsedBlock, Theme, shared_renderer, stylesheet
from app.gui.render.math import MathKey, MathRenderer, default_renderer, middle_axis
from app.gui.views.message_parts import COPIED_MS
from app.gui.views.pacing import MathQueue, TurnWork

log = logging.getLogger(__name__)

INLINE_MATH_SCALE = 1.15  # STIX glyphs look small next to UI sans fonts at the same size
DISPLAY_MATH_SCALE = 1.25
_COPY_SCHEME = "copy-code"


@lru_cache(maxsize=8)
def _sheet(theme: Theme) -> str:
    """The document style sheet of a theme (the same text for every view of a chat)."""
    return stylesheet(theme)


@dataclass(slots=True)
class _Block:
    parsed: ParsedBlock
    keys: tuple[MathKey, ...]


class MarkdownView(QTextBrowser):
    """Read-only rendered Markdown that sizes its height to its content.

    It has no scroll bars of its own: it lives in a scrolling chat list, which scrolls.

    Signals:
        copy_requested(str): a code block's Copy link put this text on the clipboard.
    """

    copy_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, math: MathRenderer | None = None) -> None:
        super().__init__(parent)
        self._theme = palette_theme(self.palette(), self.font())
        self._dpr = self.devicePixelRatioF()
        self._math = math if math is not None else default_renderer()
        self._renderer = shared_renderer()
        self._splitter = BlockSplitter()
        self._source: list[str] = []
        self._pending: list[str] = []  # appended but not flushed yet
        self._waiting: deque[_Block] = deque()  # complete, formulas still being drawn
        self._streaming = False
        self._restyle_at_finish = False
        self._writer = DocumentWriter(self.document())
        self._codes: list[str] = []  # code of each Copy link, by number
        self._images: list[FormulaImage] | None = None  # formulas of the block being rendered
        self._height = 0
        self._clicked_at: QPoint | None = None
        self._copied: QLabel | None = None

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
        self._sheet = _sheet(self._theme)
        doc.setDefaultStyleSheet(self._sheet)
        doc.documentLayout().documentSizeChanged.connect(self._update_height)
        self.anchorClicked.connect(self._on_anchor)
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
        with edit_block(self.document()):
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
        with edit_block(self.document()):
            if not self._render_ready():
                self._writer.extend_plain(text)

    def finish(self) -> None:
        """End of the stream: render every block (those waiting for formulas when drawn)."""
        text = "".join(self._pending)
        self._pending.clear()
        sources = self._splitter.feed(text) + self._splitter.finish()
        self._waiting.extend(self._prepare(source, fetch=True) for source in sources)
        with edit_block(self.document()):
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
        self._clicked_at = e.position().toPoint()  # where a Copy link says "Copied"
        super().mouseReleaseEvent(e)
        self._clicked_at = None
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
        # The copy carries each formula's TeX, not U+FFFC.
        return self._writer.selection_mime(self.textCursor())

    # -- blocks -------------------------------------------------------------------------

    def _prepare(self, source: str, *, fetch: bool) -> _Block:
        parsed = self._renderer.parse(source)
        keys = tuple(self._math_key(span) for span in parsed.math)
        if fetch:
            missing = [key for key in keys if self._math.lookup(key) is None]
            if missing:
                MathQueue.of(self._math).ask(self, missing)
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
        self._writer.remove_plain()
        for block in ready:
            self._append_block(block)
        self._extend_plain_rest()
        return True

    def _show_waiting(self) -> None:
        """Render the waiting blocks that are ready; the rest shows as plain text."""
        self._writer.remove_plain()
        while self._waiting and all(
            self._math.lookup(k) is not None for k in self._waiting[0].keys
        ):
            self._append_block(self._waiting.popleft())
        self._extend_plain_rest()

    def _extend_plain_rest(self) -> None:
        """Show what is not rendered (waiting blocks, the incomplete tail) as plain text."""
        rest = "".join(b.parsed.source for b in self._waiting) + self._splitter.tail
        self._writer.extend_plain(rest)

    def _append_block(self, block: _Block) -> None:
        self._writer.append_block(partial(self._to_html, block))

    def _to_html(self, block: _Block, images: list[FormulaImage] | None) -> str:
        self._images = images  # _math_html collects the block's formula images here
        try:
            return self._renderer.to_html(
                block.parsed, math=self._math_html, code_link=self._code_link, theme=self._theme
            )
        finally:
            self._images = None

    def _reset(self) -> None:
        self._writer.clear()  # also drops the formula images the document held
        sheet = _sheet(self._theme)
        if sheet != self._sheet:  # Qt parses it again each time it is set
            self._sheet = sheet
            self.document().setDefaultStyleSheet(sheet)
        self._splitter = BlockSplitter()
        self._source.clear()
        self._pending.clear()
        self._waiting.clear()
        self._streaming = False
        self._codes.clear()

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
        return self._writer.formula_html(name, drawn, span.source, self._images)

    def _code_link(self, code: str) -> str:
        self._codes.append(code)
        return f"{_COPY_SCHEME}:{len(self._codes) - 1}"

    def math_drawn(self, key: MathKey) -> None:
        """A formula this view asked ``MathQueue`` for is drawn."""
        if not self._waiting:
            return
        # Blocks render in order: only a formula of the first waiting block can let any
        # render, and only once all of that block's formulas are drawn. A whole message
        # (not streaming) renders once, when all its formulas are: one layout, not one
        # per block.
        first = self._waiting[0]
        wanted = first.keys if self._streaming else [k for b in self._waiting for k in b.keys]
        if key not in wanted or any(self._math.lookup(k) is None for k in wanted):
            return
        TurnWork.of().add(self, self._render_drawn)

    def _render_drawn(self) -> None:
        """Render the blocks whose formulas have been drawn (a ``TurnWork`` job)."""
        with edit_block(self.document()):
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
                self._confirm_copied()
                self.copy_requested.emit(code)
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
        else:
            log.debug("ignored a link with scheme %r", scheme)

    def _confirm_copied(self) -> None:
        """Show "Copied" beside the Copy link that was used, for a moment."""
        if self._copied is None:
            self._copied = QLabel("Copied ✓", self.viewport())
            self._copied.setObjectName("copiedNote")
            self._copied.setAccessibleName("Copied")
            self._copied.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self._copied_timer = QTimer(self, singleShot=True, interval=COPIED_MS)
            self._copied_timer.timeout.connect(self._copied.hide)
        note = self._copied
        at = self._clicked_at
        if at is None:  # from the keyboard: where the link's cursor is
            at = self.cursorRect().center()
        note.adjustSize()
        x = at.x() + 12  # right of the link, or left of it at the right edge
        if x + note.width() > self.viewport().width():
            x = at.x() - 12 - note.width() - self.fontMetrics().horizontalAdvance("Copy")
        note.move(max(0, x), max(0, at.y() - note.height() // 2))
        note.show()
        note.raise_()
        self._copied_timer.start()

    # -- looks and size -----------------------------------------------------------------

    def _restyle(self) -> None:
        theme = palette_theme(self.palette(), self.font())
        dpr = self.devicePixelRatioF()
        if theme == self._theme and dpr == self._dpr:
            return
        self._theme = theme
        self._dpr = dpr
        self._sheet = _sheet(theme)
        self.document().setDefaultStyleSheet(self._sheet)
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
