"""The design pass: toolbar icons that follow the theme, check boxes that show on dark."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.gui.style import stylesheet
from app.gui.theme import apply_theme
from app.gui.views.main_window import MainWindow

pytestmark = pytest.mark.gui

TOOLS = ["Models", "Hardware", "Compare", "Machines", "Settings"]


def luminance(colour: QColor) -> float:
    """WCAG relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink(icon: QIcon) -> QColor:
    """The colour an icon's strokes are drawn in (its most opaque pixel)."""
    image = icon.pixmap(24, 24).toImage()
    pixels = [image.pixelColor(x, y) for x in range(24) for y in range(24)]
    return max(pixels, key=lambda c: c.alpha())


def toolbar_buttons(window: MainWindow) -> dict[str, QToolButton]:
    buttons = {}
    for action in window.toolbar.actions():
        button = window.toolbar.widgetForAction(action)
        if action.text() and isinstance(button, QToolButton):
            buttons[action.text()] = button
    return buttons


def test_each_toolbar_action_shows_an_icon_beside_its_name(window: MainWindow) -> None:
    buttons = toolbar_buttons(window)
    assert list(buttons) == TOOLS
    for text, button in buttons.items():
        assert not button.defaultAction().icon().isNull(), text
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        assert button.text() == text  # never an icon alone
        assert button.accessibleName() == text


def test_toolbar_icons_are_drawn_again_in_the_new_theme_colour(
    qtbot: QtBot, window: MainWindow, app_state: QApplication
) -> None:
    actions = [button.defaultAction() for button in toolbar_buttons(window).values()]
    apply_theme(app_state, "dark", app_state.font().pointSize())
    qtbot.waitUntil(lambda: all(ink(a.icon()).lightnessF() > 0.7 for a in actions))
    apply_theme(app_state, "light", app_state.font().pointSize())
    qtbot.waitUntil(lambda: all(ink(a.icon()).lightnessF() < 0.3 for a in actions))
    # Each drawing its own: five different pictures, not one icon five times.
    images = {bytes(a.icon().pixmap(24, 24).toImage().constBits()) for a in actions}
    assert len(images) == len(TOOLS)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_an_unchecked_box_and_radio_stand_out_from_the_window(
    qtbot: QtBot, app_state: QApplication, theme: str
) -> None:
    apply_theme(app_state, theme, app_state.font().pointSize())
    host = QWidget()
    qtbot.addWidget(host)
    host.setStyleSheet(stylesheet(app_state.palette()))  # as under the main window
    box = QCheckBox("Final answer in \\boxed{}", host)
    radio = QRadioButton("Dark", host)
    radio.move(0, 40)
    host.resize(300, 80)
    host.show()
    qtbot.waitExposed(host)
    image = host.grab().toImage()
    window = app_state.palette().color(QPalette.ColorRole.Window)
    for control, element in (
        (box, QStyle.SubElement.SE_CheckBoxIndicator),
        (radio, QStyle.SubElement.SE_RadioButtonIndicator),
    ):
        option = QStyleOptionButton()
        option.initFrom(control)
        rect = control.style().subElementRect(element, option, control)
        rect.translate(control.pos())
        y = rect.center().y()
        # The indicator's left edge, against the window around it (WCAG asks 3:1 of a
        # control's boundary).
        edge = max(
            contrast(image.pixelColor(x, y), window) for x in range(rect.left(), rect.left() + 3)
        )
        assert edge >= 3.0, (theme, type(control).__name__, edge)


def test_the_tools_have_room_between_them_in_either_theme(
    qtbot: QtBot, window: MainWindow, app_state: QApplication
) -> None:
    for theme in ("dark", "light"):  # a theme change resets a tool bar's own spacing
        apply_theme(app_state, theme, app_state.font().pointSize())
        layout = window.toolbar.layout()
        assert layout is not None
        layout.activate()
        buttons = list(toolbar_buttons(window).values())
        gaps = [b.geometry().left() - a.geometry().right() - 1 for a, b in pairwise(buttons)]
        assert min(gaps) >= 6, theme


def test_open_a_gguf_file_has_a_folder_icon_in_the_themes_colour(
    window: MainWindow, app_state: QApplication
) -> None:
    combo = window.picker.combo
    open_item = combo.count() - 1
    assert combo.itemText(open_item) == "Open a GGUF file…"
    for theme in ("light", "dark"):
        apply_theme(app_state, theme, app_state.font().pointSize())
        icon = combo.itemIcon(open_item)
        assert not icon.isNull()
        text = window.picker.palette().color(QPalette.ColorRole.ButtonText)
        assert contrast(ink(icon), text) < 1.5, theme  # drawn in the text colour
