"""The design pass: check boxes that show on dark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.gui.style import stylesheet
from app.gui.theme import apply_theme

pytestmark = pytest.mark.gui


@pytest.fixture
def app_state(qapp: QApplication) -> Iterator[QApplication]:
    """The QApplication is shared by every test: put its look back afterwards."""
    font = qapp.font()
    yield qapp
    apply_theme(qapp, "system", font.pointSize())
    qapp.setFont(font)


def luminance(colour: QColor) -> float:
    """WCAG relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


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
