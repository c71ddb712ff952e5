"""Where memory went: peak allocated and reserved per device, the op at each peak, the biggest
allocators, and the allocated bytes over time (the ``memory`` table: ``[memory]`` events recorded
with ``skiprof trace --profile-memory``). docs/metrics.md, "Memory".
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._result import Col, Note, Plot, Result, Section, Table
from skiprof.ingest._link import distinct

from ._cols import Cols
from ._options import Options
from ._view import View, read_cols

__all__ = ["memory_rows", "peaks", "MemoryResult", "run", "PLOT_POINTS"]

#: At most this many points per device in the plot (evenly thinned; the peak is always kept).
PLOT_POINTS = 2000


def memory_rows(view: View) -> Cols:
    """The view's rank's allocator events inside its scope, in time order."""
    m = read_cols(view.trace, "memory")
    keep = m["rank"] == view.rank
    lo, hi = view.scope
    if len(lo):
        ts = m["ts"]
        inside = np.zeros(len(ts), bool)
        for a, b in zip(lo.tolist(), hi.tolist()):
            inside |= (ts >= a) & (ts <= b)
        keep &= inside
    rows = np.flatnonzero(keep)
    return m.take(rows[np.argsort(m["ts"][rows], kind="stable")])


def _device_name(kind: int, dev: int) -> str:
    return "CPU" if kind == 0 or dev < 0 else f"device {dev}" + ("" if kind == 1 else f" (type {kind})")


def _top_level_at(view: View, tid: int, t: int) -> str:
    """The top-level op running on thread ``tid`` at ``t`` ('' when none)."""
    ops = view.ops
    top = ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0) & (ops["tid"] == tid) & (ops["ts"] <= t) & (ops["ts"] + ops["dur"] >= t)
    rows = np.flatnonzero(top)
    return ops["name"].take(rows[-1:]).tolist()[0] if len(rows) else ""


def peaks(view: View, m: Cols) -> list[dict[str, Any]]:
    """Per device: peak allocated (the first time it is reached), the op that allocated then and the
    top-level op around it, peak reserved, bytes allocated and freed."""
    out = []
    key = m["device_type"] * (1 << 32) + m["device"]
    for k in sorted(set(key.tolist())):
        rows = np.flatnonzero(key == k)
        alloc = m["total_allocated"][rows]
        i = int(rows[int(np.argmax(alloc))])
        b = m["bytes"][rows]
        out.append({"device": _device_name(int(m["device_type"][i]), int(m["device"][i])),
                    "peak_allocated_bytes": int(alloc.max()), "peak_reserved_bytes": int(m["total_reserved"][rows].max()),
                    "peak_ts_ns": int(m["ts"][i]), "op_at_peak": m["op_name"].take(np.array([i])).tolist()[0] or "",
                    "top_op_at_peak": _top_level_at(view, int(m["tid"][i]), int(m["ts"][i])),
                    "allocated_bytes": int(b[b > 0].sum()), "freed_bytes": int(-b[b < 0].sum()), "events": len(rows)})
    return out


def allocators(m: Cols, top: int) -> list[dict[str, Any]]:
    """Ops by bytes they allocated (the innermost op around each allocation)."""
    pos = m["bytes"] > 0
    col = m["op_name"]
    codes = col.codes[pos] + 1  # 0: no op
    size = np.zeros(len(col.values) + 1, np.int64)
    np.add.at(size, codes, m["bytes"][pos].astype(np.int64))
    count = np.bincount(codes, minlength=len(size))
    totals: dict[str, list[int]] = {}
    # Summed per name code, then per shown name (a null and an empty name both show as "(no op)").
    for c in np.flatnonzero(count).tolist():
        t = totals.setdefault((col.values[c - 1] if c else None) or "(no op)", [0, 0])
        t[0] += int(size[c])
        t[1] += int(count[c])
    rows = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]
    return [{"op": n, "allocated_bytes": b, "allocations": c} for n, (b, c) in rows]


def _plot_data(m: Cols, origin: int) -> dict[str, Any]:
    """Allocated and reserved memory over time per device, thinned for the plot but keeping each peak."""
    series = []
    key = m["device_type"] * (1 << 32) + m["device"]
    for k in sorted(set(key.tolist())):
        rows = np.flatnonzero(key == k)
        if len(rows) > PLOT_POINTS:  # thin evenly, keeping the peak
            keep = distinct(np.r_[np.linspace(0, len(rows) - 1, PLOT_POINTS).astype(int), np.argmax(m["total_allocated"][rows])])
            rows = rows[keep]
        i = rows[0]
        series.append({"name": _device_name(int(m["device_type"][i]), int(m["device"][i])),
                       "x": ((m["ts"][rows] - origin) / 1e6).tolist(), "y": (m["total_allocated"][rows] / 2**20).tolist()})
    return {"series": series, "x_title": "ms from the start", "y_title": "allocated (MiB)", "steps": True}


_PEAK_COLS = (Col("device", "device"), Col("peak_allocated_bytes", "peak allocated", "bytes"),
              Col("peak_reserved_bytes", "peak reserved", "bytes"), Col("op_at_peak", "allocated at the peak by"),
              Col("top_op_at_peak", "inside"), Col("events", "events", "count"))
_ALLOC_COLS = (Col("op", "op"), Col("allocated_bytes", "allocated", "bytes"), Col("allocations", "allocations", "count"))


class MemoryResult(Result, msgspec.Struct, frozen=True):
    """Peaks per device, top allocators, and the allocated bytes over time."""

    scope: str
    peaks: tuple[dict[str, Any], ...]
    allocators: tuple[dict[str, Any], ...]
    plot: dict[str, Any]

    name = "memory"
    schema = "skiprof.memory/1"
    title = "Memory"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "recorded": bool(self.peaks), "devices": list(self.peaks),
                "allocators": list(self.allocators)}

    def sections(self) -> list[Section]:
        if not self.peaks:
            return [Note("no memory events: record them with skiprof trace --profile-memory (torch.profiler's "
                         "profile_memory=True)")]
        return [Table("Peak memory per device", _PEAK_COLS, self.peaks),
                Table("Ops by bytes allocated", _ALLOC_COLS, self.allocators),
                Plot("Allocated memory over time", "lines", self.plot)]


def run(view: View, options: Options) -> MemoryResult:
    """The memory figures of a view (empty when the trace has no allocator events)."""
    m = memory_rows(view)
    if not len(m):
        return MemoryResult(view.label, (), (), {})
    return MemoryResult(view.label, tuple(peaks(view, m)), tuple(allocators(m, options.top)), _plot_data(m, view.span()[0]))
