"""Sparklines a user can read: a low load is not a flat line on the floor of its box."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from pytestqt.qtbot import QtBot

from app.gui.views.sparkline import Sparkline

pytestmark = pytest.mark.gui


def line_rows(spark: Sparkline) -> list[int]:
    """The pixel rows where the line (the accent colour) is drawn."""
    accent = spark.palette().color(QPalette.ColorRole.Highlight)
    image = spark.grab().toImage()
    return sorted(
        {
            y
            for x in range(0, image.width())
            for y in range(image.height())
            if _close(image.pixelColor(x, y), accent)
        }
    )


def _close(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 40


def test_a_low_cpu_load_rises_visibly_and_the_zoom_is_said(qtbot: QtBot) -> None:
    """2-6% of a CPU drawn on 0-100% sits in the bottom pixel rows; zoomed to 0-10% its
    ups and downs show, and the plot says where its top is."""
    spark = Sparkline("CPU", lambda v: f"{v:.0f}%", maximum=100)
    qtbot.addWidget(spark)
    spark.resize(240, spark.sizeHint().height())
    for v in (2, 6, 3, 5, 2, 6, 4):
        spark.add(v)
    rows = line_rows(spark)
    plot_height = spark.height() - spark.fontMetrics().height()
    assert rows[-1] - rows[0] > plot_height / 3  # the line's swing is a third of the box
    assert spark.scale_text == "10%"


def test_a_busy_cpu_uses_the_whole_range_and_says_nothing_more(qtbot: QtBot) -> None:
    spark = Sparkline("CPU", lambda v: f"{v:.0f}%", maximum=100)
    qtbot.addWidget(spark)
    for v in (20, 95, 40):
        spark.add(v)
    assert spark.scale_text == ""  # 0-100%, as without a zoom
    spark.add_gap()
    assert spark.latest_text == "—"


def test_figures_without_a_ceiling_scale_to_their_peak(qtbot: QtBot) -> None:
    spark = Sparkline("Engine memory", lambda v: f"{v:.0f} MB")
    qtbot.addWidget(spark)
    for v in (100, 300, 200):
        spark.add(v)
    assert spark.scale_text == ""
    assert spark.latest_text == "200 MB"
