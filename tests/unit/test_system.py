"""Which backend llama.cpp was built with, known without loading llama.cpp (the window's
process plans models with it and must never load llama.cpp)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

ASK = """
import sys
from app.inference.system import accelerator_backend, machine_snapshot
snapshot = machine_snapshot()
print(accelerator_backend(), snapshot.backend, "llama_cpp" in sys.modules)
"""


def test_the_backend_is_known_without_loading_llama_cpp() -> None:
    out = subprocess.run(
        [sys.executable, "-c", ASK], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    from app.inference.backends.llama import compiled_backends  # loads it, here only

    accel = [b for b in compiled_backends() if b != "CPU"]
    assert out == [accel[0] if accel else "CPU", accel[0] if accel else "CPU", "False"]
