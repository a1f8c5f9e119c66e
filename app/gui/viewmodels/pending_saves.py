"""Finished replies the database refused (a full disk, a lock): kept, and saved later.

The chat keeps a reply on screen whatever the disk says; this keeps its final form and
writes it as soon as the database takes it, retrying on a timer (and once more at quit).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer

from app.core.store import ChatStore, MessageState, SaveError

log = logging.getLogger(__name__)

_Final = tuple[str, str, MessageState, dict[str, object]]


class PendingSaves(QObject):
    """Replies waiting to be written, oldest first; GUI thread only."""

    def __init__(self, store: ChatStore, retry_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._waiting: dict[int, _Final] = {}
        self._retry = QTimer(self, interval=retry_ms)
        self._retry.timeout.connect(self.flush)

    def put(
        self, mid: int, content: str, reasoning: str, state: MessageState, stats: dict[str, object]
    ) -> bool:
        """Save reply ``mid`` now, or keep it for later; True when it is saved."""
        self._waiting[mid] = (content, reasoning, state, stats)
        self.flush()
        return mid not in self._waiting

    def waiting(self, mid: int) -> bool:
        """Whether reply ``mid``'s final form is still waiting to be written."""
        return mid in self._waiting

    def drop(self, mid: int) -> None:
        """A newer version of ``mid`` was saved: the one waiting is out of date."""
        self._waiting.pop(mid, None)

    def flush(self) -> None:
        """Write what waits; retry later if the database still refuses."""
        for mid, (content, reasoning, state, stats) in list(self._waiting.items()):
            try:
                self.store.finish_message(mid, content, reasoning, state, stats)
            except SaveError as exc:
                log.warning("reply %d not saved: %s", mid, exc.message)
                break
            del self._waiting[mid]
        if self._waiting:
            self._retry.start()
        else:
            self._retry.stop()
