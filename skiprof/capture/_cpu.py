"""CPU time of the workload's main thread, sampled during capture.

The trace records what the host did inside ops; between ops it says nothing. Whether the main
thread spent that time running Python (host overhead) or waiting (sleep, blocking I/O, a lock, a
queue: idle) is told by how much CPU time it used meanwhile. A daemon thread reads the main
thread's CPU clock every PERIOD_S; the phase breakdown splits the gaps between ops with it
(docs/metrics.md, "Phase breakdown").
"""
from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["CpuSampler", "cpu_counter_events", "COUNTER", "PERIOD_S"]

PERIOD_S = 0.01
#: Counter name in the counters table (cumulative CPU ns of the sampled thread).
COUNTER = "main_thread_cpu_ns"


class CpuSampler:
    """Samples the calling thread's CPU clock from a daemon thread (Linux and other POSIX systems)."""

    def __init__(self, period: float = PERIOD_S) -> None:
        self.period = period
        self.samples: list[tuple[int, int]] = []  # (unix ns, thread CPU ns)
        self.native_id = threading.get_native_id()
        self.available = False
        self._clock: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling the main thread's CPU time, where this platform has per-thread CPU clocks."""
        try:
            self._clock = time.pthread_getcpuclockid(threading.get_ident())
            time.clock_gettime_ns(self._clock)
        except (AttributeError, OSError):  # no per-thread CPU clocks here: the split falls back to host overhead
            return
        self.available = True
        self._thread = threading.Thread(target=self._run, name="skiprof-cpu", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._clock is not None
        while not self._stop.is_set():
            try:
                cpu = time.clock_gettime_ns(self._clock)
            except OSError:  # the thread is gone
                return
            self.samples.append((time.time_ns(), cpu))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def cpu_counter_events(samples: list[tuple[int, int]], base_ns: int, pid: int, tid: int) -> list[dict[str, Any]]:
    """Samples as Chrome-trace counter events on the Kineto clock (ts in µs after ``base_ns``)."""
    return [{"ph": "C", "name": "skiprof.cpu", "pid": pid, "tid": tid, "ts": (t - base_ns) / 1000.0,
             "args": {COUNTER: cpu}} for t, cpu in samples]
