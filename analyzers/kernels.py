"""Top kernels and top-level ops: where device time goes, and what each op costs on both sides."""
from __future__ import annotations

import pandas as pd

from ._view import View
from .launch import per_activity

__all__ = ["top_kernels", "top_ops"]


def top_kernels(view: View, k: int = 10, by: str = "total") -> pd.DataFrame:
    """Kernels (kind=kernel) grouped by name: count, total/mean ns and share of kernel time.

    ``by`` is "total" (time) or "count".
    """
    kern = view.kernels[view.kernels["kind"] == "kernel"]
    cols = ["name", "count", "total_ns", "mean_ns", "share"]
    if kern.empty:
        return pd.DataFrame(columns=cols)
    g = kern.groupby("name", sort=False)["dur"].agg(count="size", total_ns="sum", mean_ns="mean").reset_index()
    g["share"] = g["total_ns"] / g["total_ns"].sum()
    key = ["total_ns", "count"] if by == "total" else ["count", "total_ns"]
    return g.sort_values(key + ["name"], ascending=[False, False, True]).head(k)[cols].reset_index(drop=True)


def top_ops(view: View, k: int = 10, per: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top-level CPU ops by name: calls, CPU time, device activities launched, GPU time, launch/queue time."""
    ops = view.ops
    top = ops[(ops["cat"] == "cpu_op") & (ops["cpu_parent"] < 0)]
    cols = ["name", "calls", "cpu_ns", "activities", "gpu_ns", "launch_queue_ns"]
    if top.empty:
        return pd.DataFrame(columns=cols)
    cpu = top.groupby("name")["dur"].agg(calls="size", cpu_ns="sum")
    per = per_activity(view) if per is None else per
    dev = per[per["top_op_id"].isin(top["op_id"])]
    dev = dev.assign(top_name=dev["top_op_name"])
    gpu = dev.groupby("top_name").agg(activities=("kernel_id", "size"), gpu_ns=("dur", "sum"),
                                      launch_queue_ns=("launch_queue_ns", "sum"))
    out = cpu.join(gpu, how="left").fillna(0).reset_index().rename(columns={"index": "name"})
    for c in ("activities", "gpu_ns", "launch_queue_ns"):
        out[c] = out[c].astype("int64")
    return out.sort_values(["cpu_ns", "name"], ascending=[False, True]).head(k)[cols].reset_index(drop=True)
