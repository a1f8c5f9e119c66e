"""The compare view's results: a column per model (thinking folded, the answer rendered,
the checker's verdict) and the table of medians.

A column shows the model's last run: every run answers the same prompts with the same
seed, so the last one stands for them; the table and the charts carry the spread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.bench_report import BenchReport, GenerationRecord, ModelResult, median_table
from app.core.stats_text import SEP
from app.core.units import format_bytes, format_tokens
from app.gui.render.math import MathRenderer
from app.gui.views.compare_charts import model_colour
from app.gui.views.markdown_view import MarkdownView
from app.gui.views.message_parts import ThinkingPanel

COLUMN_MIN_WIDTH = 280
QUESTION_CHARS = 280  # a longer question is cut on the card, whole in its tooltip
CORRECT_COLOUR = "#2e7d32"
WRONG_COLOUR = "#d32f2f"


def verdict_text(gen: GenerationRecord) -> str:
    """What the checker said of one reply, for the mark beside its prompt. Without an
    answer key only a clearly final answer is named (boxed, or stated as the answer: the
    group-sampling reading, ``grouping.clear_final_answer``): a reply that only echoes
    "17*23" gave no answer, not "23"."""
    if gen.error:
        return f"✗ failed: {gen.error}"
    if gen.correct is None:
        if gen.final_answer:
            return f"answer: {gen.final_answer}"
        return "no clear final answer" if gen.answer_text.strip() else "no answer"
    return "✓ correct" if gen.correct else f"✗ {gen.check_detail or 'wrong'}"


def reply_stats(gen: GenerationRecord) -> str:
    parts = []
    if gen.decode_tok_s:
        parts.append(f"{gen.decode_tok_s:.1f} tok/s")
    parts.append(format_tokens(gen.reasoning_tokens + gen.answer_tokens))
    if why := STOP_WORDS.get(gen.stop_reason, gen.stop_reason):
        parts.append(why)
    return SEP.join(parts)


# How a reply ended, in words (eos, the usual end, goes unsaid).
STOP_WORDS = {
    "eos": "",
    "length": "cut off at the token limit",
    "stopped": "stopped",
    "think_budget": "thinking budget used up",
    "error": "failed",
}


class ReplyBlock(QFrame):
    """One prompt's reply in a column: prompt id and verdict, the question, thinking,
    answer."""

    def __init__(self, gen: GenerationRecord, question: str, math: MathRenderer | None) -> None:
        super().__init__()
        self.setObjectName("compareReply")
        self.gen = gen
        self.title = QLabel(f"<b>{gen.prompt_id}</b>")
        shown = " ".join(question.split())
        if len(shown) > QUESTION_CHARS:
            shown = shown[: QUESTION_CHARS - 1].rstrip() + "…"
        self.question = QLabel(shown)
        self.question.setObjectName("compareQuestion")
        self.question.setAccessibleName("Question")
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.question.setWordWrap(True)
        self.question.setToolTip(question)
        self.question.setStyleSheet("font-style: italic;")
        self.question.setVisible(bool(question))  # runs saved before questions were kept
        self.verdict = QLabel(verdict_text(gen))
        self.verdict.setObjectName("compareVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        if gen.correct is not None or gen.error:
            good = gen.correct and not gen.error
            self.verdict.setStyleSheet(f"color: {CORRECT_COLOUR if good else WRONG_COLOUR};")
        self.thinking = ThinkingPanel()
        tokens = format_tokens(gen.reasoning_tokens) if gen.reasoning_tokens else ""
        self.thinking.set_title(SEP.join(p for p in ("Thinking", tokens) if p))
        self.thinking.set_text(gen.reasoning_text)
        self.thinking.set_live(False, False)
        self.thinking.setVisible(bool(gen.reasoning_text))
        self.answer = MarkdownView(math=math)
        self.answer.set_markdown(gen.answer_text or "*(no answer text)*")
        self.stats = QLabel(reply_stats(gen))
        self.stats.setObjectName("messageStats")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.setSpacing(4)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.verdict, 1)
        layout.addLayout(head)
        layout.addWidget(self.question)
        layout.addWidget(self.thinking)
        layout.addWidget(self.answer)
        layout.addWidget(self.stats)


class ModelColumn(QFrame):
    """One model: name, file facts and accuracy, then its replies of the last run."""

    def __init__(
        self,
        result: ModelResult,
        index: int,
        palette: QPalette,
        math: MathRenderer | None,
        questions: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("compareColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(COLUMN_MIN_WIDTH)
        self.result = result
        colour = model_colour(palette, index).name()
        self.name = QLabel(result.name)
        self.name.setAccessibleName("Model name")
        self.name.setTextFormat(Qt.TextFormat.PlainText)
        self.name.setStyleSheet(f"font-weight: 600; border-left: 6px solid {colour};")
        self.name.setWordWrap(True)
        facts = [result.quantization, format_bytes(result.file_bytes), result.backend]
        correct, judged = result.accuracy()
        if judged:
            facts.append(f"{correct}/{judged} correct")
        self.facts = QLabel(SEP.join(f for f in facts if f))
        self.facts.setObjectName("messageStats")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.name)
        layout.addWidget(self.facts)
        self.replies: list[ReplyBlock] = []
        self.error: QLabel | None = None
        if result.error:
            self.error = QLabel(f"Failed: {result.error}")
            self.error.setWordWrap(True)
            self.error.setStyleSheet(f"color: {WRONG_COLOUR};")
            layout.addWidget(self.error)
        elif not result.runs:
            self.error = QLabel("No run finished (cancelled).")
            layout.addWidget(self.error)
        else:
            for gen in result.runs[-1].generations:
                block = ReplyBlock(gen, (questions or {}).get(gen.prompt_id, ""), math)
                self.replies.append(block)
                layout.addWidget(block)
        layout.addStretch(1)


class ResultsColumns(QScrollArea):
    """The models side by side, scrolling together."""

    def __init__(self, math: MathRenderer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareColumns")
        self.setAccessibleName("Answers side by side")
        self.setWidgetResizable(True)
        self.math = math
        self.columns: list[ModelColumn] = []
        self._empty = QLabel("Run a comparison or open a past run to see the answers here.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setObjectName("emptyChat")
        self.setWidget(self._empty)

    def show_report(self, report: BenchReport) -> None:
        """Show ``report``'s models. While a run goes on each finished model arrives in a
        longer report of the same results: only its new column is built (rendering every
        answer again per model would grow with the square of the models)."""
        shown = [c.result for c in self.columns]
        canvas = self.widget()
        layout = canvas.layout() if canvas is not None else None
        grows = len(report.models) >= len(shown) > 0 and all(
            a is b for a, b in zip(shown, report.models, strict=False)
        )
        if not (grows and isinstance(layout, QHBoxLayout)):
            canvas = QWidget()
            layout = QHBoxLayout(canvas)
            layout.setSpacing(8)
            self.columns = []
            self.setWidget(canvas)  # the old canvas and its columns are deleted with it
        for i in range(len(self.columns), len(report.models)):
            column = ModelColumn(report.models[i], i, self.palette(), self.math, report.prompts)
            self.columns.append(column)
            layout.addWidget(column, 1, Qt.AlignmentFlag.AlignTop)

    def clear(self) -> None:
        self.columns = []
        self._empty = QLabel("Run a comparison or open a past run to see the answers here.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setObjectName("emptyChat")
        self.setWidget(self._empty)


class MeasuresTable(QTableWidget):
    """Medians per model (speeds with their range), one row each, as ``median_table``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Measures")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def show_report(self, report: BenchReport) -> None:
        headers, rows = median_table(report)
        self.clear()
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setForeground(QColor(model_colour(self.palette(), r)))
                    item.setToolTip(report.models[r].path)
                elif c > 0:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(r, c, item)

    def fitting_height(self) -> int:
        """The height that shows every row without scrolling (and room for the scroll bar)."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        chrome = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        return rows + chrome + self.horizontalScrollBar().sizeHint().height()

    def cell_texts(self) -> list[list[str]]:
        """What the table shows, row by row (for copying and for checks)."""
        rows = []
        for r in range(self.rowCount()):
            items = [self.item(r, c) for c in range(self.columnCount())]
            rows.append([item.text() if item is not None else "" for item in items])
        return rows
