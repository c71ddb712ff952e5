"""Time per nn.Module: each module instance (by its path in the module tree) and each module type,
with host time, the device time of the kernels its ops launched, launches, and launch and queue time.

Reads the ``nn.Module: Type_N`` events torch's Python tracer writes (``skiprof trace
--with-modules``, or any trace recorded ``with_stack=True``). Device work belongs to the
innermost module around its launch call ("self"); a module's "total" adds its submodules'. The
self device times plus the time launched outside any module add up to every linked activity's
time. docs/metrics.md, "Modules".
"""
from __future__ import annotations

import re
from typing import Any

import msgspec
import numpy as np

from skiprof._result import Col, Note, Result, Section, Table

from ._options import Options
from ._view import View
from .launch import carries_launch

__all__ = ["module_tree", "rollup", "ModulesResult", "run", "OUTSIDE", "PREFIX"]

PREFIX = "nn.Module: "
#: Device work launched outside every module.
OUTSIDE = "(outside any module)"
_INDEX = re.compile(r"_\d+$")


def module_tree(view: View) -> tuple[list[tuple[int, int, int, str]], dict[int, list[tuple[int, int, str]]]]:
    """Module occurrences as (start, end, thread key, path), and per thread the same intervals sorted
    by start, for looking up the innermost module around an instant."""
    ops = view.ops
    sel = ops["cat"].eq("python_function") & ops["name"].search(re.compile("^" + re.escape(PREFIX)))
    rows = np.flatnonzero(sel)
    names = ops["name"].take(rows).tolist()
    keys = (ops["pid"][rows].astype(np.int64) * (1 << 32) + (ops["tid"][rows].astype(np.int64) & 0xFFFFFFFF)).tolist()
    ts, end = ops["ts"][rows].tolist(), (ops["ts"] + ops["dur"])[rows].tolist()
    order = sorted(range(len(rows)), key=lambda i: (keys[i], ts[i], -end[i]))
    out: list[tuple[int, int, int, str]] = []
    per_thread: dict[int, list[tuple[int, int, str]]] = {}
    stack: list[tuple[int, str]] = []  # (end, path) of the open modules of the current thread
    thread = None
    for i in order:
        if keys[i] != thread:
            thread, stack = keys[i], []
        while stack and stack[-1][0] <= ts[i]:
            stack.pop()
        path = (stack[-1][1] + "/" if stack else "") + names[i][len(PREFIX):]
        stack.append((end[i], path))
        out.append((ts[i], end[i], keys[i], path))
        per_thread.setdefault(keys[i], []).append((ts[i], end[i], path))
    return out, per_thread


def _innermost(per_thread: dict[int, list[tuple[int, int, str]]], key: int, t: int) -> str:
    """The path of the innermost module open at ``t`` on a thread (OUTSIDE when none)."""
    best = OUTSIDE
    for lo, hi, path in per_thread.get(key, []):
        if lo > t:
            break
        if hi > t:
            best = path  # nested intervals sorted by start: the last one open is the innermost
    return best


def _call_modules(view: View, per_thread: dict[int, list[tuple[int, int, str]]]) -> dict[int, str]:
    """launch_id -> the innermost module around the launch call."""
    la = view.launches
    keys = (la["pid"].astype(np.int64) * (1 << 32) + (la["tid"].astype(np.int64) & 0xFFFFFFFF)).tolist()
    return {int(lid): _innermost(per_thread, k, int(t)) for lid, k, t in zip(la["launch_id"].tolist(), keys, la["ts"].tolist())}


def rollup(view: View) -> tuple[dict[str, dict[str, int]], int]:
    """Per module path: calls, host_ns (total), device_ns / launches / launch_queue_ns (self); and the
    device time launched outside any module."""
    occ, per_thread = module_tree(view)
    if not occ:  # no module annotations (most imported traces): every activity is outside
        return {}, int(view.per["dur"].sum())
    out: dict[str, dict[str, int]] = {}
    for lo, hi, _, path in occ:
        row = out.setdefault(path, {"calls": 0, "host_ns": 0, "device_ns": 0, "launches": 0, "launch_queue_ns": 0})
        row["calls"] += 1
        row["host_ns"] += hi - lo
    where = _call_modules(view, per_thread)
    outside = 0
    for path in where.values():
        if path in out:
            out[path]["launches"] += 1
    per = view.per
    lq = np.where(carries_launch(per), per["launch_queue_ns"], 0).tolist()
    for lid, dur, q in zip(per["launch_id"].tolist(), per["dur"].tolist(), lq):
        path = where.get(int(lid), OUTSIDE) if lid >= 0 else OUTSIDE
        if path == OUTSIDE:
            outside += int(dur)
            continue
        out[path]["device_ns"] += int(dur)
        out[path]["launch_queue_ns"] += int(q)
    return out, outside


