"""The "Think N ways" part of a reply: live lanes while the samples think, then the vote,
the answers' bar chart and one row per sample (its answer, reward and advantage, thumbs,
its full thinking and answer, and "Use this answer").

``AssistantMessage`` holds one for a group reply; the chosen sample's thinking and answer
stay in the reply's own thinking panel and answer view below it, as in any reply.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import stats_text
from app.core.events import GenerationStats, LiveStats
from app.core.group_reply import GroupReply, GroupSample, plain_math
from app.core.grouping import final_answer
from app.gui.render.math import MathRenderer
from app.gui.style import mix
from app.gui.views.group_charts import (
    NEGATIVE,
    POSITIVE,
    AnswerBars,
    GroupLanes,
    SignedBar,
    thumb_icon,
)
from app.gui.views.markdown_view import MarkdownView
from app.gui.views.message_parts import ThinkingPanel, tool_button


class _Elided(QLabel):
    """A one-line label that ends in "…" when its column is too narrow."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(30)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.width()
        )
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)
        p.end()


class SampleDetail(QFrame):
    """A sample's full thinking and answer, under its row."""

    def __init__(self, sample: int, math: MathRenderer | None, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("sampleDetail")
        self.thinking = ThinkingPanel()
        self.answer = MarkdownView(math=math)
        self.answer.setAccessibleName(f"Sample {sample + 1}'s answer")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 2, 4, 8)
        layout.setSpacing(4)
        layout.addWidget(self.thinking)
        layout.addWidget(self.answer)


class SampleRow:
    """The widgets of one sample's row in the table (and its detail, built on first Show)."""

    def __init__(self, index: int, table: SampleTable) -> None:
        self.index = index
        self.table = table
        self.name = QLabel(f"Sample {index + 1}")
        self.name.setObjectName("sampleName")
        self.answer = _Elided()
        self.answer.setObjectName("sampleAnswer")
        self.answer.setAccessibleName(f"Sample {index + 1}'s final answer")
        self.reward = QLabel()
        self.reward.setObjectName("sampleReward")
        self.advantage = SignedBar()
        self.up = self._thumb(True)
        self.down = self._thumb(False)
        self.show = tool_button("Show", f"Show sample {index + 1}", "Show its thinking and answer")
        self.show.setCheckable(True)
        self.use = QPushButton("Use this answer")
        self.use.setObjectName("useSample")
        self.use.setAccessibleName(f"Use sample {index + 1}'s answer")
        self.use.setToolTip(
            "Make this sample's answer the reply: the one the conversation carries on with"
        )
        self.chosen = QLabel("The reply")
        self.chosen.setObjectName("sampleChosen")
        self.detail: SampleDetail | None = None
        self.sample = GroupSample()

    def _thumb(self, up: bool) -> QToolButton:
        which = "up" if up else "down"
        button = tool_button(
            "",
            f"Thumbs {which} for sample {self.index + 1}",
            "Thumbs up: this answer is right (reward 1)"
            if up
            else "Thumbs down: this answer is wrong (reward 0)",
        )
        button.setCheckable(True)
        palette = self.table.palette()
        text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
        muted = QColor(mix(text, base, 0.45))
        button.setIcon(thumb_icon(up, muted, POSITIVE if up else NEGATIVE))
        return button

    def widgets(self) -> list[QWidget]:
        return [self.name, self.answer, self.reward, self.advantage, self.up, self.down]

    def set(
        self,
        sample: GroupSample,
        *,
        reward: int,
        advantage: float,
        scale: float,
        vote: bool | None,
        chosen: bool,
    ) -> None:
        self.sample = sample
        final = final_answer(sample.answer)
        self.answer.setText(plain_math(final) if final is not None else "no answer")
        self.answer.setToolTip(final or "This sample wrote no answer")
        self.answer.setEnabled(final is not None)
        self.reward.setText(f"reward {reward}" + (" (your vote)" if vote is not None else ""))
        self.advantage.set_value(advantage, scale)
        for button, on in ((self.up, vote is True), (self.down, vote is False)):
            button.blockSignals(True)
            button.setChecked(on)
            button.blockSignals(False)
        self.use.setVisible(not chosen)
        self.use.setEnabled(bool(sample.answer.strip()))
        self.chosen.setVisible(chosen)
        if self.detail is not None:
            self._fill_detail()

    def toggle_detail(self, shown: bool) -> None:
        if shown and self.detail is None:
            self.detail = self.table.make_detail(self.index)
            self._fill_detail()
        if self.detail is not None:
            self.detail.setVisible(shown)
        self.show.setText("Hide" if shown else "Show")

    def _fill_detail(self) -> None:
        assert self.detail is not None
        thinking, answer, s = self.detail.thinking, self.detail.answer, self.sample
        thinking.setVisible(bool(s.reasoning))
        thinking.set_text(s.reasoning)
        stats = s.stats or GenerationStats()
        thinking.set_title(
            stats_text.thinking_done(stats.reasoning_s, stats.reasoning_tokens, stats.decode_tok_s)
        )
        thinking.set_live(False, True)
        answer.set_markdown(s.answer or "*No answer.*")


