"""The chat's look: one style sheet computed from the current palette (light or dark).

Colours are mixed from the palette rather than hard-coded, so a theme switch (or the
platform's own dark mode) keeps every part readable; ``MainWindow`` re-applies it when the
theme changes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from app.gui.theme import blend


def mix(a: QColor, b: QColor, t: float) -> str:
    """``a`` blended toward ``b`` by ``t`` (0..1), as #rrggbb."""
    return blend(a, b, t).name()


def stylesheet(palette: QPalette) -> str:
    base = palette.color(QPalette.ColorRole.Base)
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.Text)
    accent = palette.color(QPalette.ColorRole.Highlight)
    muted = mix(text, base, 0.45)
    bubble = mix(base, accent, 0.10)
    bubble_border = mix(base, accent, 0.25)
    rule = mix(base, text, 0.22)
    thinking_bg = mix(base, text, 0.035)
    sidebar = mix(window, base, 0.35)
    return f"""
#chatCanvas, QScrollArea#chatView {{ background: {base.name()}; }}
#sidebar {{ background: {sidebar}; }}
QFrame#userMessage {{
    background: {bubble}; border: 1px solid {bubble_border}; border-radius: 10px;
}}
QFrame#userMessage QLabel {{ background: transparent; }}
QFrame#thinkingPanel {{
    background: {thinking_bg}; border-left: 3px solid {rule}; border-radius: 4px;
}}
QToolButton#thinkingToggle {{
    color: {muted}; border: none; background: transparent; font-weight: 600; padding: 2px;
}}
QToolButton#thinkingToggle:hover {{ color: {text.name()}; }}
QTextEdit#thinkingBody {{ background: transparent; color: {muted}; border: none; }}
QLabel#thinkingOutline {{ color: {muted}; }}
QToolButton#thinkingCollapse {{ color: {muted}; }}
QFrame#groupPanel {{
    background: {thinking_bg}; border-left: 3px solid {mix(base, accent, 0.55)};
    border-radius: 4px;
}}
QLabel#groupVote, QLabel#sampleAnswer {{ font-weight: 600; }}
QLabel#groupChoice, QLabel#sampleReward, QLabel#sampleName {{ color: {muted}; }}
QLabel#sampleChosen {{ color: {muted}; font-style: italic; }}
QFrame#sampleDetail {{ border-left: 2px solid {rule}; }}
QLabel#messageStats {{ color: {muted}; }}
QLabel#messageNote {{ color: {muted}; font-style: italic; }}
QLabel#messageNote[error="true"] {{ color: #d32f2f; font-style: normal; }}
QLabel#emptyChat {{ color: {muted}; }}
QLabel#statusMemory {{ border-left: 1px solid {rule}; padding-left: 8px; }}
QFrame#assistantMessage QToolButton, QFrame#userMessage QToolButton {{ color: {muted}; }}
QFrame#assistantMessage QToolButton:hover, QFrame#userMessage QToolButton:hover {{
    color: {accent.name()};
}}
#composer {{ background: {base.name()}; border-top: 1px solid {rule}; }}
QPlainTextEdit#composerInput {{
    border: 1px solid {rule}; border-radius: 8px; padding: 4px; background: {base.name()};
}}
QPlainTextEdit#composerInput:focus {{ border: 1px solid {accent.name()}; }}
QScrollArea#chatView QScrollBar:vertical {{
    background: {base.name()}; width: 12px; margin: 0; border: none;
}}
QScrollArea#chatView QScrollBar::handle:vertical {{
    background: {rule}; border-radius: 3px; min-height: 40px; margin: 2px 3px;
}}
QScrollArea#chatView QScrollBar::handle:vertical:hover {{ background: {muted}; }}
QScrollArea#chatView QScrollBar::add-line:vertical,
QScrollArea#chatView QScrollBar::sub-line:vertical {{ height: 0; border: none; }}
QScrollArea#chatView QScrollBar::add-page:vertical,
QScrollArea#chatView QScrollBar::sub-page:vertical {{ background: none; }}
"""
