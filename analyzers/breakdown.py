"""Where the end-to-end time goes: preprocessing, data movement, compute, communication, ...

Every instant of the view's span gets exactly one phase, the first in PRIORITY that is active
then, so the shares add up to 100% (docs/metrics.md, "Phase breakdown"). Sources: the phase list
follows "Beyond Inference" (DAC 2024); the priority idea follows the TensorBoard profiler's step
time breakdown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _intervals as iv
from ._cols import Cols
from ._frame import frame
from ._view import View

__all__ = ["PRIORITY", "Phases", "phases", "memcpy", "memcpy_columns", "REGION_PHASES", "HOST_COPY_OPS"]

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
    """Phase times over the view's span (ns), and GPU busy time split the same way."""

    span_ns: int
    names: tuple[str, ...]
    ns: tuple[int, ...]
    device_names: tuple[str, ...]
    device_ns: tuple[int, ...]
    device_busy_ns: int

    def share(self, phase: str) -> float:
        return self.ns[self.names.index(phase)] / self.span_ns if self.span_ns else 0.0

    @property
    def table(self) -> Any:
        """phase, ns, share as a DataFrame."""
        return frame({"phase": list(self.names), "ns": list(self.ns),
                      "share": [n / self.span_ns if self.span_ns else 0.0 for n in self.ns]})

    @property
    def device_table(self) -> Any:
        """GPU busy time by phase, as a DataFrame."""
        b = self.device_busy_ns
        return frame({"phase": list(self.device_names), "ns": list(self.device_ns),
                      "share": [n / b if b else 0.0 for n in self.device_ns]})


def _iv(c: Cols, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    ts, dur = c["ts"], c["dur"]
    if mask is not None:
        ts, dur = ts[mask], dur[mask]
    return iv.union(ts, ts + dur)


def _sources(view: View) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    k, ops, regions, la = view.kernels, view.ops, view.regions, view.launches
    is_kernel = k["kind"].eq("kernel")
    is_comm = k["name"].search(_COMM) & is_kernel
    src: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in PRIORITY[:-1]}
    src["communication"].append(_iv(k, is_comm))
    src["compute"].append(_iv(k, is_kernel & ~is_comm))
    src["data_movement"].append(_iv(k, ~is_kernel))
    sk = regions["kind"].eq("skiprof")
    for name, phase in REGION_PHASES.items():
        if phase == "compute" and view.has_device:
            continue  # with a GPU, compute means kernels; a compute region's host time is overhead
        src[phase].append(_iv(regions, sk & regions["name"].eq(name)))
    src["preprocessing"].append(_iv(regions, regions["kind"].eq("dataloader")))
    src["data_movement"].append(_iv(ops, ops["name"].isin(HOST_COPY_OPS)))
    src["host_overhead"].append(_iv(ops, ~ops["cat"].eq("user_annotation")))
    src["host_overhead"].append(_iv(la))
    return {p: iv.union(np.concatenate([a[0] for a in parts]), np.concatenate([a[1] for a in parts]))
            for p, parts in src.items()}


def phases(view: View) -> Phases:
    """Split the view's span into phases by PRIORITY."""
    if view.windows:
        scope = iv.union(np.array([w[0] for w in view.windows]), np.array([w[1] for w in view.windows]))
    else:
        lo, hi = view.span()
        scope = (np.array([lo], np.int64), np.array([hi], np.int64))
    src = _sources(view)
    left, ns = scope, []
    for phase in PRIORITY[:-1]:
        ns.append(iv.intersect_total(left, src[phase]))
        left = iv.subtract(left, src[phase])
    ns.append(iv.total(left))
    busy = _iv(view.kernels)
    dev_names = ("communication", "compute", "data_movement")
    dev_left, dev_ns = busy, []
    for phase in dev_names:
        dev_ns.append(iv.intersect_total(dev_left, src[phase]))
        dev_left = iv.subtract(dev_left, src[phase])
    return Phases(iv.total(scope), PRIORITY, tuple(ns), dev_names, tuple(dev_ns), iv.total(busy))


def memcpy_columns(view: View) -> dict[str, Any]:
    """memcpy as a dict of columns, one row per (direction, host memory) pair."""
    k = view.kernels
    k = k.take(k["kind"].eq("memcpy"))
    kinds, mems = k["copy_kind"], k["host_mem"]
    # One group id per (direction, host memory) pair; nulls (code -1) become their own group.
    pair = (kinds.codes + 1) * (len(mems.values) + 1) + (mems.codes + 1)
    groups, inverse = np.unique(pair, return_inverse=True)
    count = np.bincount(inverse, minlength=len(groups))
    nbytes = np.bincount(inverse, weights=np.clip(k["bytes"], 0, None), minlength=len(groups)).astype(np.int64)
    ns = np.bincount(inverse, weights=k["dur"], minlength=len(groups)).astype(np.int64)
    names = [((["unknown"] + kinds.values)[g // (len(mems.values) + 1)] or "unknown",
              (["-"] + mems.values)[g % (len(mems.values) + 1)] or "-") for g in groups]
    rows = sorted(zip(names, count.tolist(), nbytes.tolist(), ns.tolist()))
    return {"copy_kind": [r[0][0] for r in rows], "host_mem": [r[0][1] for r in rows], "count": [r[1] for r in rows],
            "bytes": [r[2] for r in rows], "ns": [r[3] for r in rows],
            "gb_per_s": [r[2] / r[3] if r[3] else 0.0 for r in rows]}  # bytes per ns = GB/s


def memcpy(view: View) -> Any:
    """Device copies by direction and host memory kind: count, bytes, time and achieved GB/s (DataFrame)."""
    return frame(memcpy_columns(view), ["copy_kind", "host_mem", "count", "bytes", "ns", "gb_per_s"])
