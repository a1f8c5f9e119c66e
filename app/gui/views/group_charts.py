"""The painted parts of a "Think N ways" reply: the live lanes, the answers' bar chart, an
advantage's signed bar, and the thumb icons.

Each is one widget that paints itself: a token only changes a lane's numbers, and the next
paint (at most every ``LANE_PAINT_MS``) draws them, so streaming N samples never re-lays out
the chat. Colours come from the palette, so light and dark themes both read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QIcon,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.events import GenerationStats, LiveStats
from app.core.group_reply import plain_math
from app.core.grouping import GroupResult, extract_final_answer
from app.core.units import format_tokens
from app.gui.style import mix

LANE_PAINT_MS = 50  # a lane repaints at most this often
TAIL_CHARS = 200  # the end of a lane's thinking, shown while it thinks
POSITIVE = QColor("#2e9d5b")
NEGATIVE = QColor("#d0573f")


def _colours(palette: QPalette) -> tuple[QColor, QColor, QColor, QColor]:
    """(text, muted text, accent, faint background) for the current theme."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    return (
        text,
        QColor(mix(text, base, 0.45)),
        palette.color(QPalette.ColorRole.Highlight),
        QColor(mix(base, text, 0.06)),
    )


# -- the live lanes -----------------------------------------------------------------------


@dataclass
class Lane:
    """What one sample has done so far, as its lane shows it."""

    tokens: int = 0
    tail: str = ""  # the end of its thinking
    thought_s: float | None = None  # when its answer started
    thinking_tokens: int = 0
    answer: list[str] = field(default_factory=list)
    final: str | None = None  # the final answer read from the answer so far
    stats: GenerationStats | None = None  # set when the sample ended

    def status(self, elapsed_s: float) -> str:
        """Its thinking progress: "Thinking… 8.2 s · 310 tokens", then "Thought …"."""
        if self.stats is not None and self.stats.reasoning_tokens:
            seconds = self.stats.reasoning_s if self.stats.reasoning_s else self.thought_s
            took = f" {seconds:.1f} s" if seconds is not None else ""
            return f"Thought{took} · {format_tokens(self.stats.reasoning_tokens)}"
        if self.thought_s is not None or self.stats is not None:
            if not self.thinking_tokens:
                return "Answered without thinking"
            return f"Thought {self.thought_s or 0.0:.1f} s · {format_tokens(self.thinking_tokens)}"
        if not self.tokens:
            return "Waiting…"
        return f"Thinking… {elapsed_s:.1f} s · {format_tokens(self.tokens)}"

    def outcome(self) -> str:
        """Its answer so far: the end of its thinking, then its final answer."""
        if self.stats is not None:
            shown = self.final if self.final is not None else "no answer"
            return f"Stopped: {shown}" if self.stats.stop_reason == "stopped" else shown
        if self.answer:
            return f"Answering… {self.final}" if self.final else "Answering…"
        return " ".join(self.tail.split())


