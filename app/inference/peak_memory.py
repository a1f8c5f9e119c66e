"""Peak memory of an engine process during a benchmark load and replies."""

from __future__ import annotations

import contextlib
import threading

import psutil

from app.hardware.probe import HardwareSnapshot

SAMPLE_INTERVAL_S = 0.05


class PeakMemory:
    """Samples a process's resident memory (and its VRAM, where NVML can say) in a thread.

    Sampling catches the peak during load, which is larger than what stays resident after;
    50 ms is short next to a load and costs nothing measurable. Not ``hardware.monitor.
    Sampler``: that one also reads the machine's CPU % (a process-wide psutil baseline that
    20 readings a second would reset under the window's own monitor) and RAM.
    """

    def __init__(self, pid: int, measure_vram: bool) -> None:
        self.pid = pid
        self.peak_ram: int | None = None
        self.peak_vram: int | None = None
        self._stop = threading.Event()
        self._nvml: list[object] = []
        self._nvml_open = False
        if measure_vram:
            self._open_nvml()
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)

    def _open_nvml(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # no driver, no library: VRAM stays unknown
            return
        self._nvml_open = True
        with contextlib.suppress(pynvml.NVMLError):
            self._nvml = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]

    def _vram(self) -> int | None:
        import pynvml

        used = None
        for handle in self._nvml:
            with contextlib.suppress(pynvml.NVMLError):
                for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    if p.pid == self.pid and p.usedGpuMemory is not None:
                        used = (used or 0) + int(p.usedGpuMemory)
        return used

    def _loop(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while True:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                break  # the process ended
            self.peak_ram = max(self.peak_ram or 0, rss)
            vram = self._vram() if self._nvml else None
            if vram is not None:
                self.peak_vram = max(self.peak_vram or 0, vram)
            if self._stop.wait(SAMPLE_INTERVAL_S):
                break

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._nvml_open:  # initialised, even if listing the GPUs then failed
            import pynvml

            with contextlib.suppress(pynvml.NVMLError):
                pynvml.nvmlShutdown()


def vram_note(hw: HardwareSnapshot) -> str:
    """Why peak VRAM cannot be measured here ("" when it can)."""
    if hw.backend == "CPU":
        return "not measured: llama.cpp here runs on the CPU only."
    if not any(g.vendor == "nvidia" for g in hw.gpus):
        if any(g.unified for g in hw.gpus):
            return "not measured separately: the GPU shares RAM (counted in peak RAM)."
        return "not measured: per-process GPU memory is known only for NVIDIA GPUs (NVML)."
    return ""
