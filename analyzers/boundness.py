"""CPU-bound or GPU-bound, per step and per time window, with the evidence; HTA-style idle attribution.

Rule (docs/metrics.md, "Boundness"): in a stretch with device work,
  GPU-bound  when queue_share >= 0.5 (kernels mostly wait behind earlier work on their stream),
  CPU-bound  when queue_share < 0.2 and gpu_idle_share >= 0.3 (the GPU idles waiting for launches),
  mixed      otherwise;
where queue_share = sum(queue_ns) / sum(launch_queue_ns) of the kernels launched in the stretch and
gpu_idle_share = 1 - (device busy time inside the stretch) / (stretch length).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._view import View
from .launch import per_activity

__all__ = ["label", "per_step", "per_window", "idle_attribution", "GPU_BOUND_QUEUE", "CPU_BOUND_QUEUE",
           "CPU_BOUND_IDLE", "KERNEL_WAIT_NS"]

GPU_BOUND_QUEUE = 0.5
CPU_BOUND_QUEUE = 0.2
CPU_BOUND_IDLE = 0.3
#: Gaps up to this long between back-to-back kernels count as launch overhead ("kernel wait").
KERNEL_WAIT_NS = 30_000


def label(queue_share: float, idle_share: float, kernels: int) -> str:
    """cpu-bound | gpu-bound | mixed | no-gpu-work, from the two shares."""
    if kernels == 0:
        return "no-gpu-work"
    if queue_share >= GPU_BOUND_QUEUE:
        return "gpu-bound"
    if queue_share < CPU_BOUND_QUEUE and idle_share >= CPU_BOUND_IDLE:
        return "cpu-bound"
    return "mixed"


def _stretches(view: View, bounds: list[tuple[int, int]], names: list[str], per: pd.DataFrame) -> pd.DataFrame:
    k = view.kernels
    busy = iv.union(k["ts"].to_numpy(), (k["ts"] + k["dur"]).to_numpy())
    kern = per[per["kind"] == "kernel"]
    lts = kern["launch_ts"].to_numpy()
    rows = []
    for name, (lo, hi) in zip(names, bounds):
        sel = (lts >= lo) & (lts < hi)
        lq = int(kern["launch_queue_ns"].to_numpy()[sel].sum())
        q = int(kern["queue_ns"].to_numpy()[sel].sum())
        n = int(sel.sum())
        length = hi - lo
        b = iv.total(iv.clip(busy, lo, hi))
        qs = q / lq if lq else 0.0
        idle = 1 - b / length if length > 0 else 0.0
        rows.append({
            "stretch": name, "start_ns": lo, "end_ns": hi, "kernels": n,
            "launch_ns_per_kernel": (lq - q) / n if n else 0.0, "queue_ns_per_kernel": q / n if n else 0.0,
            "queue_share": qs, "gpu_busy_ns": b, "gpu_idle_share": idle, "label": label(qs, idle, n),
        })
    return pd.DataFrame(rows, columns=["stretch", "start_ns", "end_ns", "kernels", "launch_ns_per_kernel",
                                       "queue_ns_per_kernel", "queue_share", "gpu_busy_ns", "gpu_idle_share", "label"])


def per_step(view: View, per: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per ProfilerStep / skiprof.step() in view."""
    steps = view.regions[view.regions["kind"] == "step"].sort_values("ts")
    per = per_activity(view) if per is None else per
    bounds = [(int(a), int(a + d)) for a, d in zip(steps["ts"], steps["dur"])]
    return _stretches(view, bounds, [f"step {s}" for s in steps["step"]], per)


def per_window(view: View, windows: int = 10, per: pd.DataFrame | None = None) -> pd.DataFrame:
    """The view's span cut into ``windows`` equal stretches."""
    lo, hi = view.span()
    per = per_activity(view) if per is None else per
    if hi <= lo:
        return _stretches(view, [], [], per)
    edges = np.linspace(lo, hi, windows + 1).astype(np.int64)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    return _stretches(view, bounds, [f"window {i}" for i in range(windows)], per)


def idle_attribution(view: View) -> pd.DataFrame:
    """Idle gaps between consecutive activities on each stream, by cause (HTA's three categories).

    host_wait:   the next activity's launch call started only after the stream went idle;
    kernel_wait: it was launched earlier and the gap is at most KERNEL_WAIT_NS (launch overhead);
    other:       the rest (event waits, cross-stream syncs, activities without a launch).
    """
    k = view.kernels.sort_values(["device", "stream", "ts"])
    rows = []
    for (dev, stream), g in k.groupby(["device", "stream"], sort=True):
        end = np.maximum.accumulate((g["ts"] + g["dur"]).to_numpy())
        ts = g["ts"].to_numpy()
        gap = ts[1:] - end[:-1]
        has = gap > 0
        lts = g["launch_ts"].to_numpy()[1:]
        linked = g["launch_id"].to_numpy()[1:] >= 0
        host = has & linked & (lts >= end[:-1])
        kern = has & linked & ~host & (gap <= KERNEL_WAIT_NS)
        other = has & ~host & ~kern
        total = int(gap[has].sum())
        for cat, m in (("host_wait", host), ("kernel_wait", kern), ("other", other)):
            ns = int(gap[m].sum())
            rows.append({"device": int(dev), "stream": int(stream), "category": cat, "idle_ns": ns,
                         "share": ns / total if total else 0.0})
    return pd.DataFrame(rows, columns=["device", "stream", "category", "idle_ns", "share"])