def _totals(rows: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Each path with its self figures and its totals over its subtree."""
    out = []
    for path, r in rows.items():
        sub = [v for p, v in rows.items() if p == path or p.startswith(path + "/")]
        children = [v for p, v in rows.items() if p.startswith(path + "/") and "/" not in p[len(path) + 1:]]
        leaf = path.rsplit("/", 1)[-1]
        out.append({"module": path, "label": "  " * path.count("/") + leaf, "type": _INDEX.sub("", leaf), "depth": path.count("/"),
                    "calls": r["calls"], "host_ns": r["host_ns"], "self_host_ns": r["host_ns"] - sum(c["host_ns"] for c in children),
                    "self_device_ns": r["device_ns"], "device_ns": sum(v["device_ns"] for v in sub),
                    "launches": sum(v["launches"] for v in sub), "launch_queue_ns": sum(v["launch_queue_ns"] for v in sub)})
    return sorted(out, key=lambda r: r["module"])


def _by_type(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per module type: instances, calls, and self host and device time (self, so nesting never counts twice)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = out.setdefault(r["type"], {"type": r["type"], "instances": 0, "calls": 0, "self_host_ns": 0, "self_device_ns": 0})
        t["instances"] += 1
        t["calls"] += r["calls"]
        t["self_host_ns"] += r["self_host_ns"]
        t["self_device_ns"] += r["self_device_ns"]
    return sorted(out.values(), key=lambda t: (-t["self_device_ns"], -t["self_host_ns"], t["type"]))


_MOD_COLS = (Col("label", "module (indented by depth)"), Col("calls", "calls", "count"), Col("host_ns", "host", "ns"),
             Col("device_ns", "device", "ns"), Col("self_device_ns", "device (self)", "ns"),
             Col("launches", "launches", "count"), Col("launch_queue_ns", "launch+queue", "ns"))
_TYPE_COLS = (Col("type", "type"), Col("instances", "instances", "count"), Col("calls", "calls", "count"),
              Col("self_host_ns", "host (self)", "ns"), Col("self_device_ns", "device (self)", "ns"))


class ModulesResult(Result, msgspec.Struct, frozen=True):
    """The module tree with its times, and the same per module type."""

    scope: str
    modules: tuple[dict[str, Any], ...]
    types: tuple[dict[str, Any], ...]
    outside_device_ns: int
    top: int = 10

    name = "modules"
    schema = "skiprof.modules/1"
    title = "Modules"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "recorded": bool(self.modules), "modules": list(self.modules),
                "types": list(self.types), "outside_device_ns": self.outside_device_ns}

    def sections(self) -> list[Section]:
        """The top modules by device (else host) time, the module types, and the device time outside any module."""
        if not self.modules:
            return [Note("no nn.Module events: record them with skiprof trace --with-modules (torch.profiler's with_stack=True)")]
        key = "device_ns" if any(m["device_ns"] for m in self.modules) else "host_ns"
        top = sorted(self.modules, key=lambda m: (-m[key], m["module"]))[: self.top]
        return [Table(f"Modules by {'device' if key == 'device_ns' else 'host'} time (path in the module tree)", _MOD_COLS,
                      tuple(sorted(top, key=lambda m: m["module"]))),
                Table("Module types (self time: a module's own, without its submodules')", _TYPE_COLS, self.types[: self.top]),
                Note(f"device work launched outside any module: {self.outside_device_ns / 1e6:,.2f} ms")]


def run(view: View, options: Options) -> ModulesResult:
    """The module rollup of a view (empty when the trace has no module events)."""
    rows, outside = rollup(view)
    mods = _totals(rows)
    return ModulesResult(view.label, tuple(mods), tuple(_by_type(mods)), outside, options.top)