class SampleTable(QWidget):
    """One row per sample, in a grid so that the columns line up.

    Signals:
        use_requested(int): "Use this answer" on a sample.
        vote_requested(int, object): a thumbs up (True), down (False) or the vote withdrawn
            (None) for a sample.
    """

    use_requested = Signal(int)
    vote_requested = Signal(int, object)

    def __init__(self, math: MathRenderer | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sampleTable")
        self.math = math
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        self.rows: list[SampleRow] = []
        self._votes: dict[int, bool] = {}

    def set_group(self, group: GroupReply) -> None:
        result = group.result()
        scale = max((abs(a) for a in result.advantages), default=1.0) or 1.0
        while len(self.rows) < len(group.samples):
            self._add_row()
        self._votes = dict(group.votes)
        for i, sample in enumerate(group.samples):
            self.rows[i].set(
                sample,
                reward=result.rewards[i],
                advantage=result.advantages[i],
                scale=scale,
                vote=group.votes.get(i),
                chosen=i == group.chosen,
            )

    def _add_row(self) -> None:
        row = SampleRow(len(self.rows), self)
        at = 2 * row.index  # the detail goes in the grid row below
        for column, widget in enumerate(row.widgets()):
            self.grid.addWidget(widget, at, column)
        self.grid.addWidget(row.show, at, 6)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(row.use)
        actions.addWidget(row.chosen)
        self.grid.addLayout(actions, at, 7)
        i = row.index
        row.show.toggled.connect(row.toggle_detail)
        row.use.clicked.connect(lambda _=False: self.use_requested.emit(i))
        row.up.clicked.connect(lambda on: self._vote(i, True if on else None))
        row.down.clicked.connect(lambda on: self._vote(i, False if on else None))
        self.rows.append(row)

    def _vote(self, sample: int, vote: bool | None) -> None:
        self.vote_requested.emit(sample, vote)
        # Shown as saved: a vote the database refused springs back (a saved one has
        # already come back through set_group by now).
        row = self.rows[sample]
        saved = self._votes.get(sample)
        for button, on in ((row.up, saved is True), (row.down, saved is False)):
            button.blockSignals(True)
            button.setChecked(on)
            button.blockSignals(False)

    def make_detail(self, sample: int) -> SampleDetail:
        detail = SampleDetail(sample, self.math, self)
        self.grid.addWidget(detail, 2 * sample + 1, 0, 1, 8)
        return detail


class GroupPanel(QFrame):
    """Live lanes, then the vote, the chart and the samples.

    Signals:
        use_requested(int), vote_requested(int, object): see ``SampleTable``.
        answer_now(): stop every sample's thinking and have each write its answer.
    """

    use_requested = Signal(int)
    vote_requested = Signal(int, object)
    answer_now = Signal()

    def __init__(
        self,
        asked: int,
        started: float,
        math: MathRenderer | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("groupPanel")
        self.setAccessibleName("Samples")
        self.asked = asked
        self.toggle = QToolButton()
        self.toggle.setObjectName("thinkingToggle")
        self.toggle.setAccessibleName("Show or hide the samples")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.setText(f"Thinking {asked} ways…")
        self.answer_now_button = QPushButton("Answer now")
        self.answer_now_button.setAccessibleName("Answer now")
        self.answer_now_button.setToolTip(
            "Stop every sample's thinking and have each write its answer from there"
        )
        self.vote = QLabel()
        self.vote.setObjectName("groupVote")
        self.vote.setAccessibleName("Vote")
        self.vote.setTextFormat(Qt.TextFormat.PlainText)
        self.vote.setWordWrap(True)
        self.lanes = GroupLanes(asked, started)
        self.bars = AnswerBars()
        self.table = SampleTable(math)
        self.choice = QLabel()
        self.choice.setObjectName("groupChoice")
        self.choice.setWordWrap(True)
        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 2, 0, 2)
        details.setSpacing(6)
        details.addWidget(self.bars)
        details.addWidget(self.table)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        head.addWidget(self.vote, 1)
        head.addWidget(self.answer_now_button, 0, Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.lanes)
        layout.addWidget(self.details)
        layout.addWidget(self.choice)
        self.details.hide()
        self.choice.hide()
        self.vote.hide()
        self.toggle.toggled.connect(self._on_toggled)
        self.table.use_requested.connect(self.use_requested)
        self.table.vote_requested.connect(self.vote_requested)
        self.answer_now_button.clicked.connect(self.answer_now)
        self._live = True

    # -- live -------------------------------------------------------------------------

    def seed(self, group: GroupReply) -> None:
        """The samples' text so far (a chat reopened while its group streams)."""
        for i, sample in enumerate(group.samples):
            if sample.reasoning or sample.answer:
                self.lanes.seed(i, sample.reasoning, sample.answer)
            if sample.stats is not None:
                self.lanes.finish_sample(i, sample.stats)

    def add_reasoning(self, sample: int, text: str) -> None:
        self.lanes.add_reasoning(sample, text)

    def add_answer(self, sample: int, text: str) -> None:
        self.lanes.add_answer(sample, text)

    def set_progress(self, stats: LiveStats) -> None:
        self.lanes.set_progress(stats)

    def finish_sample(self, sample: int, stats: GenerationStats) -> None:
        self.lanes.finish_sample(sample, stats)

    def flush(self) -> None:
        if not self._live:
            return
        self.lanes.flush()
        if self.answer_now_button.isVisible() and not any(
            lane.stats is None and not lane.answer for lane in self.lanes.lanes
        ):
            self.answer_now_button.hide()  # every sample is answering: nothing to cut short

    # -- done -------------------------------------------------------------------------

    def show_group(self, group: GroupReply) -> None:
        """The group as it ended (or as it now stands: another choice, a vote)."""
        self._live = False
        self.lanes.hide()
        self.answer_now_button.hide()
        result = group.result()
        n = len(group.samples)
        self.toggle.setText(f"Thought {n} ways")
        vote = result.summary()
        if result.majority is not None:
            vote += f": {plain_math(result.majority)}"
        self.vote.setText(vote)
        self.vote.show()
        self.bars.set_result(result)
        self.table.set_group(group)
        self.details.setVisible(self.toggle.isChecked())
        first = result.groups[0].samples[0] if result.groups else None
        which = f"sample {group.chosen + 1}'s answer"
        if not group.reply.answer.strip():
            self.choice.setText("No sample wrote an answer.")
        elif group.chosen == first and result.majority is not None:
            self.choice.setText(f"The reply below is {which}, from the majority.")
        elif group.chosen == first:
            self.choice.setText(f"The reply below is {which}, from the largest group.")
        else:
            self.choice.setText(f"The reply below is {which}, as you chose.")
        self.choice.show()

    def _on_toggled(self, checked: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        if self._live:
            self.lanes.setVisible(checked)
        else:
            self.details.setVisible(checked)
