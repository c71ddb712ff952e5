"""Top kernels and top-level ops: where device time goes, and what each op costs on both sides."""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._result import Col, Result, Section, Table, host_cols

from ._frame import frame
from ._options import Options
from ._view import View
from .launch import top_level_mask

__all__ = ["top_kernels", "top_ops", "kernel_columns", "op_columns", "KernelsResult", "OpsResult", "run", "run_ops"]

_KERNEL_COLS = ["name", "count", "total_ns", "mean_ns", "share"]
_OP_COLS = ["name", "calls", "cpu_ns", "activities", "gpu_ns", "launch_queue_ns"]


def kernel_columns(view: View, k: int = 10, by: str = "total") -> dict[str, Any]:
    """top_kernels as a dict of columns."""
    kc = view.kernels
    kern = kc["kind"].eq("kernel") & (kc["name"].codes >= 0)
    codes, names = kc["name"].codes[kern], kc["name"].values
    if not len(codes):
        return {c: [] for c in _KERNEL_COLS}
    count = np.bincount(codes, minlength=len(names))
    total = np.bincount(codes, weights=kc["dur"][kern], minlength=len(names)).astype(np.int64)
    used = np.flatnonzero(count)
    primary, secondary = (total, count) if by == "total" else (count, total)
    # Ties broken by name so that the order never depends on the file.
    order = sorted(used, key=lambda i: (-primary[i], -secondary[i], names[i]))[:k]
    grand = total.sum()
    return {"name": [names[i] for i in order], "count": [int(count[i]) for i in order],
            "total_ns": [int(total[i]) for i in order], "mean_ns": [total[i] / count[i] for i in order],
            "share": [total[i] / grand if grand else 0.0 for i in order]}


def top_kernels(view: View, k: int = 10, by: str = "total") -> Any:
    """Kernels (kind=kernel) grouped by name: count, total/mean ns and share of kernel time (DataFrame).

    ``by`` is "total" (time) or "count".
    """
    return frame(kernel_columns(view, k, by), _KERNEL_COLS)


def op_columns(view: View, k: int = 10) -> dict[str, Any]:
    """top_ops as a dict of columns."""
    ops = view.ops
    top = top_level_mask(ops) & (ops["name"].codes >= 0)
    if not top.any():
        return {c: [] for c in _OP_COLS}
    names = ops["name"].values
    codes = ops["name"].codes
    calls = np.bincount(codes[top], minlength=len(names))
    cpu = np.bincount(codes[top], weights=ops["dur"][top], minlength=len(names)).astype(np.int64)
    per = view.per
    # Device work of each activity goes to the name of its top-level op.
    top_ids, top_codes = ops["op_id"][top], codes[top]
    order = np.argsort(top_ids)
    pos = np.searchsorted(top_ids[order], per["top_op_id"])
    pos = np.clip(pos, 0, max(len(order) - 1, 0))
    hit = top_ids[order][pos] == per["top_op_id"]
    act_codes = top_codes[order][pos][hit]
    acts = np.bincount(act_codes, minlength=len(names))
    gpu = np.bincount(act_codes, weights=per["dur"][hit], minlength=len(names)).astype(np.int64)
    lq = np.bincount(act_codes, weights=per["launch_queue_ns"][hit], minlength=len(names)).astype(np.int64)
    used = sorted(np.flatnonzero(calls), key=lambda i: (-cpu[i], names[i]))[:k]
    return {"name": [names[i] for i in used], "calls": [int(calls[i]) for i in used],
            "cpu_ns": [int(cpu[i]) for i in used], "activities": [int(acts[i]) for i in used],
            "gpu_ns": [int(gpu[i]) for i in used], "launch_queue_ns": [int(lq[i]) for i in used]}


def top_ops(view: View, k: int = 10) -> Any:
    """Top-level CPU ops by name: calls, CPU time, device activities launched, GPU time, launch/queue time (DataFrame)."""
    return frame(op_columns(view, k), _OP_COLS)


_K_COLS = (Col("name", "kernel", "kernel"), Col("count", "count", "count"), Col("total_ns", "total", "ns"),
           Col("mean_ns", "mean", "ns", "us"), Col("share", "share", "share"))
_O_COLS = (Col("name", "op", "kernel"), Col("calls", "calls", "count"), Col("cpu_ns", "CPU", "ns"),
           Col("activities", "device acts", "count", device=True), Col("gpu_ns", "GPU", "ns", device=True),
           Col("launch_queue_ns", "launch+queue", "ns", device=True))


def _rows(cols: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    keys = list(cols)
    return tuple({k: cols[k][i] for k in keys} for i in range(len(cols[keys[0]]) if keys else 0))


class KernelsResult(Result, msgspec.Struct, frozen=True):
    """The kernels that take the device time, by total time and by count."""

    by_time: tuple[dict[str, Any], ...]
    by_count: tuple[dict[str, Any], ...]

    name = "kernels"
    schema = "skiprof.kernels/2"
    title = "Top kernels"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "by_time": list(self.by_time), "by_count": list(self.by_count)}

    def sections(self) -> list[Section]:
        if not self.by_time:
            return []
        return [Table("Top kernels by time", _K_COLS, self.by_time), Table("Top kernels by count", _K_COLS, self.by_count)]


class OpsResult(Result, msgspec.Struct, frozen=True):
    """Top-level ops: what each costs on the host and on the device."""

    rows: tuple[dict[str, Any], ...]
    has_device: bool = True

    name = "ops"
    schema = "skiprof.ops/2"
    title = "Top-level ops"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "top_ops": list(self.rows)}

    def sections(self) -> list[Section]:
        return [Table("Top-level ops by CPU time", host_cols(_O_COLS, self.has_device), self.rows)] if self.rows else []


def run(view: View, options: Options) -> KernelsResult:
    """Top kernels of a view."""
    return KernelsResult(_rows(kernel_columns(view, options.top)), _rows(kernel_columns(view, options.top, by="count")))


def run_ops(view: View, options: Options) -> OpsResult:
    """Top-level ops of a view."""
    return OpsResult(_rows(op_columns(view, options.top)), view.has_device)
