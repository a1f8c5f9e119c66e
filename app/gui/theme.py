"""Light, dark or the desktop's own look, and the app-wide font size.

Qt 6.8+ can ask the platform for a colour scheme (``QStyleHints.setColorScheme``), but only
some platforms honour it (Windows 11, macOS, recent GNOME/KDE), and the native styles on
others ignore a palette. Light and dark are therefore an explicit palette on the Fusion
style, which looks the same everywhere; the colour-scheme request is still made so that
native parts (title bars, file dialogs) match. "system" undoes all of it: the platform's
own style, palette and scheme, which then follow the desktop again.

Fusion outlines check boxes and radio buttons in the window colour darkened, which on a dark
window is all but black on near-black: an unchecked box vanished. ``PonderStyle`` is Fusion
with those outlines drawn in a colour a little past halfway from the window to its text, at
least 3:1 against the window in both themes (what WCAG asks of a control's edge), even where
a radio button's circle is antialiased.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleOption,
    QToolTip,
    QWidget,
)

Role = QPalette.ColorRole
Group = QPalette.ColorGroup

# The platform's look before we first changed it, kept on the application object itself so
# that "system" can restore it (a new QApplication starts clean).
_PLATFORM_STYLE = "ponder_platform_style"
_PLATFORM_TOOLTIP_PALETTE = "ponder_platform_tooltip_palette"

_LIGHT: dict[Role, str] = {
    Role.Window: "#f0f0f0",
    Role.WindowText: "#1d1d1f",
    Role.Base: "#ffffff",
    Role.AlternateBase: "#f5f5f7",
    Role.ToolTipBase: "#ffffff",
    Role.ToolTipText: "#1d1d1f",
    Role.PlaceholderText: "#76767c",
    Role.Text: "#1d1d1f",
    Role.Button: "#f5f5f5",
    Role.ButtonText: "#1d1d1f",
    Role.BrightText: "#ffffff",
    Role.Light: "#ffffff",
    Role.Midlight: "#e6e6e6",
    Role.Mid: "#b9b9bd",
    Role.Dark: "#9c9ca1",
    Role.Shadow: "#5c5c60",
    Role.Highlight: "#2f6fd6",
    Role.HighlightedText: "#ffffff",
    Role.Link: "#1a5fc8",
    Role.LinkVisited: "#7440c4",
    Role.Accent: "#2f6fd6",
}

_DARK: dict[Role, str] = {
    Role.Window: "#232529",
    Role.WindowText: "#e8e8ea",
    Role.Base: "#2b2d31",
    Role.AlternateBase: "#313338",
    Role.ToolTipBase: "#383b40",
    Role.ToolTipText: "#e8e8ea",
    Role.PlaceholderText: "#9a9ca3",
    Role.Text: "#e8e8ea",
    Role.Button: "#33363b",
    Role.ButtonText: "#e8e8ea",
    Role.BrightText: "#ff7b72",
    Role.Light: "#4a4d53",
    Role.Midlight: "#3d4045",
    Role.Mid: "#1c1d20",
    Role.Dark: "#141517",
    Role.Shadow: "#0b0b0c",
    Role.Highlight: "#3b78d8",
    Role.HighlightedText: "#ffffff",
    Role.Link: "#79aaff",
    Role.LinkVisited: "#b792ff",
    Role.Accent: "#3b78d8",
}

# Fusion outlines fields in the window colour darkened, so Base is lighter than Window in the
# dark palette: otherwise text fields lose their border.
# Disabled controls: text greyed towards the background, selection without colour.
_LIGHT_DISABLED: dict[Role, str] = {
    Role.WindowText: "#9a9a9f",
    Role.Text: "#9a9a9f",
    Role.ButtonText: "#9a9a9f",
    Role.Highlight: "#c8c8cc",
    Role.HighlightedText: "#ffffff",
}
_DARK_DISABLED: dict[Role, str] = {
    Role.WindowText: "#75777d",
    Role.Text: "#75777d",
    Role.ButtonText: "#75777d",
    Role.Highlight: "#45484d",
    Role.HighlightedText: "#a8a8ad",
}


def _palette(colours: dict[Role, str], disabled: dict[Role, str]) -> QPalette:
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(Group.All, role, QColor(colour))
    for role, colour in disabled.items():
        palette.setColor(Group.Disabled, role, QColor(colour))
    return palette


def light_palette() -> QPalette:
    return _palette(_LIGHT, _LIGHT_DISABLED)


def dark_palette() -> QPalette:
    return _palette(_DARK, _DARK_DISABLED)


_EDGE_TOWARD_TEXT = 0.58


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` blended toward ``b`` by ``t`` (0..1)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def indicator_edge(palette: QPalette) -> QColor:
    """The outline of a check box or radio button: from the window most of the way to its
    text (#767677 on the light window, #959699 on the dark one)."""
    return blend(palette.color(Role.Window), palette.color(Role.WindowText), _EDGE_TOWARD_TEXT)


# Fusion draws a check box's outline as window.darker(140).lighter(110) and a radio
# button's as window.darker(150): a window this much lighter than the wanted edge gives it.
_EDGE_FROM_WINDOW = {
    QStyle.PrimitiveElement.PE_IndicatorCheckBox: 127,
    QStyle.PrimitiveElement.PE_IndicatorRadioButton: 150,
}


class PonderStyle(QProxyStyle):
    """Fusion, with check box and radio button outlines a user can see on either theme.

    Only the colour Fusion derives the outline from changes (the option's window colour,
    which these two indicators use for nothing else), so the shapes, the check mark, the
    pressed and the keyboard-focus looks stay Fusion's own.
    """

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(  # noqa: N802 (Qt API)
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        lighter = _EDGE_FROM_WINDOW.get(element)
        if lighter is not None:
            option = type(option)(option)  # a copy: the caller's option stays as it was
            palette = QPalette(option.palette)
            palette.setColor(Role.Window, indicator_edge(option.palette).lighter(lighter))
            option.palette = palette
        super().drawPrimitive(element, option, painter, widget)


def apply_theme(app: QApplication, theme: str, font_size: int) -> None:
    """Switch the whole app to ``theme`` ("system", "light" or "dark") and ``font_size`` pt.

    Widgets that were built with default palette and font follow at once; an unknown theme
    name is treated as "system".
    """
    style = app.style()
    if app.property(_PLATFORM_STYLE) is None:
        app.setProperty(_PLATFORM_STYLE, style.name() if style is not None else "")
        app.setProperty(_PLATFORM_TOOLTIP_PALETTE, QToolTip.palette())
    hints = app.styleHints()
    if theme in ("light", "dark"):
        dark = theme == "dark"
        hints.setColorScheme(Qt.ColorScheme.Dark if dark else Qt.ColorScheme.Light)
        if not isinstance(style, PonderStyle):
            app.setStyle(PonderStyle())
        palette = dark_palette() if dark else light_palette()
        app.setPalette(palette)
        QToolTip.setPalette(palette)
    else:
        hints.unsetColorScheme()
        platform_style = str(app.property(_PLATFORM_STYLE))
        current = app.style()
        if platform_style and (current is None or current.name() != platform_style):
            app.setStyle(platform_style)
        # An empty palette resolves every role against the platform's, and keeps doing so
        # when the desktop switches between light and dark.
        app.setPalette(QPalette())
        saved = app.property(_PLATFORM_TOOLTIP_PALETTE)
        QToolTip.setPalette(saved if isinstance(saved, QPalette) else app.palette())
    font = app.font()
    if font.pointSize() != font_size:
        font.setPointSize(font_size)
        app.setFont(font)


# Fit verdicts: (on a light theme, on a dark one), each readable on its background.
VERDICT_COLOURS = {
    "gpu": ("#2e7d32", "#81c784"),
    "partial": ("#b26a00", "#ffb74d"),
    "cpu": ("#1565c0", "#90caf9"),
    "too_large": ("#c62828", "#ef9a9a"),
}


def verdict_colour(verdict: str | None) -> str:
    """The colour a fit verdict is marked with on the current theme ("" for none)."""
    pair = VERDICT_COLOURS.get(verdict or "")
    if pair is None:
        return ""
    app = QGuiApplication.instance()
    return pair[1] if isinstance(app, QGuiApplication) and is_dark(app) else pair[0]


def verdict_dot(verdict: str | None) -> QPixmap:
    """A small dot in the verdict's colour, for tables (coloured text looks like a link)."""
    return _dot(verdict_colour(verdict))


@cache
def _dot(colour: str) -> QPixmap:
    pixmap = QPixmap(10, 10)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour or "#9e9e9e"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 8, 8)
    painter.end()
    return pixmap


def is_dark(app: QGuiApplication) -> bool:
    """Whether the app currently draws light text on a dark window (for views' own colours)."""
    return app.palette().color(Role.Window).lightnessF() < 0.5
