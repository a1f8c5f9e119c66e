"""TeX -> QImage for the chat view, cached, with the slow half off the GUI thread.

ziamath typesets TeX to SVG in pure Python (3-13 ms a formula, far too slow to run per
streamed token on the GUI thread); QtSvg then paints that SVG into an image in about a
millisecond. So ``request`` runs ziamath on one worker thread and hands the SVG back to the
GUI thread (a queued signal), where it becomes a QImage; ``render`` does both at once for a
stored message, which is shown in one go anyway. One renderer serves the whole app, so a
formula drawn once is drawn once for every message that shows it.

Inline formulas are padded so that Qt's ``vertical-align: middle`` (which centres an image
on a point a little above the text baseline, see ``MathKey.axis``) puts the formula's own
baseline, taken from ziamath's viewBox, on the text's baseline.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from types import ModuleType

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

log = logging.getLogger(__name__)

MAX_TEX_CHARS = 4000  # beyond this a "formula" is runaway output, not worth seconds of CPU
MAX_IMAGE_SIDE = 8000  # logical pixels; a runaway matrix must not allocate gigabytes
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
_VIEWBOX = re.compile(r'viewBox="([-\d.e]+) ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)"')
# ziamath keeps module-level state (fonts, its config); one formula at a time.
_ZIAMATH_LOCK = threading.Lock()
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
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ponder-math")
        self._svg_done.connect(self._on_svg_done, Qt.ConnectionType.QueuedConnection)
        # Import ziamath and load its font now, off the GUI thread, so the first formula of
        # the first answer is not 0.2 s late.
        self._pool.submit(tex_to_svg, MathKey("x", False, "#000000", 12.0, 1.0))
        self.destroyed.connect(partial(_shutdown_pool, self._pool))

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
        future = self._pool.submit(tex_to_svg, key)
        future.add_done_callback(partial(self._deliver, key))

    def shutdown(self) -> None:
        """Stop the worker; formulas still queued are dropped."""
        _shutdown_pool(self._pool)

    def _deliver(self, key: MathKey, future: Future[tuple[str, str]]) -> None:
        # Runs on the worker thread: only a queued signal may cross to the GUI thread.
        if future.cancelled():
            return
        try:
            svg, error = future.result()
        except Exception as exc:  # tex_to_svg catches TeX errors; this is e.g. MemoryError
            svg, error = "", f"{type(exc).__name__}: {exc}"
        try:
            self._svg_done.emit(key, svg, error)
        except RuntimeError:  # the renderer was deleted while this formula was drawn
            log.debug("math renderer gone before %r was delivered", key.tex)

    @Slot(object, str, str)
    def _on_svg_done(self, key: MathKey, svg: str, error: str) -> None:
        self._in_flight.discard(key)
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


def default_renderer() -> MathRenderer:
    """The app's shared renderer, for views not handed one (created on first use)."""
    app = QCoreApplication.instance()
    found = app.findChild(MathRenderer, _DEFAULT_NAME) if app is not None else None
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


def _shutdown_pool(pool: ThreadPoolExecutor, *_: object) -> None:
    pool.shutdown(wait=False, cancel_futures=True)


def tex_to_svg(key: MathKey) -> tuple[str, str]:
    """(svg, "") or ("", why not). Safe from any thread; never raises."""
    if len(key.tex) > MAX_TEX_CHARS:
        return "", f"formula longer than {MAX_TEX_CHARS} characters"
    if not key.tex.strip():
        return "", "empty formula"
    with _ZIAMATH_LOCK:
        try:
            ziamath = _ziamath()
            latex = ziamath.Latex(key.tex, size=key.size, color=key.color, inline=not key.display)
            svg: str = latex.svg()
        except Exception as exc:  # ziamath raises many kinds of errors on bad TeX
            log.debug("TeX not rendered (%s: %s): %r", type(exc).__name__, exc, key.tex)
            return "", f"{type(exc).__name__}: {exc}".rstrip(": ")
    return svg, ""


def _ziamath() -> ModuleType:
    """Import ziamath on first use (0.15 s), configured for QtSvg."""
    with warnings.catch_warnings():
        # ziamath 0.13 loads its font with the deprecated importlib.resources.path().
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziafont
        import ziamath
    # SVG 2 output uses <symbol>/<use>, which QtSvg (SVG Tiny 1.2) cannot draw.
    ziafont.config.svg2 = False
    return ziamath


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
