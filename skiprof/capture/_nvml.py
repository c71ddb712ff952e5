"""Background NVML sampling during capture (utilization, memory, clocks, power, PCIe).

Quietly does nothing when the ``pynvml`` module (from nvidia-ml-py) or an
NVIDIA driver is missing: CPU-only machines must not see an error for it.
"""
from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["NvmlSampler", "counter_events"]

PERIOD_S = 0.05


class NvmlSampler:
    """Samples every visible GPU every ``period`` seconds on a daemon thread."""

    def __init__(self, period: float = PERIOD_S, nvml: Any = None) -> None:
        self.period = period
        self.samples: list[tuple[int, int, dict[str, float]]] = []  # (unix ns, device, values)
        self.available = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml = nvml
        self._handles: list[Any] = []

    def start(self) -> None:
        """Open NVML and its devices; without a driver or library, sampling stays off."""
        try:
            if self._nvml is None:
                import pynvml  # type: ignore[import-untyped]

                self._nvml = pynvml
            self._nvml.nvmlInit()
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:  # no driver, no library, no GPU: sampling is optional
            return
        if not self._handles:
            return
        self.available = True
        self._thread = threading.Thread(target=self._run, name="skiprof-nvml", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.available:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time_ns()
            for i, h in enumerate(self._handles):
                values = self._read(h)
                if values:
                    self.samples.append((now, i, values))
            self._stop.wait(self.period)

    def _read(self, h: Any) -> dict[str, float]:
        """One sample of a device's counters; a counter the device does not support is left out."""
        nv = self._nvml
        out: dict[str, float] = {}
        readers = {
            "gpu_util_pct": lambda: nv.nvmlDeviceGetUtilizationRates(h).gpu,
            "mem_util_pct": lambda: nv.nvmlDeviceGetUtilizationRates(h).memory,
            "mem_used_bytes": lambda: nv.nvmlDeviceGetMemoryInfo(h).used,
            "sm_clock_mhz": lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM),
            "power_w": lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
            # NVML reports PCIe throughput in KB/s.
            "pcie_tx_bytes_s": lambda: nv.nvmlDeviceGetPcieThroughput(h, nv.NVML_PCIE_UTIL_TX_BYTES) * 1024.0,
            "pcie_rx_bytes_s": lambda: nv.nvmlDeviceGetPcieThroughput(h, nv.NVML_PCIE_UTIL_RX_BYTES) * 1024.0,
        }
        for key, read in readers.items():
            try:
                out[key] = float(read())
            except Exception:  # a counter this GPU does not support
                continue
        return out


def counter_events(samples: list[tuple[int, int, dict[str, float]]], base_ns: int) -> list[dict[str, Any]]:
    """Samples as Chrome-trace counter events on the Kineto clock (ts in µs after ``base_ns``)."""
    return [
        {"ph": "C", "name": "skiprof.nvml", "pid": f"GPU {dev}", "tid": 0,
         "ts": (t - base_ns) / 1000.0, "args": {"device": dev, **vals}}
        for t, dev, vals in samples
    ]
