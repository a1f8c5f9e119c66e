"""Small parts of a chat message: the thinking panel (with finding in it), tool buttons,
the "Copied" confirmation.

``message_widgets.AssistantMessage`` assembles a reply from these; the question is
``question.UserMessage``.
"""

from __future__ import annotations

from math import ceil

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QPalette,
    QTextCharFormat,
    QTextCursor,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

PEEK_LINES = 6  # live reasoning shows its last few lines


COPIED_MS = 1500  # how long "Copied" stays beside a Copy button or link


def confirm_copied(button: QToolButton) -> None:
    """Say "Copied" on the link that was clicked, for a moment (where the user looks)."""
    label = button.property("restText") or button.text()
    button.setProperty("restText", label)
    button.setText("Copied ✓")
    timer = button.findChild(QTimer, "copiedTimer")
    if timer is None:
        timer = QTimer(button, singleShot=True, interval=COPIED_MS)
        timer.setObjectName("copiedTimer")
        timer.timeout.connect(lambda: button.setText(str(button.property("restText"))))
    timer.start()


def tool_button(text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class ThoughtText(QTextEdit):
    """The reasoning's text, with no scroll bar of its own once the thought is finished.

    Live, it is a peek of ``PEEK_LINES`` lines that follows the end. Finished, it is as tall
    as its text at the current width (like an answer), so the chat scrolls and nothing
    scrolls inside it; its height follows the document's, which Qt lays out again when the
    width changes.
    """

    find_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingBody")
        self.setAccessibleName("Reasoning")
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)  # the panel's background shows through
        self.document().setUndoRedoEnabled(False)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.peek = False

    def set_peek(self, peek: bool) -> None:
        self.peek = peek
        self._fit()
        if peek:
            self.follow_end()

    def follow_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def full_height(self) -> int:
        margins = self.contentsMargins()
        return ceil(self.document().size().height()) + margins.top() + margins.bottom()

    def _fit(self) -> None:
        if self.peek:
            margins = self.contentsMargins()
            doc = self.document()
            height = PEEK_LINES * self.fontMetrics().lineSpacing() + 2 * doc.documentMargin()
            height = min(ceil(height) + margins.top() + margins.bottom(), self.full_height())
        else:
            height = self.full_height()
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)
        if not self.peek:
            self.verticalScrollBar().setValue(0)

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        e.ignore()  # the chat scrolls, not the thought

    def event(self, e: QEvent) -> bool:
        # Ctrl+F in the thought finds in the thought, not in the window's chat list.
        if (
            e.type() == QEvent.Type.ShortcutOverride
            and isinstance(e, QKeyEvent)
            and e.matches(QKeySequence.StandardKey.Find)
        ):
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if e.matches(QKeySequence.StandardKey.Find):
            self.find_requested.emit()
        else:
            super().keyPressEvent(e)


