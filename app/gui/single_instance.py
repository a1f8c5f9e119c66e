"""One Ponder per data folder: a second start brings the running window forward.

Two copies on one database would fight: each start marks the other's streaming reply
interrupted and purges chats the other still offers to undelete, and two engines would hold
the model in memory twice. The first copy holds a lock file in its data folder and listens
on a local socket named after that folder; a second copy finds the lock taken, connects,
and waits for the first to answer that it showed its window. A lock left by a crashed copy
is stale (its process is gone) and is taken over, as is the socket file it left.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

LOCK_NAME = "ponder.lock"
# A first copy that has just taken the lock may still be opening its window (its event
# loop, which answers, is not running yet): a second start waits this long for the answer.
ANSWER_TIMEOUT_MS = 15_000
CONNECT_TRIES = 30  # ... and keeps trying to connect, 100 ms apart, while it starts to listen
_SHOWN = b"shown\n"


class SingleInstance(QObject):
    """Holds the data folder's lock; ``activated`` fires when another start asks to show.

    Signals:
        activated(): a second Ponder was started on the same data folder.
    """

    activated = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.lock_path = data_dir / LOCK_NAME
        self._lock = QLockFile(str(self.lock_path))
        # Only a dead owner makes the lock stale, never its age: Ponder runs for days.
        self._lock.setStaleLockTime(0)
        where = f"{Path.home()}\0{data_dir.resolve()}"
        self.server_name = f"ponder-{hashlib.sha256(where.encode()).hexdigest()[:16]}"
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """Take the lock and listen for later starts; False when another copy holds it."""
        if not self._lock.tryLock(0):
            if self._lock.error() == QLockFile.LockError.LockFailedError:
                return False
            # The folder cannot hold a lock file (read-only, odd filesystem): better one
            # unguarded copy than none at all.
            error = self._lock.error()
            log.warning("no lock in %s (%s); opening without one", self.data_dir, error)
            return True
        self._listen()
        return True

    def take_over(self) -> None:
        """The user chose to open anyway (the holder is hung, or the lock was left by a
        copy on another computer sharing this folder): remove the lock and take it."""
        self._lock.removeStaleLockFile()
        if self._lock.tryLock(0):
            self._listen()
        else:
            log.warning("could not take over %s; opening without it", self.lock_path)

    def _listen(self) -> None:
        QLocalServer.removeServer(self.server_name)  # a socket file left by a crash
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.server_name):
            # Still the only copy (we hold the lock); a later start just cannot wake us.
            log.warning("cannot listen on %s: %s", self.server_name, server.errorString())
            server.deleteLater()
            return
        server.newConnection.connect(self._on_connection)
        self._server = server

    def owner_pid(self) -> int | None:
        """The process id of the copy holding the lock, when the lock file says."""
        try:  # QLockFile writes the owner's process id on the first line
            pid = int(self.lock_path.read_text(encoding="utf-8").split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if pid > 0 else None

    def notify_running(self) -> bool:
        """Ask the copy holding the lock to show its window; True once it says it did."""
        socket = QLocalSocket(self)
        try:
            for _ in range(CONNECT_TRIES):
                socket.connectToServer(self.server_name)
                if socket.waitForConnected(1000):
                    break
                time.sleep(0.1)
            else:
                return False
            answer = b""
            deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
            while not answer.endswith(b"\n") and time.monotonic() < deadline:
                left = int((deadline - time.monotonic()) * 1000)
                if not socket.waitForReadyRead(max(left, 1)) and not socket.bytesAvailable():
                    break
                answer += bytes(socket.readAll().data())
            return answer == _SHOWN
        finally:
            socket.abort()
            socket.deleteLater()

    def release(self) -> None:
        """Stop listening and drop the lock (at quit; the next start takes it at once)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            # Any connection to this user-only socket is a second start: no request to
            # parse. Answer once the window was asked to show, then hang up.
            socket.disconnected.connect(socket.deleteLater)
            log.info("another start of Ponder asked for the window")
            self.activated.emit()
            socket.write(_SHOWN)
            socket.disconnectFromServer()
