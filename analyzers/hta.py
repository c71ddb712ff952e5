"""HTA's own figures, recomputed from skiprof's tables so users can compare like with like.

Holistic Trace Analysis (HTA 0.5) computes its temporal breakdown, when the trace has steps, over
device activities launched before the last ProfilerStep (it leaves the final, often cut-off, step
out, and activities it cannot place in a step) and
works in whole µs, moving each start up and each end down. skiprof's own GPU idle figure uses
the SKIP paper's latency window instead (launch.summary); both are shown side by side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _intervals as iv
from ._view import View

__all__ = ["TemporalBreakdown", "temporal_breakdown"]


@dataclass(frozen=True)
class TemporalBreakdown:
    """HTA-style shares of the device window (fractions of window_ns)."""

    window_ns: int
    idle_share: float
    compute_share: float
    non_compute_share: float
    excluded_last_step: bool


def temporal_breakdown(view: View) -> TemporalBreakdown:
    """Idle / compute / non-compute shares in HTA's window and rounding."""
    k = view.kernels
    is_step = view.regions["kind"].eq("step")
    cut = int(is_step.sum()) >= 2
    if cut:
        # A step's work is whatever its host side launched (device work lags the host); activities
        # with no launch cannot be placed in a step, and HTA leaves them out too.
        last = view.regions["ts"][is_step].max()
        k = k.take((k["launch_id"] >= 0) & (k["launch_ts"] < last))
    if not len(k):
        return TemporalBreakdown(0, 0.0, 0.0, 0.0, cut)
    start = (np.ceil(k["ts"] / 1000) * 1000).astype(np.int64)
    end = np.maximum((np.floor((k["ts"] + k["dur"]) / 1000) * 1000).astype(np.int64), start)
    lo, hi = int(start.min()), int(end.max())
    window = hi - lo
    if window <= 0:
        return TemporalBreakdown(0, 0.0, 0.0, 0.0, cut)
    busy = iv.union(start, end)
    compute = k["kind"].eq("kernel")
    comp = iv.union(start[compute], end[compute])
    # HTA counts memcpy/memset time not hidden under kernels as non-compute.
    non = iv.subtract(iv.union(start[~compute], end[~compute]), comp)
    return TemporalBreakdown(window, 1 - iv.total(busy) / window, iv.total(comp) / window, iv.total(non) / window, cut)