class ThinkingPanel(QFrame):
    """The chain of thought: a live peek while the model reasons, then folded away; opened
    again, the whole thought in place, with a "Collapse" at its end as well.

    Signals:
        answer_now(): the user asked to stop thinking and answer.
        folding(bool): the user is opening (True) or closing (False) the panel; sent before
            it changes, so that the chat can keep the header where it is on screen.
    """

    answer_now = Signal()
    folding = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingPanel")
        self.toggle = QToolButton()
        self.toggle.setObjectName("thinkingToggle")
        self.toggle.setAccessibleName("Show or hide the reasoning")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        head = self._head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.toggle)
        head.addStretch(1)
        self._answer_now: QPushButton | None = None  # built for a live reply
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.setSpacing(2)
        self._layout.addLayout(head)
        self.toggle.toggled.connect(self._on_toggled)
        self._live = False
        # The text view is built the first time the panel opens: most stored replies are
        # never unfolded, and a chat opens faster without them.
        self._body: ThoughtText | None = None
        self._foot: ThoughtFoot | None = None
        self._chunks: list[str] = []
        self._shown_match = -1

    @property
    def answer_now_button(self) -> QPushButton:
        """At the right of the header while the model thinks (a stored reply has none)."""
        if self._answer_now is None:
            button = self._answer_now = QPushButton("Answer now")
            button.setAccessibleName("Answer now")
            button.setToolTip("Stop thinking and write the answer from here")
            button.hide()
            button.clicked.connect(self.answer_now)
            self._head.addWidget(button)
        return self._answer_now

    @property
    def body(self) -> ThoughtText:
        if self._body is None:
            body = ThoughtText()
            body.find_requested.connect(self.open_find)
            body.setPlainText("".join(self._chunks))
            self._layout.addWidget(body)  # parent first: a parentless show() opens a window
            body.setVisible(self.is_open())
            self._body = body
            self._apply_live()
        return self._body

    @property
    def foot(self) -> ThoughtFoot:
        """The line at the end of an opened thought: its size, finding, and "Collapse"."""
        if self._foot is None:
            foot = self._foot = ThoughtFoot(self)
            self._layout.addWidget(foot)
            foot.collapse_button.clicked.connect(lambda: self.toggle.setChecked(False))
            foot.find_field.textChanged.connect(self._mark_matches)
            foot.find_field.returnPressed.connect(self.find_next)
            foot.find_field.installEventFilter(self)
            foot.hide()
        return self._foot

    def open_find(self) -> None:
        """Ctrl+F in an opened thought: the find field at its end, ready for typing."""
        if not self.is_open() or self._live:
            return
        foot = self.foot
        foot.find_field.show()
        foot.found.show()
        foot.find_field.setFocus()
        foot.find_field.selectAll()
        self._mark_matches(foot.find_field.text())

    def close_find(self) -> None:
        if self._foot is None:
            return
        self._foot.find_field.clear()
        self._foot.find_field.hide()
        self._foot.found.hide()
        if self._body is not None:
            self._body.setFocus()

    def eventFilter(self, watched: QObject, e: QEvent) -> bool:  # noqa: N802 (Qt API)
        if (
            self._foot is not None
            and watched is self._foot.find_field
            and isinstance(e, QKeyEvent)
            and e.key() == Qt.Key.Key_Escape
        ):
            if e.type() == QEvent.Type.ShortcutOverride:
                e.accept()  # Esc closes the find field, not what the window does with it
                return True
            if e.type() == QEvent.Type.KeyPress:
                self.close_find()
                return True
        return super().eventFilter(watched, e)

    def _matches(self, needle: str) -> list[QTextCursor]:
        if not needle or self._body is None:
            return []
        doc, found = self._body.document(), []
        cursor = doc.find(needle)
        while not cursor.isNull():
            found.append(cursor)
            cursor = doc.find(needle, cursor)
        return found

    def _mark_matches(self, needle: str) -> None:
        """Every match highlighted; the count beside the field."""
        body, matches = self.body, self._matches(needle)
        highlight = QTextCharFormat()
        highlight.setBackground(self.palette().color(QPalette.ColorRole.Highlight).lighter(170))
        marks = []
        for cursor in matches:
            mark = QTextEdit.ExtraSelection()
            mark.cursor, mark.format = cursor, highlight
            marks.append(mark)
        body.setExtraSelections(marks)
        self._shown_match = -1
        if self._foot is not None:
            self._foot.found.setText(f"{len(matches):,} found" if needle else "")

    def find_next(self) -> None:
        """Select the next match and bring it into view (the chat scrolls to it)."""
        needle = self.foot.find_field.text()
        matches = self._matches(needle)
        if not matches:
            return
        self._shown_match = (self._shown_match + 1) % len(matches)
        cursor = matches[self._shown_match]
        self.body.setTextCursor(cursor)
        self.foot.found.setText(f"{self._shown_match + 1:,} of {len(matches):,}")
        self._reveal(self.body.cursorRect(cursor))

    def _reveal(self, rect: QRect) -> None:
        area = self.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        canvas = area.widget() if area is not None else None
        if area is None or canvas is None:
            return
        at = self.body.viewport().mapTo(canvas, rect.center())
        area.ensureVisible(at.x(), at.y(), 0, max(60, area.viewport().height() // 3))

    def set_text(self, text: str) -> None:
        self._chunks = [text] if text else []
        if self._body is not None:
            self._body.setPlainText(text)
        if self._foot is not None:
            self._foot.describe(text)
            if self._foot.find_field.isVisible():  # (another version's thought)
                self._mark_matches(self._foot.find_field.text())

    def append(self, text: str) -> None:
        if not text:
            return
        self._chunks.append(text)
        if self._body is None:
            return
        cursor = QTextCursor(self._body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if self._live:
            self._body.follow_end()

    def has_text(self) -> bool:
        return bool(self._chunks)  # only non-empty text is kept

    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def set_live(self, live: bool, open_: bool) -> None:
        self._live = live
        if live or self._answer_now is not None:
            self.answer_now_button.setVisible(live)
        self.toggle.blockSignals(True)  # the program folds it, not the user
        self.toggle.setChecked(open_)
        self.toggle.blockSignals(False)
        self._show_open(open_)

    def _apply_live(self) -> None:
        if self._body is not None:
            self._body.set_peek(self._live)
        if self.is_open() and not self._live:
            self.foot.describe(self.text())
            self.foot.show()
        elif self._foot is not None:
            self._foot.hide()

    def set_title(self, text: str) -> None:
        self.toggle.setText(text)

    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def _on_toggled(self, checked: bool) -> None:
        self.folding.emit(checked)
        self._show_open(checked)

    def _show_open(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        if open_:
            self.body.show()  # built on first use
        elif self._body is not None:
            self._body.hide()
        self._apply_live()


class ThoughtFoot(QWidget):
    """Under an opened thought: how long it is, and a way to fold it from its end."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingFoot")
        self.outline = QLabel()
        self.outline.setObjectName("thinkingOutline")
        self.outline.setAccessibleName("Reasoning length")
        self.collapse_button = tool_button(
            "Collapse", "Collapse the reasoning", "Fold the reasoning away"
        )
        self.collapse_button.setObjectName("thinkingCollapse")
        self.find_field = QLineEdit()
        self.find_field.setObjectName("thinkingFind")
        self.find_field.setAccessibleName("Find in the reasoning")
        self.find_field.setPlaceholderText("Find in the reasoning")
        self.find_field.setClearButtonEnabled(True)
        self.find_field.setMaximumWidth(260)
        self.find_field.hide()
        self.found = QLabel()
        self.found.setObjectName("thinkingOutline")
        self.found.setAccessibleName("Matches")
        self.found.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 0, 0)  # in line with the text (its document margin)
        row.addWidget(self.outline, 1)
        row.addWidget(self.find_field)
        row.addWidget(self.found)
        row.addWidget(self.collapse_button)
        self._described: str | None = None

    def describe(self, text: str) -> None:
        if text is self._described:
            return
        self._described = text
        words = len(text.split())
        steps = sum(1 for part in text.split("\n\n") if part.strip())
        parts = [f"{words:,} word" + ("" if words == 1 else "s")]
        if steps > 1:
            parts.append(f"{steps:,} steps")
        self.outline.setText(" · ".join(parts))
