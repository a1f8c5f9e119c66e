"""TeX -> QImage for the chat view, cached, with the slow half off the GUI thread.

ziamath typesets TeX to SVG in pure Python (3-13 ms a formula, far too slow to run per
streamed token on the GUI thread); QtSvg then paints that SVG into an image in about a
millisecond. So ``request`` runs ziamath in the app's math process (``texsvg``: a thread
would fight the GUI thread for the GIL) and hands the SVG back to the GUI thread (a queued
signal), where it becomes a QImage; ``render`` does both at once, here (tests, exports).
One renderer serves the whole app, so a formula is drawn once for every message showing it.

Inline formulas are padded so that Qt's ``vertical-align: middle`` (which centres an image
on a point a little above the text baseline, see ``MathKey.axis``) puts the formula's own
baseline, taken from ziamath's viewBox, on the text's baseline.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QByteArray, QCoreApplication, QObject, QRectF, Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QFont,
    QImage,
    QPainter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextImageFormat,
)
from PySide6.QtSvg import QSvgRenderer

from app.gui.render import texsvg

log = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 8000  # logical pixels; a runaway matrix must not allocate gigabytes
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
_VIEWBOX = re.compile(r'viewBox="([-\d.e]+) ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)"')
_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_DEFAULT_NAME = "ponder-default-math-renderer"
_FORMAT = QImage.Format.Format_ARGB32_Premultiplied
_AXES: dict[str, float] = {}  # QFont.key() -> middle_axis()


@dataclass(frozen=True, slots=True)
class MathKey:
    """Everything that changes a formula's pixels; the cache key.

    Attributes:
        tex: The TeX source, without delimiters.
        display: Display style (big operators, own line) rather than inline.
        color: Ink colour, ``#rrggbb``.
        size: Font size in logical pixels.
        dpr: Device pixel ratio of the screen it is drawn for.
        axis: How far above the baseline Qt centres an image set with
            ``vertical-align: middle`` in the surrounding font (``middle_axis``).
    """

    tex: str
    display: bool
    color: str
    size: float
    dpr: float
    axis: float = 0.0


@dataclass(frozen=True, slots=True)
class MathImage:
    """A drawn formula (``image`` is null and ``error`` says why when it could not be)."""

    image: QImage
    width: int  # logical pixels
    height: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class MathRenderer(QObject):
    """Shared TeX renderer with an LRU image cache. Use from the GUI thread.

    Signals:
        ready(MathKey): a formula asked for with ``request`` is now in the cache.
    """

    ready = Signal(object)
    _svg_done = Signal(object, str, str)  # key, svg, error; emitted on the worker thread

    def __init__(
        self, parent: QObject | None = None, *, max_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        super().__init__(parent)
        self._max_bytes = max_bytes
        self._bytes = 0
        self._cache: OrderedDict[MathKey, MathImage] = OrderedDict()
        self._in_flight: set[MathKey] = set()
        self._svg_done.connect(self._on_svg_done, Qt.ConnectionType.QueuedConnection)
        _math_pool()  # start the math process now, so the first formula is not late

    def lookup(self, key: MathKey) -> MathImage | None:
        """The cached image, or None when it still has to be drawn."""
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
        return image

    def render(self, key: MathKey) -> MathImage:
        """Draw now (on the calling GUI thread) unless cached."""
        cached = self.lookup(key)
        if cached is not None:
            return cached
        svg, error = tex_to_svg(key)
        return self._store(key, _to_image(key, svg, error))

    def request(self, key: MathKey) -> None:
        """Draw in the background; ``ready(key)`` follows (at once if already cached)."""
        if key in self._cache:
            self.ready.emit(key)
            return
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        try:
            future = _math_pool().submit(
                texsvg.tex_to_svg, key.tex, key.size, key.color, key.display
            )
        except RuntimeError:  # the pool broke (its process died) or is shut down
            _reset_pool()
            future = _math_pool().submit(
                texsvg.tex_to_svg, key.tex, key.size, key.color, key.display
            )
        future.add_done_callback(partial(self._deliver, key))

    def _deliver(self, key: MathKey, future: Future[tuple[str, str]]) -> None:
        # Runs on the pool's thread: only a queued signal may cross to the GUI thread.
        if future.cancelled():
            return
        try:
            svg, error = future.result()
        except Exception as exc:  # tex_to_svg catches TeX errors; this is e.g. a dead process
            svg, error = "", f"{type(exc).__name__}: {exc}"
            _reset_pool()
        try:
            self._svg_done.emit(key, svg, error)
        except RuntimeError:  # the renderer was deleted while this formula was drawn
            log.debug("math renderer gone before %r was delivered", key.tex)

    @Slot(object, str, str)
    def _on_svg_done(self, key: MathKey, svg: str, error: str) -> None:
        self._in_flight.discard(key)
        if error:
            log.debug("TeX not rendered (%s): %r", error, key.tex)
        if key not in self._cache:
            self._store(key, _to_image(key, svg, error))
        self.ready.emit(key)

    def _store(self, key: MathKey, image: MathImage) -> MathImage:
        self._cache[key] = image
        self._bytes += image.image.sizeInBytes()
        while self._bytes > self._max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.image.sizeInBytes()
        return image


def _reset_pool() -> None:
    """Forget a broken pool; the next formula starts a new math process."""
    global _POOL  # noqa: PLW0603
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = None


def default_renderer() -> MathRenderer:
    """The app's shared renderer, for views not handed one (created on first use)."""
    app = QCoreApplication.instance()
    found = (
        app.findChild(MathRenderer, _DEFAULT_NAME, Qt.FindChildOption.FindDirectChildrenOnly)
        if app is not None
        else None
    )
    if isinstance(found, MathRenderer):
        return found
    renderer = MathRenderer(app)
    renderer.setObjectName(_DEFAULT_NAME)
    return renderer


