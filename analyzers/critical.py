"""The critical path: the chain of host work, calls, launches, stream order and synchronizations
that ends last, read from the identity replay (analyzers/_replay.py), so it can never disagree
with the what-if model.

Walking back from the end of the run, each node's start names what bound it (its ``pred`` and
``edge`` in the replay). The walk cuts the run into contiguous segments, from the scope's start
to its end, so the path's length is the identity replay's IL exactly. docs/metrics.md,
"Critical path".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skiprof._result import Col, Figure, Figures, Note, Result, Section, Table

from . import _intervals as iv
from ._activity import STALL_NS
from ._options import Options
from ._replay import Timeline, simulate
from ._view import View, select

__all__ = ["Segment", "segments", "within", "CriticalResult", "run", "GPU_KINDS", "CPU_KINDS", "WAIT_KINDS"]

#: Segment kinds on the device side of the path, on the host side, and neither: launched work held
#: back by something the trace does not show (boundness's dependency).
GPU_KINDS = ("kernel", "memcpy", "memset", "stream gap")
CPU_KINDS = ("call", "host", "launch", "sync return", "start", "host tail")
WAIT_KINDS = ("dependency",)


@dataclass(frozen=True)
class Segment:
    """A stretch [start, end) of the path: what it was, and the call (row of launches) or device
    activity (row of kernels) it belongs to (-1: none)."""

    start: int
    end: int
    kind: str
    call: int = -1
    act: int = -1


class _Walk:
    """Builds the path backwards from ``cursor``, one segment at a time."""

    def __init__(self, view: View, tl: Timeline) -> None:
        self.view, self.tl = view, tl
        self.out: list[Segment] = []
        self.kinds = view.kernels["kind"].tolist()
        k = view.kernels
        self.k_dev = k["device"]
        self.k_key = tl.act_stream
        from ._replay import _graph_of

        self.by_call = _graph_of(view).by_call

    def add(self, start: int, end: int, kind: str, call: int = -1, act: int = -1) -> None:
        if end > start:
            self.out.append(Segment(start, end, kind, call, act))

    def own_copy(self, j: int, cursor: int) -> int:
        """For a blocking call: the last of its own activities, when it ran inside the call (-1 otherwise)."""
        tl = self.tl
        if not tl.blocking[j]:
            return -1
        mine = [r for r in self.by_call.get(j, []) if tl.call_start[j] <= tl.act_end[r] <= cursor]
        return max(mine, key=lambda r: int(tl.act_end[r])) if mine else -1

    def other_stream_end(self, r: int, at: int) -> int:
        """An activity on another stream of r's device that ended exactly when r started (a
        cross-stream event wait the replay keeps as r's measured launch delay), or -1."""
        tl = self.tl
        same_dev = self.k_dev == self.k_dev[r]
        hit = np.flatnonzero(same_dev & (self.k_key != self.k_key[r]) & (tl.act_end == at) & (tl.act_start < at))
        return int(hit[0]) if len(hit) else -1

    def from_act(self, r: int, cursor: int) -> tuple[int, int]:
        """Add activity r's segment up to ``cursor`` and what bound its start; returns (next node, new cursor)."""
        tl, n = self.tl, self.tl.n_calls
        kind = self.kinds[r] if self.kinds[r] in ("memcpy", "memset") else "kernel"
        start = int(tl.act_start[r])
        self.add(start, cursor, kind, act=r)
        p, edge = int(tl.pred[n + r]), tl.edge[n + r]
        if edge == "stream":
            self.add(int(tl.act_end[p - n]), start, "stream gap", act=p - n)
            return p, int(tl.act_end[p - n])
        if edge == "launch" and p >= 0:
            other = self.other_stream_end(r, start) if start > int(tl.call_end[p]) else -1
            if other >= 0:
                return n + other, start
            # Past STALL_NS after its call returned (its stream was free: the edge is not "stream"),
            # the activity was held back by a dependency, which the replay keeps as measured.
            held = int(tl.call_end[p]) + STALL_NS
            self.add(held, start, "dependency", act=r)
            self.add(int(tl.call_start[p]), min(start, held), "launch", call=p)
            return self._before_call(p, int(tl.call_start[p]))
        self.add(tl.origin, start, "start")  # an orphan at its measured time
        return -1, tl.origin

    def from_call(self, j: int, cursor: int) -> tuple[int, int]:
        """Add call j's segment up to ``cursor`` and what bound its start."""
        tl = self.tl
        own = self.own_copy(j, cursor)
        if own >= 0:  # a synchronous memcpy returns once its own copy is done: the copy is on the path
            self.add(int(tl.act_end[own]), cursor, "sync return", call=j)
            return tl.n_calls + own, int(tl.act_end[own])
        if tl.edge[j] == "sync":
            p = int(tl.pred[j])
            waited = int(tl.act_end[p - tl.n_calls])
            self.add(waited, cursor, "sync return", call=j)
            return p, waited
        self.add(int(tl.call_start[j]), cursor, "call", call=j)
        return self._before_call(j, int(tl.call_start[j]))

    def _before_call(self, j: int, start: int) -> tuple[int, int]:
        """Add the host segment that leads to call ``j`` and return (the call before it, where the segment starts)."""
        tl = self.tl
        p = int(tl.pred[j])
        if tl.edge[j] == "host" and p >= 0:
            end_p = int(tl.call_end[p])
            if end_p <= start:
                self.add(end_p, start, "host", call=j)
                return p, end_p
            return p, start  # nested in the previous call: that call's segment ends here
        self.add(tl.origin, start, "host", call=j)  # host work from the scope's start to the first call
        return -1, tl.origin


