"""Launch and queue time per device activity, and the run-level SKIP metrics (TKLQT, AKD, IL, idle).

Definitions and sources: docs/metrics.md, "Launch and queue".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _intervals as iv
from ._cols import Cols
from ._frame import frame
from ._view import View

__all__ = ["per_activity", "activity_columns", "summary", "LaunchSummary", "LAUNCH_KINDS"]

LAUNCH_KINDS = ("launch", "graph")
_KEEP = ["kernel_id", "name", "kind", "device", "stream", "ts", "dur", "launch_id", "launch_name", "launch_ts",
         "launch_dur", "op_id", "op_name", "top_op_id", "top_op_name"]


def _segment_prev_max(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the max of earlier values in the same group (NaN for a group's first row)."""
    out = np.full(len(values), np.nan)
    if not len(values):
        return out
    lo = values.min()
    span = float(values.max() - lo) + 1
    # Offsetting each group above the previous one keeps a running max from leaking across groups.
    _, g = np.unique(group, return_inverse=True)
    shifted = (values - lo).astype(np.float64) + g * span
    run = np.maximum.accumulate(shifted) - g * span + lo
    first = np.ones(len(values), bool)
    first[1:] = group[1:] != group[:-1]
    out[1:] = run[:-1]
    out[first] = np.nan
    return out


def activity_columns(view: View) -> dict[str, Any]:
    """per_activity as a dict of columns (numpy arrays and Codes), sorted by device, stream, ts."""
    k = view.kernels
    k = k.take(k["launch_id"] >= 0)
    order = np.lexsort((k["kernel_id"], k["ts"], k["stream"], k["device"]))
    k = k.take(order)
    out: dict[str, Any] = {c: k[c] for c in _KEEP}
    ts, end = k["ts"], k["ts"] + k["dur"]
    key = k["device"].astype(np.int64) * (1 << 32) + k["stream"].astype(np.int64)
    prev_end = _segment_prev_max(end, key)
    launch_end = k["launch_ts"] + k["launch_dur"]
    raw = ts - k["launch_ts"]
    lq = np.maximum(raw, 0)
    has_prev = ~np.isnan(prev_end)
    blocked = np.where(has_prev, np.minimum(ts, np.nan_to_num(prev_end)), launch_end)
    queue = np.clip(blocked - launch_end, 0, lq).astype(np.int64)
    out["launch_end"] = launch_end
    out["prev_end_on_stream"] = np.where(has_prev, np.nan_to_num(prev_end), -1).astype(np.int64)
    out["launch_queue_ns"] = lq.astype(np.int64)
    out["queue_ns"] = queue
    out["launch_ns"] = (lq - queue).astype(np.int64)
    out["launch_delay_ns"] = np.maximum(ts - launch_end, 0).astype(np.int64)
    out["clipped"] = raw < 0
    return out


def per_activity(view: View) -> Any:
    """One row per linked device activity with its launch/queue split (all ns), as a DataFrame.

    launch_queue_ns = max(ts - launch_ts, 0)                              (SKIP's t_l)
    queue_ns        = clip(min(ts, prev_end) - launch_end, 0, launch_queue_ns)
    launch_ns       = launch_queue_ns - queue_ns
    launch_delay_ns = max(ts - launch_end, 0)                              (HTA's launch delay)
    where prev_end is the latest end of earlier activities on the same device and stream.
    """
    return frame(activity_columns(view))


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


def top_level_mask(ops: Cols) -> np.ndarray:
    """cpu_ops with no cpu_op above them."""
    return ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0)


def summary(view: View, per: Any = None) -> LaunchSummary:
    """TKLQT, AKD, IL, GPU busy/idle and the host cost of launching for one view."""
    per = per if isinstance(per, dict) else activity_columns(view)
    k, ops, la = view.kernels, view.ops, view.launches
    is_kernel = k["kind"].eq("kernel")
    pk = per["kind"].eq("kernel")
    top = top_level_mask(ops)
    ends = k["ts"] + k["dur"]
    if top.any():
        il_start = int(ops["ts"][top].min())
    elif len(ops):
        il_start = int(ops["ts"].min())
    else:
        il_start = int(k["ts"].min()) if len(k) else 0
    if len(k):
        il_end = int(ends.max())
    else:  # CPU-only: latency is the host span
        il_end = int((ops["ts"] + ops["dur"]).max()) if len(ops) else il_start
    il = max(il_end - il_start, 0)
    busy = iv.total(iv.clip(iv.union(k["ts"], ends), il_start, il_end))
    calls = la["kind"].isin(LAUNCH_KINDS)
    api = la["kind"].isin(LAUNCH_KINDS + ("memcpy", "memset"))
    # Framework time: top-level ops that launched device work, less the API calls made inside them.
    launching = top & np.isin(ops["op_id"], la["top_op_id"][api])
    api_in = api & np.isin(la["top_op_id"], ops["op_id"][launching])
    n_kernels = int(is_kernel.sum())
    return LaunchSummary(
        kernels=n_kernels,
        activities=len(k),
        linked_kernels=int((is_kernel & (k["launch_id"] >= 0)).sum()),
        orphan_kernels=int((is_kernel & (k["launch_id"] < 0)).sum()),
        tklqt_ns=int(per["launch_queue_ns"][pk].sum()),
        queue_ns=int(per["queue_ns"][pk].sum()),
        launch_ns=int(per["launch_ns"][pk].sum()),
        launch_delay_hta_ns=int(per["launch_delay_ns"][pk].sum()),
        akd_ns=float(k["dur"][is_kernel].mean()) if n_kernels else 0.0,
        il_ns=il, il_start_ns=il_start, il_end_ns=il_end,
        gpu_busy_ns=busy,
        gpu_idle_ns=il - busy,
        gpu_utilization=busy / il if il else 0.0,
        kernels_per_s=n_kernels / (il / 1e9) if il else 0.0,
        launch_calls=int(calls.sum()),
        top_level_ops=int(top.sum()),
        launches_per_top_op=int(calls.sum()) / int(top.sum()) if top.any() else 0.0,
        launch_api_ns=int(la["dur"][api].sum()),
        framework_ns=int(ops["dur"][launching].sum() - la["dur"][api_in].sum()),
        clipped_activities=int(per["clipped"].sum()),
    )
