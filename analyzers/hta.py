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
    steps = view.regions[view.regions["kind"] == "step"]
    cut = len(steps) >= 2
    if cut:
        # A step's work is whatever its host side launched (device work lags the host); activities
        # with no launch cannot be placed in a step, and HTA leaves them out too.
        k = k[(k["launch_id"] >= 0) & (k["launch_ts"] < steps["ts"].max())]
    if k.empty:
        return TemporalBreakdown(0, 0.0, 0.0, 0.0, cut)
    start = np.ceil(k["ts"].to_numpy() / 1000) * 1000
    end = np.floor((k["ts"] + k["dur"]).to_numpy() / 1000) * 1000
    end = np.maximum(end, start)
    lo, hi = int(start.min()), int(end.max())
    window = hi - lo
    busy = iv.union(start.astype(np.int64), end.astype(np.int64))
    compute = k["kind"].to_numpy() == "kernel"
    comp = iv.union(start[compute].astype(np.int64), end[compute].astype(np.int64))
    # HTA counts memcpy/memset time not hidden under kernels as non-compute.
    non = iv.subtract(iv.union(start[~compute].astype(np.int64), end[~compute].astype(np.int64)), comp)
    if window <= 0:
        return TemporalBreakdown(0, 0.0, 0.0, 0.0, cut)
    return TemporalBreakdown(window, 1 - iv.total(busy) / window, iv.total(comp) / window, iv.total(non) / window, cut)