def segments(view: View) -> tuple[list[Segment], int]:
    """The critical path as contiguous segments in time order, and the IL it spans."""
    tl = simulate(view)
    n = tl.n_calls
    placed = tl.placed()
    ends = [(tl.host_end, 0, -2)]
    if n:
        j = int(np.argmax(tl.call_end))
        ends.append((int(tl.call_end[j]), 1, j))
    if placed.any():
        r = int(np.flatnonzero(placed)[np.argmax(tl.act_end[placed])])
        ends.append((int(tl.act_end[r]), 2, n + r))
    end, _, node = max(ends)
    walk = _Walk(view, tl)
    cursor = end
    if node == -2:  # the host's own tail after its last call ends the run
        call = tl.host_end_call
        start = int(tl.call_end[call]) if call >= 0 else tl.origin
        walk.add(start, end, "host tail", call=call)
        node, cursor = (call, start) if call >= 0 else (-1, tl.origin)
    for _ in range(n + len(tl.act_end) + 2):  # every step moves to an earlier node; bounded all the same
        if node < 0:
            break
        node, cursor = walk.from_act(node - n, cursor) if node >= n else walk.from_call(node, cursor)
    walk.add(tl.origin, cursor, "start")
    return sorted(walk.out, key=lambda s: s.start), end - tl.origin