def middle_axis(font: QFont) -> float:
    """How far above the baseline Qt centres an inline image set ``vertical-align: middle``.

    Measured, not computed: Qt's rule has changed between versions (half the line height
    minus the descent in QAbstractTextDocumentLayout, a quarter of the x-height in Qt 6's
    QTextDocumentLayout), and a formula set a few pixels off its baseline is plain to see.
    """
    key = font.key()
    if (axis := _AXES.get(key)) is None:
        probe = 100
        doc = QTextDocument()
        doc.setDefaultFont(font)
        doc.addResource(
            QTextDocument.ResourceType.ImageResource.value, QUrl("probe:"), QImage(1, 1, _FORMAT)
        )
        image = QTextImageFormat()
        image.setName("probe:")
        image.setWidth(1)
        image.setHeight(probe)
        image.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
        QTextCursor(doc).insertImage(image)
        doc.size()  # lays it out
        layout = doc.begin().layout()
        ascent = layout.lineAt(0).ascent() if layout is not None and layout.lineCount() else 0.0
        axis = round(ascent - probe / 2, 2) if ascent > probe / 2 else 0.0
        _AXES[key] = axis
    return axis


def tex_to_svg(key: MathKey) -> tuple[str, str]:
    """(svg, "") or ("", why not), typeset in this process. Never raises."""
    return texsvg.tex_to_svg(key.tex, key.size, key.color, key.display)


def _math_pool() -> ProcessPoolExecutor:
    """The app's one math process (spawned on first use; ziamath loads there at once)."""
    global _POOL  # noqa: PLW0603 (one per app process)
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=texsvg.worker_init,
                initargs=(os.getpid(),),
            )
            # The executor starts its process on the first job: start it now (at app start)
            # rather than in the middle of the first answer with a formula.
            _POOL.submit(int)
        return _POOL


def _to_image(key: MathKey, svg: str, error: str) -> MathImage:
    """Paint ``svg`` at the key's pixel ratio, padded for baseline alignment (GUI thread)."""
    if error:
        return MathImage(QImage(), 0, 0, error)
    box = _VIEWBOX.search(svg)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    if box is None or not renderer.isValid():
        return MathImage(QImage(), 0, 0, "the formula's SVG could not be read")
    width, height = float(box.group(3)), float(box.group(4))
    ascent = -float(box.group(2))
    descent = height - ascent
    top = bottom = 0.0
    if not key.display:
        # Qt centres the image 'axis' px above the baseline; pad so that centre is ours.
        excess = (ascent - descent) - 2 * key.axis
        if excess > 0:
            bottom = excess
        else:
            top = -excess
    w = max(1, math.ceil(width))
    h = max(1, math.ceil(height + top + bottom))
    if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
        return MathImage(QImage(), 0, 0, f"the formula is too large to draw ({w}x{h} px)")
    top += (h - (height + top + bottom)) / 2  # rounding up keeps the centre where it was
    image = QImage(max(1, round(w * key.dpr)), max(1, round(h * key.dpr)), _FORMAT)
    image.setDevicePixelRatio(key.dpr)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF((w - width) / 2, top, width, height))
    painter.end()
    return MathImage(image, w, h)
