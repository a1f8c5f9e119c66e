"""Editing a QTextDocument at its end: what ``MarkdownView`` builds a rendered answer with.

A streamed answer grows by appending, never by re-rendering what is already there, and a few
Qt details decide whether that stays cheap and looks right:

- ``QTextCursor.insertHtml`` merges the first inserted paragraph into the block at the
  cursor, which keeps its own format; ``_append_html`` inserts a throwaway marker paragraph
  first so that every block keeps the formats its HTML asked for.
- Every layout of a changed document walks all of its frames, so changes go in inside one
  ``edit_block`` (one layout), and formulas go in as image characters (``_place_images``),
  not as HTML ``<img>``, which Qt would make frames of their own.
- The text after the last rendered block is plain text at the end (``DocumentWriter``'s
  plain part), cheap to extend per streamed token and cheap to remove once its blocks render.
- A formula is U+FFFC in the document's plain text, so copying a selection puts the TeX it
  was written as back in its place (``DocumentWriter.selection_mime``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontInfo,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextImageFormat,
)

from app.gui.render.markdown import Theme
from app.gui.render.math import MathImage

_OBJECT = "\ufffc"  # what an image is in a document's plain text
_MARK = "\u2063"  # invisible separator: a throwaway first paragraph, see _append_html
_FRAME_START = "\ufdd0"  # QTextBeginningOfFrame
_FRAME_END = "\ufdd1"  # QTextEndOfFrame
_PARAGRAPH_END = "\u2029"  # QChar::ParagraphSeparator, between blocks


@dataclass(frozen=True, slots=True)
class FormulaImage:
    """A formula image waiting for its placeholder in the block just inserted."""

    name: str
    width: float
    height: float


@contextmanager
def edit_block(doc: QTextDocument) -> Iterator[None]:
    """One edit block: the document is laid out once, when it ends, not per change."""
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    try:
        yield
    finally:
        cursor.endEditBlock()


class DocumentWriter:
    """Builds a rendered answer at the end of ``doc``: HTML blocks, then a plain-text part.

    It also adds the formula images to ``doc`` and remembers each one's TeX, for copying.

    The plain part is the text whose blocks are not rendered yet. It is extended per flush
    while a block is being written and removed whole once blocks before its end render; so
    the writer remembers where it starts, and whether it opened a block of its own (then
    that block goes with it, leaving the document as it was before).
    """

    def __init__(self, doc: QTextDocument) -> None:
        self._doc = doc
        self._rendered = False  # any block rendered into the document yet
        self._plain_start: int | None = None  # where the plain-text end part begins
        self._plain_own_block = False  # the plain part started a block of its own
        self._formulas: dict[str, str] = {}  # image resource name -> TeX as written

    def append_block(self, to_html: Callable[[list[FormulaImage] | None], str]) -> None:
        """Append one block's HTML, its formulas as image characters where possible.

        ``to_html(images)`` renders the block; given a list, it adds each formula's image to
        it and writes U+FFFC in its place, given None it writes ``<img>`` tags.
        """
        images: list[FormulaImage] = []
        body = to_html(images)
        if body.count(_OBJECT) != len(images):
            # The text itself holds U+FFFC, so placeholders would be ambiguous: use <img>.
            images = []
            body = to_html(None)
        if body.strip():
            start = _append_html(self._doc, body, fresh=not self._rendered)
            self._rendered = True
            if images:
                _place_images(self._doc, start, images)

    def formula_html(
        self, name: str, drawn: MathImage, tex: str, images: list[FormulaImage] | None
    ) -> str:
        """The HTML for a drawn formula, its image added to the document as ``name`` once.

        With ``images`` (see ``append_block``) it is a U+FFFC placeholder, the image going
        into ``images``; without, an ``<img>`` tag.
        """
        if name not in self._formulas:
            self._doc.addResource(
                QTextDocument.ResourceType.ImageResource.value, QUrl(name), drawn.image
            )
            self._formulas[name] = tex
        if images is not None:
            images.append(FormulaImage(name, drawn.width, drawn.height))
            return _OBJECT
        return (
            f'<img src="{name}" width="{drawn.width}" height="{drawn.height}"'
            ' style="vertical-align: middle" />'
        )

    def extend_plain(self, text: str) -> None:
        """Append ``text`` to the plain part at the end."""
        if not text:
            return
        cursor = QTextCursor(self._doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if self._plain_start is None:
            self._plain_own_block = not _vacant(cursor, fresh=not self._rendered)
            if self._plain_own_block:
                cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            self._plain_start = cursor.position()
        cursor.insertText(text, QTextCharFormat())

    def remove_plain(self) -> None:
        """Take the plain part out of the document, if there is one."""
        if self._plain_start is None:
            return
        cursor = QTextCursor(self._doc)
        cursor.setPosition(self._plain_start - (1 if self._plain_own_block else 0))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._plain_start = None

    def clear(self) -> None:
        """Empty the document (which also drops the formula images it held)."""
        self._doc.clear()
        self._rendered = False
        self._plain_start = None
        self._formulas.clear()

    def selection_mime(self, cursor: QTextCursor) -> QMimeData:
        """What copying the selection puts on the clipboard: its HTML, and its text with TeX.

        Qt's own data computes its text lazily from the selection, formulas as U+FFFC, and
        ignores setText; so the copy is a plain QMimeData carrying the TeX instead.
        """
        data = QMimeData()
        if cursor.hasSelection():
            data.setHtml(cursor.selection().toHtml())
            data.setText(selected_text(cursor, self._formulas))
        return data


def _append_html(doc: QTextDocument, body: str, *, fresh: bool) -> int:
    """Insert ``body`` at the end of ``doc``; returns where it starts.

    ``fresh``: nothing has been rendered into ``doc`` yet, so an empty first block is a
    placeholder to fill, not content (see ``_vacant``).
    """
    # QTextCursor.insertHtml merges the first inserted paragraph into the block at the
    # cursor, which keeps its own format (a heading would lose its size). So a marker
    # paragraph goes first and takes that place; then the marker is removed, and when the
    # block it landed in was a placeholder (see _vacant), that block goes too, unless a
    # table follows, which needs a block before it.
    cursor = QTextCursor(doc)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    vacant = _vacant(cursor, fresh=fresh)
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
    return start


def _place_images(doc: QTextDocument, start: int, images: list[FormulaImage]) -> None:
    """Turn the U+FFFC placeholders after ``start`` into the formula images, in order.

    Qt's HTML importer makes every ``<img>`` a frame of its own, and each layout walks
    all frames: with a few formulas per paragraph, each flush would cost more than the
    last. An image format on a U+FFFC character draws the same and adds no frame.
    """
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


def selected_text(cursor: QTextCursor, sources: Mapping[str, str]) -> str:
    """The selection as plain text, with each formula as the TeX it was written as.

    ``sources`` maps an image resource name to its TeX; an image not in it stays U+FFFC.
    """
    text = cursor.selection().toPlainText()
    if _OBJECT not in text:
        return text
    start, end = cursor.selectionStart(), cursor.selectionEnd()
    found: list[str] = []
    block = cursor.document().findBlock(start)
    while block.isValid() and block.position() < end:
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                lo = max(start, fragment.position())
                hi = min(end, fragment.position() + fragment.length())
                tex = sources.get(fmt.toImageFormat().name(), _OBJECT)
                found.extend([tex] * max(0, hi - lo))
            it += 1
        block = block.next()
    parts = text.split(_OBJECT)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(found[i] if i < len(found) else _OBJECT)
        out.append(part)
    return "".join(out)


def palette_theme(palette: QPalette, font: QFont) -> Theme:
    """The Markdown theme matching a widget's palette and font, so answers follow the app's
    light or dark look and its font size."""
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    return Theme(
        text=text.name(),
        muted=_mix(text, base, 0.4),
        link=palette.color(QPalette.ColorRole.Link).name(),
        border=_mix(text, base, 0.72),
        subtle_bg=_mix(text, base, 0.9),
        font_px=float(QFontInfo(font).pixelSize()),
        mono_family=QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(),
        dark=base.lightnessF() < 0.5,
    )


def _mix(a: QColor, b: QColor, t: float) -> str:
    """``a`` moved ``t`` of the way towards ``b``, as ``#rrggbb``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    ).name()


def _vacant(end: QTextCursor, fresh: bool) -> bool:
    """Is the block at ``end`` a placeholder: an empty document's block, or the one Qt keeps
    after a table? Other empty blocks mean something (a horizontal rule is one) and stay.
    """
    if end.block().length() != 1:
        return False
    at = end.position()
    return (fresh and at == 0) or end.document().characterAt(at - 1) == _FRAME_END
