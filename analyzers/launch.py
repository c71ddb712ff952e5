"""Launch and queue time per device activity, and the run-level SKIP metrics (TKLQT, AKD, IL, idle).

Definitions and sources: docs/metrics.md, "Launch and queue".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._view import View

__all__ = ["per_activity", "summary", "LaunchSummary", "LAUNCH_KINDS"]

LAUNCH_KINDS = ("launch", "graph")


def per_activity(view: View) -> pd.DataFrame:
    """One row per linked device activity with its launch/queue split (all ns).

    launch_queue_ns = max(ts - launch_ts, 0)                              (SKIP's t_l)
    queue_ns        = clip(min(ts, prev_end) - launch_end, 0, launch_queue_ns)
    launch_ns       = launch_queue_ns - queue_ns
    launch_delay_ns = max(ts - launch_end, 0)                              (HTA's launch delay)
    where prev_end is the latest end of earlier activities on the same device and stream.
    """
    k = view.kernels
    k = k[k["launch_id"] >= 0]
    cols = ["kernel_id", "name", "kind", "device", "stream", "ts", "dur", "launch_id", "launch_name", "launch_ts",
            "launch_dur", "op_id", "op_name", "top_op_id", "top_op_name"]
    out = k[cols].sort_values(["device", "stream", "ts", "kernel_id"]).reset_index(drop=True)
    end = (out["ts"] + out["dur"]).to_numpy()
    key = out["device"].to_numpy() * (1 << 32) + out["stream"].to_numpy()
    # Latest end of everything before this activity on its stream (cumulative max within the stream).
    prev_end = pd.Series(end).groupby(key).cummax().groupby(key).shift(1).to_numpy()
    ts = out["ts"].to_numpy()
    launch_end = (out["launch_ts"] + out["launch_dur"]).to_numpy()
    raw = ts - out["launch_ts"].to_numpy()
    lq = np.maximum(raw, 0)
    blocked = np.where(np.isnan(prev_end), launch_end, np.minimum(ts, np.nan_to_num(prev_end, nan=0)))
    queue = np.clip(blocked - launch_end, 0, lq).astype(np.int64)
    out["launch_end"] = launch_end
    out["prev_end_on_stream"] = np.where(np.isnan(prev_end), -1, np.nan_to_num(prev_end, nan=-1)).astype(np.int64)
    out["launch_queue_ns"] = lq.astype(np.int64)
    out["queue_ns"] = queue
    out["launch_ns"] = (lq - queue).astype(np.int64)
    out["launch_delay_ns"] = np.maximum(ts - launch_end, 0).astype(np.int64)
    out["clipped"] = raw < 0
    return out


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
    top_level_ops: int
    launches_per_top_op: float
    launch_api_ns: int
    framework_ns: int
    clipped_activities: int
    hta_window_ns: int
    hta_idle_share: float


def _top_level_ops(view: View) -> pd.DataFrame:
    ops = view.ops
    return ops[(ops["cat"] == "cpu_op") & (ops["cpu_parent"] < 0)]


def summary(view: View, per: pd.DataFrame | None = None) -> LaunchSummary:
    """TKLQT, AKD, IL, GPU busy/idle and the host cost of launching for one view."""
    per = per_activity(view) if per is None else per
    k = view.kernels
    is_kernel = k["kind"] == "kernel"
    kper = per[per["kind"] == "kernel"]
    top = _top_level_ops(view)
    ends = (k["ts"] + k["dur"]).to_numpy()
    if len(top):
        il_start = int(top["ts"].min())
    elif len(view.ops):
        il_start = int(view.ops["ts"].min())
    else:
        il_start = int(k["ts"].min()) if len(k) else 0
    if len(k):
        il_end = int(ends.max())
    else:  # CPU-only: latency is the host span
        il_end = int((view.ops["ts"] + view.ops["dur"]).max()) if len(view.ops) else il_start
    il = max(il_end - il_start, 0)
    busy_iv = iv.union(k["ts"].to_numpy(), ends)
    busy = iv.total(iv.clip(busy_iv, il_start, il_end))
    hta_lo = int(k["ts"].min()) if len(k) else 0
    hta_hi = int(ends.max()) if len(k) else 0
    hta_window = hta_hi - hta_lo
    la = view.launches
    calls = la[la["kind"].isin(LAUNCH_KINDS)]
    api = la[la["kind"].isin(LAUNCH_KINDS + ("memcpy", "memset"))]
    # Framework time: top-level ops that launched device work, less the API calls made inside them.
    launching_tops = top[top["op_id"].isin(api["top_op_id"])]
    api_in_tops = api[api["top_op_id"].isin(launching_tops["op_id"])]
    return LaunchSummary(
        kernels=int(is_kernel.sum()),
        activities=len(k),
        linked_kernels=int((is_kernel & (k["launch_id"] >= 0)).sum()),
        orphan_kernels=int((is_kernel & (k["launch_id"] < 0)).sum()),
        tklqt_ns=int(kper["launch_queue_ns"].sum()),
        queue_ns=int(kper["queue_ns"].sum()),
        launch_ns=int(kper["launch_ns"].sum()),
        launch_delay_hta_ns=int(kper["launch_delay_ns"].sum()),
        akd_ns=float(k.loc[is_kernel, "dur"].mean()) if is_kernel.any() else 0.0,
        il_ns=il, il_start_ns=il_start, il_end_ns=il_end,
        gpu_busy_ns=busy,
        gpu_idle_ns=il - busy,
        gpu_utilization=busy / il if il else 0.0,
        kernels_per_s=int(is_kernel.sum()) / (il / 1e9) if il else 0.0,
        launch_calls=len(calls),
        top_level_ops=len(top),
        launches_per_top_op=len(calls) / len(top) if len(top) else 0.0,
        launch_api_ns=int(api["dur"].sum()),
        framework_ns=int(launching_tops["dur"].sum() - api_in_tops["dur"].sum()),
        clipped_activities=int(per["clipped"].sum()),
        hta_window_ns=hta_window,
        hta_idle_share=1 - iv.total(busy_iv) / hta_window if hta_window else 0.0,
    )
