"""TeX -> SVG with ziamath, in a process of its own (no Qt here).

ziamath is pure Python and takes 2-17 ms a formula. On a thread it competes with the GUI
thread for the GIL: every Qt call the GUI makes while a formula is being typeset waits for
the GIL again, and a burst of formulas at the start of an answer froze the window for
40-70 ms (benchmarks/gui_streaming.py). A separate process has its own GIL.
"""

from __future__ import annotations

import logging
import threading
import warnings
from types import ModuleType

from app.core.lifetime import exit_with_parent

log = logging.getLogger(__name__)

MAX_TEX_CHARS = 4000  # beyond this a "formula" is runaway output, not worth seconds of CPU
_ZIAMATH_LOCK = threading.Lock()  # ziamath keeps module-level state; one formula at a time


def tex_to_svg(tex: str, size: float, color: str, display: bool) -> tuple[str, str]:
    """(svg, "") or ("", why not). Never raises."""
    if len(tex) > MAX_TEX_CHARS:
        return "", f"formula longer than {MAX_TEX_CHARS} characters"
    if not tex.strip():
        return "", "empty formula"
    with _ZIAMATH_LOCK:
        try:
            latex = _ziamath().Latex(tex, size=size, color=color, inline=not display)
            svg: str = latex.svg()
        except Exception as exc:  # ziamath raises many kinds of errors on bad TeX
            log.debug("TeX not rendered (%s: %s): %r", type(exc).__name__, exc, tex)
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


def worker_init(parent_pid: int) -> None:
    """In the math process: load ziamath now, and leave when the app is gone (a killed app
    must not leave this process behind)."""

    exit_with_parent(parent_pid)
    tex_to_svg("x", 12.0, "#000000", False)