class GroupLanes(QWidget):
    """One compact lane per sample: a bar of its length, its progress, its answer."""

    def __init__(self, count: int, started: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("groupLanes")
        self.setAccessibleName("Samples thinking")
        self.lanes = [Lane() for _ in range(count)]
        self._started = started  # time.monotonic() when the reply started
        self._dirty: set[int] = set()
        self._painted_at = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self._row_height() * count)

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 10

    def _lane(self, sample: int) -> Lane:
        while sample >= len(self.lanes):  # more than announced: one lane more each
            self.lanes.append(Lane())
            self.setFixedHeight(self._row_height() * len(self.lanes))
        self._dirty.add(sample)
        return self.lanes[sample]

    def add_reasoning(self, sample: int, text: str) -> None:
        lane = self._lane(sample)
        lane.tokens += 1
        lane.tail = (lane.tail + text)[-TAIL_CHARS:]

    def add_answer(self, sample: int, text: str) -> None:
        lane = self._lane(sample)
        if not lane.answer:
            lane.thought_s = time.monotonic() - self._started
            lane.thinking_tokens = lane.tokens
        lane.tokens += 1
        lane.answer.append(text)

    def set_progress(self, stats: LiveStats) -> None:
        if stats.sample is None:
            return
        lane = self._lane(stats.sample)
        lane.tokens = max(lane.tokens, stats.generated_tokens)

    def finish_sample(self, sample: int, stats: GenerationStats) -> None:
        self._lane(sample).stats = stats

    def seed(self, sample: int, reasoning: str, answer: str) -> None:
        """A lane's text so far (a chat reopened while its group streams)."""
        lane = self._lane(sample)
        lane.tail = reasoning[-TAIL_CHARS:]
        lane.tokens = len(reasoning.split()) + len(answer.split())  # about; the engine corrects it
        if answer:
            lane.answer = [answer]
            lane.thought_s = time.monotonic() - self._started
            lane.thinking_tokens = len(reasoning.split())

    def flush(self) -> None:
        """Repaint if something changed (or a clock ticks), at most every LANE_PAINT_MS."""
        now = time.monotonic()
        thinking = any(lane.stats is None and lane.tokens for lane in self.lanes)
        if not (self._dirty or thinking) or (now - self._painted_at) * 1000 < LANE_PAINT_MS:
            return
        for i in self._dirty:
            lane = self.lanes[i]
            if lane.answer:
                # While it writes, only an answer it states (boxed, "the answer is"); once
                # done, what the vote reads (else its last line).
                found = extract_final_answer("".join(lane.answer))
                usable = found is not None and (found.clear or lane.stats is not None)
                lane.final = plain_math(found.text) if found and usable else None
        self._dirty.clear()
        self._painted_at = now
        self.update()

    def lane_text(self, sample: int) -> str:
        """The lane as a person reads it (also its accessible text)."""
        lane = self.lanes[sample]
        return f"{sample + 1}  {lane.status(self._elapsed())}  {lane.outcome()}"

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(480, self._row_height() * len(self.lanes))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        text, muted, accent, faint = _colours(self.palette())
        fm = self.fontMetrics()
        row_h = self._row_height()
        number_w = fm.horizontalAdvance("8") + 14
        bar_w = 56
        status_w = fm.horizontalAdvance("Thinking… 888.8 s · 88,888 tokens") + 14
        longest = max((lane.tokens for lane in self.lanes), default=0) or 1
        elapsed = self._elapsed()
        bold = self.font()
        bold.setBold(True)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, lane in enumerate(self.lanes):
            top = i * row_h
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(faint)
            p.drawRoundedRect(QRectF(0, top + 1, self.width(), row_h - 2), 4, 4)
            mid = top + row_h / 2
            p.setPen(muted)
            p.drawText(QRectF(6, top, number_w, row_h), Qt.AlignmentFlag.AlignVCenter, str(i + 1))
            track = QRectF(number_w, mid - 2.5, bar_w, 5)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(mix(faint, muted, 0.35)))
            p.drawRoundedRect(track, 2.5, 2.5)
            filled = QRectF(track.left(), track.top(), bar_w * lane.tokens / longest, 5)
            p.setBrush(accent if lane.stats is None else QColor(mix(accent, faint, 0.45)))
            p.drawRoundedRect(filled, 2.5, 2.5)
            x = number_w + bar_w + 10
            p.setPen(text if lane.stats is None else muted)
            status = fm.elidedText(lane.status(elapsed), Qt.TextElideMode.ElideRight, status_w)
            p.drawText(QRectF(x, top, status_w, row_h), Qt.AlignmentFlag.AlignVCenter, status)
            x += status_w
            rest = max(0, self.width() - x - 8)
            outcome = lane.outcome()
            if lane.answer or lane.stats is not None:
                p.setFont(bold)
                p.setPen(text)
                shown = QFontMetrics(bold).elidedText(outcome, Qt.TextElideMode.ElideRight, rest)
            else:  # the end of its thinking: the newest words matter
                p.setPen(muted)
                shown = fm.elidedText(outcome, Qt.TextElideMode.ElideLeft, rest)
            p.drawText(QRectF(x, top, rest, row_h), Qt.AlignmentFlag.AlignVCenter, shown)
            p.setFont(self.font())
        p.end()


# -- the answers' bar chart ---------------------------------------------------------------


