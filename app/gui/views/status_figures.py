"""The status bar's two standing figures: the shown chat's reply speed, and memory.

The speed label follows the reply being written in the chat on screen ("Thinking · 12.4
tok/s · 310 tokens"), then keeps its final figures until another chat is opened: those are
that reply's, and next to another conversation they would read as its own.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar

from app.core.events import LiveStats
from app.core.store import MessageRow
from app.core.units import format_bytes, format_tokens
from app.gui.viewmodels.chat_controller import ChatController
from app.gui.workers.monitor_worker import MonitorWorker
from app.hardware.monitor import MonitorSample, summary_text


class StatusFigures(QObject):
    """Adds ``rate_label`` and ``memory_label`` to ``bar`` and keeps them current."""

    def __init__(self, bar: QStatusBar, controller: ChatController, monitor: MonitorWorker) -> None:
        super().__init__(bar)
        self.controller = controller
        self.rate_label = QLabel()
        self.rate_label.setAccessibleName("Generation speed")
        self.memory_label = QLabel()
        self.memory_label.setObjectName("statusMemory")  # ruled off from the speed
        self.memory_label.setAccessibleName("Memory use")
        bar.addPermanentWidget(self.rate_label)
        bar.addPermanentWidget(self.memory_label)
        self._rate_is_live = False  # rate_label shows a live reply's status
        controller.busy_changed.connect(self._on_busy)
        controller.live.connect(self._on_live)
        controller.reply_finished.connect(self._on_reply_finished)
        controller.conversation_opened.connect(self._on_conversation_opened)
        monitor.sampled.connect(self._on_sample)

    def _on_conversation_opened(self, _cid: int, _rows: list[object]) -> None:
        # The figures of a reply in the chat left behind; a live reply in the opened chat
        # says its own at its next update.
        if not self.controller.live_in_view:
            self.rate_label.setText("")

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self.rate_label.setText("Starting…")
        elif self._rate_is_live:  # the reply ended in a chat not shown: no final figures
            self.rate_label.setText("")
        self._rate_is_live = busy

    def _on_live(self, stats: LiveStats) -> None:
        what = "Thinking" if stats.reasoning else "Answering"
        rate = f" · {stats.decode_tok_s:.1f} tok/s" if stats.decode_tok_s else ""
        self.rate_label.setText(f"{what}{rate} · {format_tokens(stats.generated_tokens)}")

    def _on_reply_finished(self, row: MessageRow) -> None:
        self._rate_is_live = False
        figures = row.reply_stats.figures
        if row.state == "error" or figures is None or "decode_tok_s" not in (row.stats or {}):
            self.rate_label.setText("")
            return
        rate = f" · {figures.decode_tok_s:.1f} tok/s" if figures.decode_tok_s else ""
        tokens = format_tokens(figures.generated_tokens)
        self.rate_label.setText(f"{tokens}{rate} · {figures.backend}")

    def _on_sample(self, s: MonitorSample) -> None:
        """While a reply streams, the whole load (CPU, RAM, GPUs, engine); otherwise the
        two figures that decide whether a model fits: engine memory and free RAM."""
        if self.controller.busy:
            self.memory_label.setText(summary_text(s))
            return
        free = f"RAM free {format_bytes(s.ram_total - s.ram_used)}"
        self.memory_label.setText(
            f"Engine {format_bytes(s.engine_rss)} · {free}" if s.engine_rss else free
        )
