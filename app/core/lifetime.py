"""Child processes end with the app, whatever they are doing.

A killed app (SIGKILL, a crash, the OOM killer) runs no clean-up, so each child Ponder
starts watches its parent itself: the engine mid-load or mid-prompt, the math renderer.
A thread polls the parent's id (on POSIX a child whose parent died is re-parented, so
``getppid()`` changes; elsewhere the parent's pid stops existing) and ends the process.
Threads run while native code computes (ctypes releases the GIL), so this also ends an
engine deep in llama.cpp.
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_S = 0.25


def _parent_alive(parent_pid: int) -> bool:
    if sys.platform == "win32":
        import psutil

        return psutil.pid_exists(parent_pid)
    return os.getppid() == parent_pid


def exit_with_parent(parent_pid: int, poll_s: float = POLL_S) -> None:
    """End this process (exit code 0, no clean-up) within ``poll_s`` of the parent's death."""

    def watch() -> None:
        while _parent_alive(parent_pid):
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
