"""HTA's own figures, recomputed from skiprof's tables so users can compare like with like.

Holistic Trace Analysis (HTA 0.5) computes its temporal breakdown, when the trace has steps, over
device activities launched before the last ProfilerStep (it leaves the final, often cut-off, step
out, and activities it cannot place in a step) and
works in whole µs, moving each start up and each end down. skiprof's own GPU idle figure uses
the SKIP paper's latency window instead (launch.summary); both are shown side by side.
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._result import Figure, Figures, Note, Result, Section

from . import _intervals as iv
from ._options import Options
from ._view import View

__all__ = ["TemporalBreakdown", "temporal_breakdown", "HtaResult", "run"]


class TemporalBreakdown(msgspec.Struct, frozen=True):
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


class HtaResult(Result, msgspec.Struct, frozen=True):
    """HTA's temporal breakdown beside skiprof's own figures."""

    breakdown: TemporalBreakdown

    name = "hta"
    schema = "skiprof.hta/2"
    title = "For comparison: HTA's temporal breakdown"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, **msgspec.structs.asdict(self.breakdown)}

    def sections(self) -> list[Section]:
        b = self.breakdown
        if not b.window_ns:
            return []
        return [Figures(self.title, (Figure("window", b.window_ns, "ns"), Figure("idle", b.idle_share, "share"),
                                     Figure("compute", b.compute_share, "share"),
                                     Figure("non-compute", b.non_compute_share, "share"))),
                Note("HTA's window leaves out the last step and rounds to whole µs; skiprof's GPU busy share above "
                     "uses the whole scope (docs/metrics.md).")]


def run(view: View, options: Options) -> HtaResult:
    """HTA's temporal breakdown of a view."""
    return HtaResult(temporal_breakdown(view))
