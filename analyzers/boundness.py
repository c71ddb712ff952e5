"""CPU-bound or GPU-bound, per step and per time window, with the evidence; HTA-style idle attribution.

Rule (docs/metrics.md, "Boundness"): in a stretch with device work,
  GPU-bound  when queue_share >= 0.5 (kernels mostly wait behind earlier work on their stream),
  CPU-bound  when queue_share < 0.2 and gpu_idle_share >= 0.3 (the GPU idles waiting for launches),
  mixed      otherwise;
where queue_share = sum(queue_ns) / sum(launch_queue_ns) of the kernels launched in the stretch and
gpu_idle_share = 1 - (device busy time inside the stretch) / (stretch length).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _intervals as iv
from ._frame import frame
from ._view import View
from .launch import activity_columns

__all__ = ["label", "per_step", "per_window", "idle_attribution", "step_columns", "window_columns",
           "idle_columns", "GPU_BOUND_QUEUE", "CPU_BOUND_QUEUE", "CPU_BOUND_IDLE", "KERNEL_WAIT_NS"]

GPU_BOUND_QUEUE = 0.5
CPU_BOUND_QUEUE = 0.2
CPU_BOUND_IDLE = 0.3
#: Gaps up to this long between back-to-back kernels count as launch overhead ("kernel wait").
KERNEL_WAIT_NS = 30_000
_STRETCH = ["stretch", "start_ns", "end_ns", "kernels", "launch_ns_per_kernel", "queue_ns_per_kernel",
            "queue_share", "gpu_busy_ns", "gpu_idle_share", "label"]


def label(queue_share: float, idle_share: float, kernels: int) -> str:
    """cpu-bound | gpu-bound | mixed | no-gpu-work, from the two shares."""
    if kernels == 0:
        return "no-gpu-work"
    if queue_share >= GPU_BOUND_QUEUE:
        return "gpu-bound"
    if queue_share < CPU_BOUND_QUEUE and idle_share >= CPU_BOUND_IDLE:
        return "cpu-bound"
    return "mixed"


def _stretches(view: View, bounds: list[tuple[int, int]], names: list[str], per: dict[str, Any]) -> dict[str, Any]:
    k = view.kernels
    busy = iv.union(k["ts"], k["ts"] + k["dur"])
    kern = per["kind"].eq("kernel")
    lts, lq_all, q_all = per["launch_ts"][kern], per["launch_queue_ns"][kern], per["queue_ns"][kern]
    rows: dict[str, list[Any]] = {c: [] for c in _STRETCH}
    for name, (lo, hi) in zip(names, bounds):
        sel = (lts >= lo) & (lts < hi)
        lq, q, n = int(lq_all[sel].sum()), int(q_all[sel].sum()), int(sel.sum())
        length = hi - lo
        b = iv.total(iv.clip(busy, lo, hi))
        qs = q / lq if lq else 0.0
        idle = 1 - b / length if length > 0 else 0.0
        for c, v in zip(_STRETCH, (name, lo, hi, n, (lq - q) / n if n else 0.0, q / n if n else 0.0, qs, b, idle,
                                   label(qs, idle, n))):
            rows[c].append(v)
    return rows


def step_columns(view: View, per: Any = None) -> dict[str, Any]:
    """per_step as a dict of columns."""
    per = per if isinstance(per, dict) else activity_columns(view)
    r = view.regions
    steps = r.take(r["kind"].eq("step"))
    order = np.argsort(steps["ts"], kind="stable")
    bounds = [(int(steps["ts"][i]), int(steps["ts"][i] + steps["dur"][i])) for i in order]
    return _stretches(view, bounds, [f"step {int(steps['step'][i])}" for i in order], per)


def per_step(view: View, per: Any = None) -> Any:
    """One row per ProfilerStep / skiprof.step() in view (DataFrame)."""
    return frame(step_columns(view, per), _STRETCH)


def window_columns(view: View, windows: int = 10, per: Any = None) -> dict[str, Any]:
    """per_window as a dict of columns."""
    per = per if isinstance(per, dict) else activity_columns(view)
    lo, hi = view.span()
    if hi <= lo:
        return _stretches(view, [], [], per)
    edges = np.linspace(lo, hi, windows + 1).astype(np.int64)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    return _stretches(view, bounds, [f"window {i}" for i in range(windows)], per)


def per_window(view: View, windows: int = 10, per: Any = None) -> Any:
    """The view's span cut into ``windows`` equal stretches (DataFrame)."""
    return frame(window_columns(view, windows, per), _STRETCH)


def idle_columns(view: View) -> dict[str, Any]:
    """idle_attribution as a dict of columns."""
    k = view.kernels
    order = np.lexsort((k["ts"], k["stream"], k["device"]))
    k = k.take(order)
    rows: dict[str, list[Any]] = {"device": [], "stream": [], "category": [], "idle_ns": [], "share": []}
    if not len(k):
        return rows
    key = k["device"].astype(np.int64) * (1 << 32) + k["stream"].astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        end = np.maximum.accumulate((k["ts"] + k["dur"])[a:b])
        ts = k["ts"][a:b]
        gap = ts[1:] - end[:-1]
        has = gap > 0
        lts = k["launch_ts"][a:b][1:]
        linked = k["launch_id"][a:b][1:] >= 0
        host = has & linked & (lts >= end[:-1])
        kern = has & linked & ~host & (gap <= KERNEL_WAIT_NS)
        other = has & ~host & ~kern
        total = int(gap[has].sum())
        for cat, m in (("host_wait", host), ("kernel_wait", kern), ("other", other)):
            ns = int(gap[m].sum())
            for c, v in zip(rows, (int(k["device"][a]), int(k["stream"][a]), cat, ns, ns / total if total else 0.0)):
                rows[c].append(v)
    return rows


def idle_attribution(view: View) -> Any:
    """Idle gaps between consecutive activities on each stream, by cause (HTA's three categories).

    host_wait:   the next activity's launch call started only after the stream went idle;
    kernel_wait: it was launched earlier and the gap is at most KERNEL_WAIT_NS (launch overhead);
    other:       the rest (event waits, cross-stream syncs, activities without a launch).
    """
    return frame(idle_columns(view), ["device", "stream", "category", "idle_ns", "share"])
