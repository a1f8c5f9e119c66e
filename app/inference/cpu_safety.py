"""CPU code that faults on this machine, remembered so later loads go straight around it.

A CPU can advertise instructions it cannot run: AMX under a hypervisor or kernel that has
not enabled its tile state (llama.cpp #28328, #26954), AVX-512 masked by a VM. llama.cpp
picks its CPU library by CPUID, so the engine dies of SIGILL on the first decode. The engine
client then restarts the engine once without that library (``app.inference.native``) and,
when the reply goes through, records it here: for this CPU and this llama.cpp build only,
since another build or machine may run it fine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from app.inference.native import build_id, describe_variant

log = logging.getLogger(__name__)

SCHEMA = 1


@cache
def machine_id() -> str:
    """This CPU: its model and the instruction sets it reports (a VM moved to another
    host, or a new kernel exposing more, is another machine)."""
    text = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        info = Path("/proc/cpuinfo").read_text(errors="replace")
        fields = dict(line.split(":", 1) for line in info.splitlines()[:40] if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        text = f"{fields.get('model name', text)}|{fields.get('flags', '')}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KernelFault:
    """One CPU library that faulted here, and the one the engine used instead."""

    variant: str
    uses: str
    signal: str
    when: str
    machine: str
    build: str

    def sentence(self) -> str:
        """'AMX kernels fault on this machine (SIGILL); Ponder uses AVX-512 instead.'"""
        return (
            f"{describe_variant(self.variant)} kernels fault on this machine ({self.signal}); "
            f"Ponder uses {describe_variant(self.uses)} instead."
        )


class CpuSafety:
    """The remembered faults, in a small JSON file in Ponder's data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> list[KernelFault]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [KernelFault(**entry) for entry in data.get("faults", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # A damaged file costs one more restart, never the engine.
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return []

    def faults(self) -> list[KernelFault]:
        """The faults recorded for this machine and this llama.cpp build."""
        here, build = machine_id(), build_id()
        return [f for f in self._read() if f.machine == here and f.build == build]

    def excluded(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.variant for f in self.faults()))

    def record(self, variant: str, uses: str, signal: str) -> KernelFault:
        fault = KernelFault(
            variant=variant,
            uses=uses,
            signal=signal,
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=machine_id(),
            build=build_id(),
        )
        kept = [
            f
            for f in self._read()
            if not (f.variant == variant and f.machine == fault.machine and f.build == fault.build)
        ]
        payload = {"schema": SCHEMA, "faults": [asdict(f) for f in [*kept, fault]]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            # Not remembered: the next start faults once more and recovers again.
            log.warning("could not remember the CPU fault in %s: %s", self.path, exc)
        return fault

    def clear(self) -> None:
        """Forget every fault (after a kernel or hypervisor update, say)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