def _by_name(segs: list[Segment], names: list[str], pick: str, kinds: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for sg in segs:
        i = sg.act if pick == "act" else sg.call
        if sg.kind in kinds and i >= 0 and names[i]:
            out[names[i]] = out.get(names[i], 0) + sg.end - sg.start
    return out


def _top(d: dict[str, int], n: int) -> tuple[dict[str, Any], ...]:
    return tuple({"name": k, "ns": v} for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


_COLS = (Col("name", "name", "kernel"), Col("ns", "on the path", "ns"))
_KIND_COLS = (Col("kind", "segment"), Col("ns", "time", "ns"), Col("share", "share", "share"))


@dataclass(frozen=True)
class CriticalResult(Result):
    """Length, host and device shares, and what is on the critical path."""

    scope: str
    length_ns: int
    replay_il_ns: int
    il_ns: int
    by_kind: dict[str, int]
    kernels: tuple[dict[str, Any], ...]
    ops: tuple[dict[str, Any], ...]
    segments: tuple[Segment, ...]
    #: For a step or region: the length of the whole run's path, whose part within the scope this is.
    run_length_ns: int | None = None

    name = "critical"
    schema = "skiprof.critical/2"
    title = "Critical path"

    @property
    def gpu_ns(self) -> int:
        return sum(v for k, v in self.by_kind.items() if k in GPU_KINDS)

    @property
    def wait_ns(self) -> int:
        return sum(v for k, v in self.by_kind.items() if k in WAIT_KINDS)

    def to_dict(self) -> dict[str, Any]:
        n, gpu, wait = self.length_ns, self.gpu_ns, self.wait_ns
        cpu = n - gpu - wait
        return {"schema": self.schema, "scope": self.scope, "length_ns": n, "replay_il_ns": self.replay_il_ns, "il_ns": self.il_ns,
                "gpu_ns": gpu, "cpu_ns": cpu, "dependency_ns": wait, "gpu_share": gpu / n if n else 0.0,
                "cpu_share": cpu / n if n else 0.0, "dependency_share": wait / n if n else 0.0, "by_kind": dict(self.by_kind),
                "segments": len(self.segments), "kernels": list(self.kernels), "ops": list(self.ops),
                "run_length_ns": self.run_length_ns}

    def sections(self) -> list[Section]:
        d = self.to_dict()
        return [Figures("Critical path (the chain that ends last, from the identity replay)", (
                    Figure("length", self.length_ns, "ns"), Figure("on the device", d["gpu_share"], "share"),
                    Figure("on the host", d["cpu_share"], "share"),
                    Figure("launched work held back (dependency)", d["dependency_share"], "share"),
                    Figure("segments", len(self.segments), "count"))),
                Table("The path by kind", _KIND_COLS, tuple({"kind": k, "ns": v, "share": v / self.length_ns if self.length_ns else 0.0}
                                                            for k, v in sorted(self.by_kind.items(), key=lambda kv: -kv[1]))),
                Table("Kernels on the path", _COLS, self.kernels, empty="no device work on the path"),
                Table("Top-level ops on the path (their calls, host work and launches)",
                      (Col("name", "op"), Col("ns", "on the path", "ns")), self.ops, empty="no host op on the path"),
                self._length_note()]

    def _length_note(self) -> Note:
        if self.run_length_ns is None:
            return Note("the path's length equals the identity replay's latency (IL; the measured IL within rounding of "
                        "sub-microsecond times): every instant of the run is on it once; skiprof export draws it as the "
                        "track 'critical path'")
        return Note(f"the part of the run's critical path ({self.run_length_ns / 1e6:,.2f} ms) within {self.scope}: its "
                    f"length is that time, {self.length_ns / 1e6:,.2f} ms; the scope's IL, {self.il_ns / 1e6:,.2f} ms, "
                    "also counts the device work launched in it, where it ran (docs/metrics.md, Critical path)")


def within(segs: list[Segment], windows: list[tuple[int, int]]) -> list[Segment]:
    """The segments cut to the windows (a step's or a region's time): every instant of the windows
    is on the run's path once, so the parts add up to the windows' length."""
    lo, hi = iv.union(np.array([w[0] for w in windows], np.int64), np.array([w[1] for w in windows], np.int64))
    out = []
    for sg in segs:
        i = int(np.searchsorted(hi, sg.start, side="right"))  # the first window ending after the segment starts
        while i < len(lo) and lo[i] < sg.end:
            s, e = max(sg.start, int(lo[i])), min(sg.end, int(hi[i]))
            if e > s:
                out.append(Segment(s, e, sg.kind, sg.call, sg.act))
            i += 1
    return out


def run(view: View, options: Options) -> CriticalResult:
    """The critical path of a view; for a step or region, the run's path within its windows (a chain of
    bound starts spans the run: the scope's own replay would start its chain at the scope's start)."""
    from ._replay import Knobs
    from .whatif import predicted_scope

    run_view = select(view.trace, rank=view.rank) if view.windows else view
    segs, length = segments(run_view)
    replay_il = iv.total(predicted_scope(view, simulate(view), Knobs()))
    run_length = None
    if view.windows:
        segs, run_length = within(segs, view.windows), length
        length = sum(sg.end - sg.start for sg in segs)
    by_kind: dict[str, int] = {}
    for sg in segs:
        by_kind[sg.kind] = by_kind.get(sg.kind, 0) + sg.end - sg.start
    la, ops = run_view.launches, run_view.ops  # the segments' call and activity rows are the run's
    op_name = dict(zip(ops["op_id"].tolist(), ops["name"].tolist()))
    call_op = [op_name.get(i, "") for i in la["top_op_id"].tolist()]
    from .launch import summary

    return CriticalResult(view.label, length, replay_il, summary(view).il_ns, by_kind,
                          _top(_by_name(segs, run_view.kernels["name"].tolist(), "act", ("kernel", "memcpy", "memset")), options.top),
                          _top(_by_name(segs, call_op, "call", CPU_KINDS), options.top), tuple(segs), run_length)