class AnswerBars(QWidget):
    """The groups as bars: each distinct final answer and how many samples gave it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("answerBars")
        self.setAccessibleName("Answers by number of samples")
        self._rows: list[tuple[str, int, bool]] = []  # answer, count, majority
        self._total = 1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_result(self, result: GroupResult) -> None:
        self._rows = [
            (
                plain_math(g.answer),
                g.count,
                result.majority is not None and g.answer == result.majority,
            )
            for g in result.groups
        ]
        if unanswered := len(result.unanswered):
            self._rows.append(("(no answer)", unanswered, False))
        self._total = max(1, len(result.answers))
        self.setAccessibleDescription(
            "; ".join(f"{a}: {c} of {self._total}" for a, c, _ in self._rows)
        )
        self.setFixedHeight(self._row_height() * max(1, len(self._rows)) + 4)
        self.update()

    def rows(self) -> list[tuple[str, int]]:
        """(answer, count) per bar, top to bottom."""
        return [(answer, count) for answer, count, _ in self._rows]

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 8

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(360, self._row_height() * max(1, len(self._rows)) + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        text, muted, accent, faint = _colours(self.palette())
        fm = self.fontMetrics()
        row_h = self._row_height()
        widest = max((fm.horizontalAdvance(a) for a, _, _ in self._rows), default=0)
        label_w = min(widest + 12, max(60, self.width() * 2 // 5))
        count_w = fm.horizontalAdvance(" 8 of 8") + 8
        bar_room = max(10, self.width() - label_w - count_w)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, (answer, count, majority) in enumerate(self._rows):
            top = 2 + i * row_h
            p.setPen(text if majority else muted)
            shown = fm.elidedText(answer, Qt.TextElideMode.ElideRight, label_w - 10)
            align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
            p.drawText(QRectF(0, top, label_w - 10, row_h), align, shown)
            width = max(4.0, bar_room * count / self._total)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(accent if majority else QColor(mix(faint, muted, 0.55)))
            p.drawRoundedRect(QRectF(label_w, top + 3, width, row_h - 6), 3, 3)
            p.setPen(text if majority else muted)
            p.drawText(
                QRectF(label_w + width + 6, top, count_w, row_h),
                Qt.AlignmentFlag.AlignVCenter,
                f"{count} of {self._total}",
            )
        p.end()


# -- an advantage as a signed bar -----------------------------------------------------------


class SignedBar(QWidget):
    """A value around zero: a bar to the right (green) or left (red) of a centre line, and
    the value written beside it ("+0.71")."""

    BAR_W = 84

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Advantage")
        self.value = 0.0
        self.scale = 1.0
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(self.sizeHint())

    def set_value(self, value: float, scale: float) -> None:
        """``scale``: the largest magnitude in the group (it fills half the bar)."""
        self.value, self.scale = value, max(scale, 1e-9)
        self.setAccessibleDescription(self.text())
        self.setToolTip(
            f"Advantage {self.text()}: how much better than the group's average this sample "
            "scored (GRPO: reward minus the mean, over the spread)"
        )
        self.update()

    def text(self) -> str:
        return f"{self.value:+.2f}".replace("-", "−")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        fm = self.fontMetrics()
        return QSize(self.BAR_W + fm.horizontalAdvance("+8.88") + 10, fm.height() + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        text, muted, _accent, faint = _colours(self.palette())
        h = self.height()
        centre = self.BAR_W / 2
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(faint)
        p.drawRoundedRect(QRectF(0, 3, self.BAR_W, h - 6), 2, 2)
        length = centre * min(1.0, abs(self.value) / self.scale)
        if length >= 0.5:
            p.setBrush(POSITIVE if self.value > 0 else NEGATIVE)
            left = centre if self.value > 0 else centre - length
            p.drawRoundedRect(QRectF(left, 3, length, h - 6), 2, 2)
        p.setPen(muted)
        p.drawLine(int(centre), 1, int(centre), h - 1)
        p.setPen(text)
        p.drawText(
            QRectF(self.BAR_W + 6, 0, self.width() - self.BAR_W - 6, h),
            Qt.AlignmentFlag.AlignVCenter,
            self.text(),
        )
        p.end()


# -- thumbs ------------------------------------------------------------------------------

_THUMB = (
    "M7.5 10.5 L12 3.8 C12.8 2.7 14.6 3.3 14.4 4.7 L13.7 9 H19.3 C20.8 9 21.9 10.4 21.5 11.8 "
    "L19.6 19.3 C19.3 20.3 18.4 21 17.4 21 H7.5 Z M2 10.5 H5.5 V21 H2 Z"
)


def thumb_icon(up: bool, off: QColor, on: QColor, size: int = 16) -> QIcon:
    """A thumb up (or down) drawn in ``off``, and in ``on`` when its button is checked."""
    icon = QIcon()
    for colour, state in ((off, QIcon.State.Off), (on, QIcon.State.On)):
        turn = "" if up else ' transform="rotate(180 12 12)"'
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
            f'<path d="{_THUMB}" fill="{colour.name()}"{turn}/></svg>'
        )
        ratio = 2  # drawn at twice the size: sharp on high-DPI screens too
        pixmap = QPixmap(size * ratio, size * ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        QSvgRenderer(QByteArray(svg.encode())).render(painter)
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        icon.addPixmap(pixmap, QIcon.Mode.Normal, state)
    return icon
