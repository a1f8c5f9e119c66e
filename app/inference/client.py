"""The engine client: Qt-free, used by the CLI directly and by the GUI from a QThread.

It starts the engine host in a spawned process on first use, sends requests, and turns
the replies into an iterator of events. If the process dies, the iterator ends with an
``engine_crashed`` error at once (the process sentinel wakes the wait), and the next
request starts a fresh process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from app.core.errors import EngineCrashedError
from app.core.events import (
    AnswerDelta,
    Done,
    EngineSilence,
    ErrorEvent,
    Event,
    GenerationStats,
    ReasoningDelta,
)
from app.inference import native
from app.inference.cpu_safety import CpuSafety
from app.inference.host import host_main
from app.inference.protocol import (
    ANSWER_NOW_SLOT,
    CANCEL_SLOT,
    CPU_VARIANT_SLOT,
    HEARTBEAT_SLOT,
    N_SLOTS,
    PHASE_IDLE,
    PHASE_PROVEN,
    PHASE_SLOT,
    PHASE_UNPROVEN,
    GenerateRequest,
    ModelSpec,
    SamplingParams,
    Shutdown,
)

log = logging.getLogger(__name__)

POLL_S = 0.25
# A responsive engine stops within a token (or a compute step of the prompt); one that does
# not within this long is loading a model (which cannot be interrupted) or hung: ended.
CANCEL_GRACE_S = 2.0
# No progress for this long while a reply runs: the engine is said not to respond. Long
# enough for one compute step of a prompt batch on a large model on CPU (about a second for
# a 70B layer), short enough that a user is not left staring at a frozen reply.
SILENCE_S = 8.0
# A CPU instruction this machine cannot run: illegal instruction, or a fault in the
# kernel's memory access (AMX tiles the OS has not enabled, a VM masking AVX-512).
_FAULT_SIGNALS = {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS}


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"signal {-code}"
        if sig is signal.SIGABRT:
            return "llama.cpp aborted"
        if sig is signal.SIGKILL:
            return "it was killed, possibly for lack of memory"
        if sig is signal.SIGSEGV:
            return "it crashed"
        return f"it received {sig.name}"
    return f"exit code {code}"


class EngineClient:
    """Talks to one engine process at a time.

    ``generate`` is meant for one worker thread; ``cancel`` and ``answer_now`` may be
    called from any thread while it runs.
    """

    def __init__(
        self,
        log_path: Path,
        cancel_grace_s: float = CANCEL_GRACE_S,
        cpu_safety: CpuSafety | None = None,
        silence_s: float = SILENCE_S,
    ) -> None:
        self._log_path = log_path
        self._cancel_grace_s = cancel_grace_s
        self._silence_s = silence_s
        self._silent = False  # the running reply's engine has stopped making progress
        self._cpu_safety = cpu_safety
        self._mp = mp.get_context("spawn")
        if wrapper := os.environ.get("PONDER_ENGINE_EXECUTABLE"):
            # Diagnostics: run the engine through a debugger or an emulator of an older CPU
            # (tests/integration/test_package.py runs it under `qemu-x86_64 -cpu Haswell`).
            self._mp.set_executable(wrapper)
        self._slots: Any = self._mp.RawArray(ctypes.c_longlong, N_SLOTS)
        self._proc: Any = None
        self._conn: Connection | None = None
        self._next_id = 0
        self._current = 0
        self._cancel_at: float | None = None
        self._lock = threading.Lock()
        # CPU libraries that faulted in this session (also remembered in cpu_safety once
        # the engine ran without them).
        self._excluded: set[str] = set()
        self._suspect: tuple[str, str] | None = None  # (library, signal) not yet confirmed

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def pid(self) -> int | None:
        """The engine process's id while it runs (any thread may ask: the monitor does)."""
        proc = self._proc  # read once: the engine thread may replace it meanwhile
        try:
            return proc.pid if proc is not None and proc.exitcode is None else None
        except ValueError:  # closed by the engine thread meanwhile (after it ended)
            return None

    def start(self) -> None:
        """Start the engine process if none is running (it also starts on demand)."""
        if self._proc is not None and self._proc.is_alive():
            return
        self._cleanup()
        excluded = set(self._excluded)
        if self._cpu_safety is not None:
            excluded.update(self._cpu_safety.excluded())
        self._slots[PHASE_SLOT] = PHASE_IDLE
        self._slots[CPU_VARIANT_SLOT] = 0
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(
            target=host_main,
            args=(child, self._slots, str(self._log_path), tuple(sorted(excluded)), os.getpid()),
            name="ponder-engine",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        log.info("engine process %d started", proc.pid)

    def generate(
        self,
        model: ModelSpec,
        messages: list[dict[str, str]],
        sampling: SamplingParams | None = None,
        raw_prompt: str | None = None,
        samples: int = 1,
    ) -> Iterator[Event]:
        """Yield the reply's events; the last one is ``Done`` or ``ErrorEvent``.

        ``samples > 1`` asks for a group: that many answers decoded together, their events
        tagged with the sample's index, each ending with ``SampleDone``.

        An engine that dies of a CPU fault before its first decode completes is restarted
        once without the CPU library that faulted, and the request sent again; the caller
        sees only a slower start.
        """
        with self._lock:
            self._next_id += 1
            rid = self._current = self._next_id
            self._cancel_at = None
        request = GenerateRequest(
            rid, model, messages, sampling or SamplingParams(), raw_prompt, samples
        )
        finished = shown = False
        try:
            for attempt in range(2):
                self.start()
                assert self._conn is not None and self._proc is not None
                conn, proc = self._conn, self._proc
                try:
                    conn.send(request)
                except (BrokenPipeError, OSError):
                    yield self._crashed()
                    return
                beat, beat_at, told = self._slots[HEARTBEAT_SLOT], time.monotonic(), 0
                while True:
                    ready = wait([conn, proc.sentinel], timeout=POLL_S)
                    now = time.monotonic()
                    if conn in ready or self._slots[HEARTBEAT_SLOT] != beat:
                        beat, beat_at, told = self._slots[HEARTBEAT_SLOT], now, 0
                        if self._silent:
                            self._silent = False
                            yield EngineSilence(0.0)
                    elif now - beat_at >= self._silence_s * (told + 1):
                        # Said once at the limit, then again each further period of silence.
                        told += 1
                        self._silent = True
                        log.warning("engine made no progress for %.0f s", now - beat_at)
                        yield EngineSilence(round(now - beat_at, 1))
                    if conn in ready:
                        try:
                            got, batch = conn.recv()
                        except (EOFError, OSError):
                            break  # died: handled below
                        if got != rid:
                            continue  # a late batch of an earlier, abandoned request
                        self._confirm_fault()
                        for event in batch:
                            finished = isinstance(event, Done | ErrorEvent)
                            shown = shown or isinstance(event, ReasoningDelta | AnswerDelta)
                            yield event
                            if finished:
                                return
                    elif proc.sentinel in ready:
                        break
                    elif (
                        stop_at := self._stop_asked_at()
                    ) is not None and time.monotonic() - stop_at > self._cancel_grace_s:
                        log.warning(
                            "engine did not stop within %.0f s; ending it",
                            self._cancel_grace_s,
                        )
                        # Killed, not asked: it did not answer the request to stop.
                        self.kill()
                        proc.join(timeout=3)
                        self._cleanup()
                        yield Done(GenerationStats(stop_reason="stopped"))
                        return
                if self._stop_asked_at() is not None:
                    # Ended on the user's Stop (a silent engine is killed, not waited for).
                    self._cleanup()
                    yield Done(GenerationStats(stop_reason="stopped"))
                    return
                if attempt == 0 and not shown and self._kernel_fault():
                    continue  # restarted without the faulting CPU library: ask again
                yield self._crashed()
                return
        finally:
            with self._lock:
                if not finished:
                    # The caller stopped listening (closed the iterator): stop the engine
                    # too, or the next request would wait behind an unwanted reply.
                    self._slots[CANCEL_SLOT] = rid
                self._current = 0
                self._silent = False

    def cancel(self) -> bool:
        """Stop the running reply (it ends with ``Done`` and ``stop_reason="stopped"``);
        an engine that does not stop within the grace period (say, mid-load) is terminated,
        and one that has stopped making progress is ended at once (it cannot read the
        request). False when no reply was running. Asking again does not restart the grace
        period."""
        with self._lock:
            if not self._current:
                return False
            self._slots[CANCEL_SLOT] = self._current
            if self._cancel_at is None:
                self._cancel_at = time.monotonic()
            silent = self._silent
        if silent:
            log.warning("stopping an engine that is not responding: ending its process")
            self.kill()
        return True

    def answer_now(self) -> None:
        """End the reasoning now and let the model write its answer."""
        with self._lock:
            if self._current:
                self._slots[ANSWER_NOW_SLOT] = self._current

    def _stop_asked_at(self) -> float | None:
        """When Stop was asked for the running reply; ``cancel()`` sets it from another
        thread while ``generate`` runs."""
        with self._lock:
            return self._cancel_at

    def kill(self) -> None:
        """Kill the engine process now, from any thread (quitting while it loads a model);
        a ``generate`` running on another thread sees it end and returns."""
        proc = self._proc
        with contextlib.suppress(ValueError):  # closed by the other thread meanwhile
            if proc is not None and proc.is_alive():
                proc.kill()

    def close(self) -> None:
        """Stop the engine process (politely, then firmly)."""
        if self._proc is None:
            return
        if self._proc.is_alive() and self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(Shutdown())
            self._proc.join(timeout=5)
        self._terminate()

    def _kernel_fault(self) -> bool:
        """After the engine died: was it a CPU library faulting before its first decode
        completed? If so, leave that library out of the next engine (True)."""
        proc = self._proc
        if proc is None:
            return False
        proc.join(timeout=1)
        code = proc.exitcode
        if code is None or -code not in _FAULT_SIGNALS:
            return False
        if self._slots[PHASE_SLOT] != PHASE_UNPROVEN:
            return False  # it had decoded: a crash like any other
        index = self._slots[CPU_VARIANT_SLOT] - 1
        variants = list(native.cpu_variants())
        if not 0 <= index < len(variants):
            return False  # one built-in CPU code: nothing lower to fall back to
        variant, sig = variants[index], signal.Signals(-code).name
        log.warning(
            "engine died of %s before its first decode with CPU library %s; "
            "restarting it without that library",
            sig,
            variant,
        )
        self._excluded.add(variant)
        self._suspect = (variant, sig)
        self._cleanup()
        return True

    def _confirm_fault(self) -> None:
        """The engine that left the faulting library out has decoded: remember the fault."""
        if self._suspect is None or self._slots[PHASE_SLOT] != PHASE_PROVEN:
            return
        variant, sig = self._suspect
        self._suspect = None
        index = self._slots[CPU_VARIANT_SLOT] - 1
        variants = list(native.cpu_variants())
        uses = variants[index] if 0 <= index < len(variants) else "another"
        if self._cpu_safety is not None:
            fault = self._cpu_safety.record(variant, uses, sig)
            log.warning("%s (remembered in %s)", fault.sentence(), self._cpu_safety.path)

    def _crashed(self) -> ErrorEvent:
        proc = self._proc
        if proc is not None:
            proc.join(timeout=1)
        reason = describe_exit(proc.exitcode if proc is not None else None)
        self._cleanup()
        crash = EngineCrashedError(
            f"The engine stopped unexpectedly ({reason}).",
            f"Your conversation is safe; send again to restart it. Details are in "
            f"{self._log_path}.",
        )
        return ErrorEvent(crash.kind, crash.message, crash.hint)

    def _terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=3)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and not self._proc.is_alive():
            self._proc.close()
        self._proc, self._conn = None, None
