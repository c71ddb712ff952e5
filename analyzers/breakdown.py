"""Where the end-to-end time goes: preprocessing, data movement, compute, communication, ...

Every instant of the view's span gets exactly one phase, the first in PRIORITY that is active
then, so the shares add up to 100% (docs/metrics.md, "Phase breakdown"). Sources: the phase list
follows "Beyond Inference" (DAC 2024); the priority idea follows the TensorBoard profiler's step
time breakdown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._view import View

__all__ = ["PRIORITY", "Phases", "phases", "memcpy", "REGION_PHASES", "HOST_COPY_OPS"]

PRIORITY = (
    "communication",   # nccl/rccl device activity
    "compute",         # other kernels; on CPU-only traces, compute-marked regions
    "data_movement",   # memcpy/memset activity, host copy ops, h2d/d2h regions
    "preprocessing",   # skiprof preprocess/load regions, DataLoader iterations
    "postprocessing",  # skiprof postprocess regions
    "host_overhead",   # any other host op or runtime call
    "idle",            # nothing recorded
)

#: skiprof.region names and the phase they stand for.
REGION_PHASES = {
    "preprocess": "preprocessing", "load": "preprocessing",
    "h2d": "data_movement", "d2h": "data_movement",
    "postprocess": "postprocessing",
    "compute": "compute", "prefill": "compute", "decode": "compute", "optimizer": "compute",
    "comm": "communication",
}
HOST_COPY_OPS = ("aten::copy_", "aten::to", "aten::_to_copy", "aten::pin_memory", "aten::_pin_memory")
_COMM = re.compile(r"nccl|rccl", re.IGNORECASE)


@dataclass(frozen=True)
class Phases:
    """Phase times over the view's span; ``table`` has phase, ns, share."""

    span_ns: int
    table: pd.DataFrame
    device_table: pd.DataFrame  # device busy time by phase (shares of GPU busy time)

    def share(self, phase: str) -> float:
        row = self.table[self.table["phase"] == phase]
        return float(row["share"].iloc[0]) if len(row) else 0.0


def _iv(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return iv.union(df["ts"].to_numpy(), (df["ts"] + df["dur"]).to_numpy())


def _sources(view: View) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    k, ops, regions, la = view.kernels, view.ops, view.regions, view.launches
    is_comm = k["name"].str.contains(_COMM) & (k["kind"] == "kernel")
    src: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in PRIORITY[:-1]}
    src["communication"].append(_iv(k[is_comm]))
    src["compute"].append(_iv(k[(k["kind"] == "kernel") & ~is_comm]))
    src["data_movement"].append(_iv(k[k["kind"] != "kernel"]))
    sk = regions[regions["kind"] == "skiprof"]
    for name, phase in REGION_PHASES.items():
        if phase == "compute" and view.has_device:
            continue  # with a GPU, compute means kernels; a compute region's host time is overhead
        src[phase].append(_iv(sk[sk["name"] == name]))
    src["preprocessing"].append(_iv(regions[regions["kind"] == "dataloader"]))
    src["data_movement"].append(_iv(ops[ops["name"].isin(HOST_COPY_OPS)]))
    host = ops[ops["cat"] != "user_annotation"]
    src["host_overhead"].append(_iv(host))
    src["host_overhead"].append(_iv(la))
    return {p: iv.union(np.concatenate([a[0] for a in parts]), np.concatenate([a[1] for a in parts]))
            for p, parts in src.items()}


def phases(view: View) -> Phases:
    """Split the view's span into phases by PRIORITY."""
    if view.windows:
        scope = iv.union(np.array([w[0] for w in view.windows]), np.array([w[1] for w in view.windows]))
    else:
        lo, hi = view.span()
        scope = (np.array([lo]), np.array([hi]))
    span = iv.total(scope)
    src = _sources(view)
    left = scope
    rows = []
    for phase in PRIORITY[:-1]:
        part = iv.subtract(left, iv.subtract(left, src[phase]))  # left ∩ phase
        ns = iv.total(part)
        rows.append({"phase": phase, "ns": ns})
        left = iv.subtract(left, src[phase])
    rows.append({"phase": "idle", "ns": iv.total(left)})
    table = pd.DataFrame(rows)
    table["share"] = table["ns"] / span if span else 0.0
    busy = iv.union(view.kernels["ts"].to_numpy(), (view.kernels["ts"] + view.kernels["dur"]).to_numpy())
    dev_rows, dev_left = [], busy
    for phase in ("communication", "compute", "data_movement"):
        part = iv.subtract(dev_left, iv.subtract(dev_left, src[phase]))
        dev_rows.append({"phase": phase, "ns": iv.total(part)})
        dev_left = iv.subtract(dev_left, src[phase])
    device = pd.DataFrame(dev_rows)
    total_busy = iv.total(busy)
    device["share"] = device["ns"] / total_busy if total_busy else 0.0
    return Phases(span, table, device)


def memcpy(view: View) -> pd.DataFrame:
    """Device copies by direction and host memory kind: count, bytes, time and achieved GB/s."""
    k = view.kernels[view.kernels["kind"] == "memcpy"]
    cols = ["copy_kind", "host_mem", "count", "bytes", "ns", "gb_per_s"]
    if k.empty:
        return pd.DataFrame(columns=cols)
    g = (k.assign(copy_kind=k["copy_kind"].fillna("unknown"), host_mem=k["host_mem"].fillna("-"),
                  nbytes=k["bytes"].clip(lower=0))
         .groupby(["copy_kind", "host_mem"], sort=True)
         .agg(count=("kernel_id", "size"), bytes=("nbytes", "sum"), ns=("dur", "sum")).reset_index())
    g["gb_per_s"] = np.where(g["ns"] > 0, g["bytes"] / g["ns"].where(g["ns"] > 0, 1), 0.0)  # bytes/ns = GB/s
    return g[cols]
