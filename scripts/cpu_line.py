#!/usr/bin/env python3
"""One line naming this CPU and the instruction sets llama.cpp's CPU code cares about.

`make test` prints it first: the build machines differ (some Xeons have AMX, some CPUs no
AVX-512), and a failure report should say which one ran.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

WANTED = ("sse4_2", "avx", "f16c", "fma", "avx2", "bmi2", "avx_vnni", "avx512f", "avx512bw",
          "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
          "amx_bf16", "neon", "asimd", "sve", "sve2", "sme")


def main() -> None:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in {"model name", "Model"} and value.strip():
                model = value.strip()
            elif key in {"flags", "Features"} and not flags:
                flags = set(value.split())
    except OSError:
        pass
    shown = " ".join(f for f in WANTED if f in flags) or "(flags not readable here)"
    print(f"ponder: CPU {model}, {os.cpu_count()} threads, {platform.machine()}: {shown}")


if __name__ == "__main__":
    main()
