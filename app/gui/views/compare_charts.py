"""The compare view's charts: decode speed and peak memory against model size, each
measurement with the fit planner's prediction drawn beside it.

One scatter series per model (its colour matches its answer column), a vertical line for
the spread over runs, and the prediction as a grey square with its range, a little to the
right of the measurement so that neither hides the other. Colours come from the palette so
the charts follow light and dark themes. Colour is never the only difference between two
legend entries: each model has its own marker shape, shown in the legend too, and two
models of the same name are told apart by their folder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCharts import QChart, QChartView, QLegend, QLineSeries, QScatterSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.core.bench_report import BenchReport, ModelResult, Spread
from app.gui.style import mix
from app.gui.workers.bench_worker import Prediction

PREDICTION_NAME = "Fit prediction"
MARKER_SIZE = 11.0
_Shape = QScatterSeries.MarkerShape
# One shape per model (Compare runs at most six); the prediction's is the square.
MODEL_SHAPES = (
    _Shape.MarkerShapeCircle,
    _Shape.MarkerShapeTriangle,
    _Shape.MarkerShapeRotatedRectangle,
    _Shape.MarkerShapeStar,
    _Shape.MarkerShapePentagon,
)


def model_colour(palette: QPalette, index: int) -> QColor:
    """The ``index``-th model's colour: the palette's accent turned round the hue circle."""
    accent = palette.color(QPalette.ColorRole.Highlight)
    hue = (max(accent.hsvHue(), 0) + index * 67) % 360
    return QColor.fromHsv(hue, max(accent.hsvSaturation(), 140), min(accent.value(), 220))


def model_shape(index: int) -> QScatterSeries.MarkerShape:
    """The ``index``-th model's marker shape."""
    return MODEL_SHAPES[index % len(MODEL_SHAPES)]


def legend_names(models: Sequence[ModelResult]) -> list[str]:
    """Each model's name, with its folder where two share a name (the same file name
    from LM Studio and from Ponder's folder), numbered if even that is the same."""
    counts = Counter(m.name for m in models)
    names = [
        f"{m.name} ({Path(m.path).parent.name})"
        if counts[m.name] > 1 and Path(m.path).parent.name
        else m.name
        for m in models
    ]
    repeats, seen = Counter(names), Counter[str]()
    out = []
    for name in names:
        seen[name] += 1
        out.append(f"{name} #{seen[name]}" if repeats[name] > 1 else name)
    return out


@dataclass(frozen=True)
class ChartPoint:
    """One model in one chart: its measured median and spread, and the predicted range."""

    name: str
    size_bytes: int
    measured: Spread | None
    predicted_low: float | None
    predicted_high: float | None
    index: int = 0  # the model's place in the run: its colour and shape, as its column's


def memory_spread(model: ModelResult) -> Spread | None:
    """Peak RAM plus peak VRAM of each load, over the runs."""
    totals = [
        float((r.peak_ram_bytes or 0) + (r.peak_vram_bytes or 0))
        for r in model.runs
        if r.peak_ram_bytes is not None
    ]
    return Spread.of(totals)


def chart_points(
    report: BenchReport, predictions: dict[str, Prediction]
) -> tuple[list[ChartPoint], list[ChartPoint]]:
    """(decode speed points, memory points), one per model that ran."""
    speed, memory = [], []
    names = legend_names(report.models)
    for index, (m, name) in enumerate(zip(report.models, names, strict=True)):
        if m.error:
            continue
        p = predictions.get(m.path)
        decode = m.summary()["decode_tok_s"]
        speed.append(
            ChartPoint(
                name,
                m.file_bytes,
                decode,
                p.tok_s_low if p else None,
                p.tok_s_high if p else None,
                index,
            )
        )
        mem = float(p.memory_bytes) if p else None
        memory.append(ChartPoint(name, m.file_bytes, memory_spread(m), mem, mem, index))
    return speed, memory


