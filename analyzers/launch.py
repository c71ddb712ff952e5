"""Launch and queue time per device activity, and the run-level SKIP metrics (TKLQT, AKD, IL, idle).

Definitions and sources: docs/metrics.md, "Launch and queue".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skiprof._domain import API_KINDS, LAUNCH_KINDS

from . import _intervals as iv
from ._activity import activity_columns
from ._cols import Cols
from ._frame import frame
from ._view import View

__all__ = ["per_activity", "activity_columns", "summary", "LaunchSummary", "LAUNCH_KINDS", "top_level_mask",
           "carries_launch"]


def per_activity(view: View) -> Any:
    """One row per linked device activity with its launch/queue split (all ns), as a DataFrame.

    launch_queue_ns = max(ts - launch_ts, 0)                              (SKIP's t_l)
    queue_ns        = clip(min(ts, prev_end) - launch_end, 0, launch_queue_ns)
    launch_ns       = launch_queue_ns - queue_ns
    launch_delay_ns = max(ts - launch_end, 0)                              (HTA's launch delay)
    where prev_end is the latest end of earlier activities on the same device and stream. Activities
    of a graph launch after its first (``graph_member``) carry none of these: they are 0.
    """
    return frame(view.per)


def carries_launch(per: dict[str, Any]) -> np.ndarray:
    """Rows whose wait counts in TKLQT: kernels of ordinary launches, and the first activity of each graph launch."""
    first_of_graph = (per["launch_kind"] == "graph") & ~per["graph_member"]
    return (per["kind"].eq("kernel") & ~per["graph_member"]) | first_of_graph


@dataclass(frozen=True)
class LaunchSummary:
    """Run-level figures of one view (ns unless named otherwise)."""

    kernels: int
    activities: int
    linked_kernels: int
    orphan_kernels: int
    tklqt_ns: int
    queue_ns: int
    launch_ns: int
    launch_delay_hta_ns: int
    akd_ns: float
    il_ns: int
    il_start_ns: int
    il_end_ns: int
    gpu_busy_ns: int
    gpu_idle_ns: int
    gpu_utilization: float
    kernels_per_s: float
    launch_calls: int
    launch_call_ns: int
    graph_launches: int
    graph_member_activities: int
    graph_member_ns: int
    top_level_ops: int
    launches_per_top_op: float
    launch_api_ns: int
    framework_ns: int
    clipped_activities: int


def top_level_mask(ops: Cols) -> np.ndarray:
    """cpu_ops with no cpu_op above them."""
    return ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0)


def summary(view: View, per: Any = None) -> LaunchSummary:
    """TKLQT, AKD, IL, GPU busy/idle and the host cost of launching for one view."""
    per = view.per
    k, ops, la = view.kernels, view.ops, view.launches
    is_kernel = k["kind"].eq("kernel")
    carry = carries_launch(per)
    top = top_level_mask(ops)
    lo, hi = view.span()
    il = view.il_ns
    busy = iv.intersect_total(view.scope, iv.union(k["ts"], k["ts"] + k["dur"]))
    calls = la["kind"].isin(LAUNCH_KINDS)
    api = la["kind"].isin(API_KINDS)
    # Framework time: top-level ops that launched device work, less the API calls made inside them.
    launching = top & np.isin(ops["op_id"], la["top_op_id"][api])
    api_in = api & np.isin(la["top_op_id"], ops["op_id"][launching])
    member = per["graph_member"]
    n_kernels = int(is_kernel.sum())
    return LaunchSummary(
        kernels=n_kernels,
        activities=len(k),
        linked_kernels=int((is_kernel & (k["launch_id"] >= 0)).sum()),
        orphan_kernels=int((is_kernel & (k["launch_id"] < 0)).sum()),
        tklqt_ns=int(per["launch_queue_ns"][carry].sum()),
        queue_ns=int(per["queue_ns"][carry].sum()),
        launch_ns=int(per["launch_ns"][carry].sum()),
        launch_delay_hta_ns=int(per["launch_delay_ns"][carry].sum()),
        akd_ns=float(k["dur"][is_kernel].mean()) if n_kernels else 0.0,
        il_ns=il, il_start_ns=lo, il_end_ns=hi,
        gpu_busy_ns=busy,
        gpu_idle_ns=il - busy,
        gpu_utilization=busy / il if il else 0.0,
        kernels_per_s=n_kernels / (il / 1e9) if il else 0.0,
        launch_calls=int(calls.sum()),
        launch_call_ns=int(la["dur"][calls].sum()),
        graph_launches=int(la["kind"].eq("graph").sum()),
        graph_member_activities=int(member.sum()),
        graph_member_ns=int(per["dur"][member].sum()),
        top_level_ops=int(top.sum()),
        launches_per_top_op=int(calls.sum()) / int(top.sum()) if top.any() else 0.0,
        launch_api_ns=int(la["dur"][api].sum()),
        framework_ns=int(ops["dur"][launching].sum() - la["dur"][api_in].sum()),
        clipped_activities=int(per["clipped"].sum()),
    )