class SizeChart(QChartView):
    """A measure against model file size: measured points per model, predictions beside."""

    def __init__(
        self,
        title: str,
        y_title: str,
        *,
        y_scale: float = 1.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.y_title = y_title
        self.y_scale = y_scale  # values are divided by this before they are drawn
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumSize(320, 240)
        self.setAccessibleName(title)
        self.points: list[ChartPoint] = []
        self.set_points([])

    def measured_series(self) -> list[QScatterSeries]:
        chart = self.chart()
        return [
            s
            for s in chart.series()
            if isinstance(s, QScatterSeries) and s.name() != PREDICTION_NAME
        ]

    def prediction_series(self) -> QScatterSeries | None:
        found = [s for s in self.chart().series() if s.name() == PREDICTION_NAME]
        return found[0] if found and isinstance(found[0], QScatterSeries) else None

    def set_points(self, points: Sequence[ChartPoint]) -> None:
        self.points = list(points)
        old = self.chart()
        chart = QChart()
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.setBackgroundRoundness(0)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.legend().setMarkerShape(QLegend.MarkerShape.MarkerShapeFromSeries)
        self.setChart(chart)
        if old is not None:
            old.deleteLater()  # setChart does not take the old one down
        self._build(chart)
        self.apply_palette(self.palette())

    def _build(self, chart: QChart) -> None:
        measured = [p for p in self.points if p.measured is not None]
        chart.setTitle(self.title if measured else f"{self.title}: nothing measured")
        x_unit, x_scale = (
            ("GB", 1e9)
            if max((p.size_bytes for p in self.points), default=0) >= 1e9
            else ("MB", 1e6)
        )
        x_axis, y_axis = QValueAxis(), QValueAxis()
        x_axis.setTitleText(f"Model file size ({x_unit})")
        y_axis.setTitleText(self.y_title)
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        xs = [p.size_bytes / x_scale for p in self.points] or [1.0]
        x_max = max(xs) * 1.25
        beside = x_max * 0.025
        ys = [0.0]
        prediction = QScatterSeries()
        prediction.setName(PREDICTION_NAME)
        prediction.setMarkerShape(QScatterSeries.MarkerShape.MarkerShapeRectangle)
        prediction.setMarkerSize(MARKER_SIZE)
        extra: list[QLineSeries] = []
        for i, p in enumerate(self.points):
            # Models of the same size (a file and its copy, two builds of one quant) step
            # aside, so that every point stays visible: measured, prediction, measured...
            same = sum(
                1
                for q in self.points[:i]
                if abs(q.size_bytes - p.size_bytes) < 0.01 * x_max * x_scale
            )
            x = p.size_bytes / x_scale + 2 * same * beside
            if p.measured is not None:
                s = p.measured
                dot = QScatterSeries()
                dot.setName(p.name)
                dot.setMarkerShape(model_shape(p.index))
                dot.setMarkerSize(MARKER_SIZE)
                dot.setProperty("model_index", p.index)
                dot.append(x, s.median / self.y_scale)
                self._add(chart, dot, x_axis, y_axis)
                if s.n > 1 and s.max > s.min:
                    extra.append(self._bar(x, s.min, s.max, p.index))
                ys.append(s.max / self.y_scale)
            if p.predicted_low is not None and p.predicted_high is not None:
                mid = (p.predicted_low + p.predicted_high) / 2
                prediction.append(x + beside, mid / self.y_scale)
                if p.predicted_high > p.predicted_low:
                    extra.append(self._bar(x + beside, p.predicted_low, p.predicted_high, -1))
                ys.append(p.predicted_high / self.y_scale)
        if prediction.count():
            self._add(chart, prediction, x_axis, y_axis)
        for line in extra:
            self._add(chart, line, x_axis, y_axis)
            for marker in chart.legend().markers(line):
                marker.setVisible(False)
        x_axis.setRange(0, x_max)
        y_axis.setRange(0, max(ys) * 1.2 or 1.0)
        x_axis.applyNiceNumbers()
        y_axis.applyNiceNumbers()

    def _bar(self, x: float, low: float, high: float, index: int) -> QLineSeries:
        line = QLineSeries()
        line.setProperty("model_index", index)  # -1: a prediction's range
        line.append(QPointF(x, low / self.y_scale))
        line.append(QPointF(x, high / self.y_scale))
        return line

    @staticmethod
    def _add(
        chart: QChart, series: QLineSeries | QScatterSeries, x: QValueAxis, y: QValueAxis
    ) -> None:
        chart.addSeries(series)
        series.attachAxis(x)
        series.attachAxis(y)

    def apply_palette(self, palette: QPalette) -> None:
        """Colour the chart from ``palette`` (called again when the theme changes)."""
        chart = self.chart()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        grid = QColor(mix(base, text, 0.12))
        predicted = QColor(mix(text, base, 0.35))
        chart.setBackgroundBrush(base)
        chart.setPlotAreaBackgroundVisible(False)
        chart.setTitleBrush(text)
        chart.legend().setLabelColor(text)
        for axis in chart.axes():
            axis.setLabelsBrush(text)
            axis.setTitleBrush(text)
            axis.setLinePenColor(QColor(mix(base, text, 0.4)))
            axis.setGridLineColor(grid)
        self.setBackgroundBrush(base)
        for series in chart.series():
            index = series.property("model_index")
            colour = predicted if index is None or index < 0 else model_colour(palette, index)
            if isinstance(series, QScatterSeries):
                series.setColor(colour)
                series.setBorderColor(base)
            elif isinstance(series, QLineSeries):
                series.setPen(QPen(colour, 2.0))


def speed_chart() -> SizeChart:
    return SizeChart("Decode speed", "tok/s")


def memory_chart() -> SizeChart:
    return SizeChart("Peak memory (RAM + VRAM)", "GB", y_scale=1e9)


class CompareCharts(QWidget):
    """The two charts side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.speed = speed_chart()
        self.memory = memory_chart()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.speed)
        layout.addWidget(self.memory)

    def show_report(self, report: BenchReport, predictions: dict[str, Prediction]) -> None:
        speed, memory = chart_points(report, predictions)
        self.speed.set_points(speed)
        self.memory.set_points(memory)

    def clear(self) -> None:
        self.speed.set_points([])
        self.memory.set_points([])

    def apply_palette(self, palette: QPalette) -> None:
        self.speed.apply_palette(palette)
        self.memory.apply_palette(palette)
