"""CPU-bound, GPU-bound or sync-bound, per step and per time window, with the evidence beside each label.

Rule (docs/metrics.md, "Boundness"). A stretch of time is judged by when the device work ran in it:
  gpu-bound   the GPU was busy for at least GPU_BOUND_BUSY (70%) of the stretch;
  otherwise the GPU idled for more than 30% of it, and the label names why:
  sync-bound  most of that idle passed while the host was blocked in a synchronization call or a
              collective (it waited on the device, another stream or another rank);
  cpu-bound   most of it passed with the host free: the GPU waited for the host to launch work
              (idle_host) or for just-launched work to reach it (idle_launch: at most STALL_NS after
              the work could first run);
  dependency-bound
              most of it passed with launched work held back longer than that, its call returned
              and its stream free: it waited on a dependency the host does not control (an event on
              another stream or device, a peer rank) or on device work the trace does not show.
  no-gpu-work the trace has no device activity at all (CPU-only).
Busy time and the kernels counted in a stretch are those that ran in it, so a label can never
contradict the busy and idle figures printed beside it.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
import numpy as np

from skiprof._domain import COMM_HOST_OP, is_blocking, stream_key
from skiprof._result import Col, Figure, Figures, Note, Plot, Result, Section, Table

from . import _intervals as iv
from ._activity import STALL_NS, held_from
from ._frame import frame
from ._options import Options
from ._view import View
from .launch import carries_launch

__all__ = ["label", "per_step", "per_window", "idle_attribution", "step_columns", "window_columns",
           "idle_columns", "idle_causes", "IdleCauses", "GPU_BOUND_BUSY", "KERNEL_WAIT_NS", "STRETCH_COLUMNS",
           "BoundnessResult", "run", "overall_columns", "blocked_intervals", "pending_intervals", "STALL_NS",
           "Evidence"]

#: A stretch is gpu-bound when the device was busy for at least this share of it.
GPU_BOUND_BUSY = 0.7
#: Gaps up to this long between back-to-back kernels count as launch overhead ("kernel wait").
KERNEL_WAIT_NS = 30_000
STRETCH_COLUMNS = ["stretch", "start_ns", "end_ns", "duration_ns", "kernels", "launch_ns_per_kernel",
                   "queue_ns_per_kernel", "queue_share", "gpu_busy_ns", "gpu_busy_share", "gpu_idle_share",
                   "idle_host_share", "idle_launch_share", "idle_dependency_share", "idle_sync_share", "label"]


def label(busy_share: float, idle_cpu_ns: int, idle_sync_ns: int, idle_dependency_ns: int = 0,
          has_device: bool = True) -> str:
    """The boundness rule, applied to one stretch's evidence: gpu-bound when busy enough, else the
    largest cause of the idle names the label (ties go to cpu-bound, then sync-bound)."""
    if not has_device:
        return "no-gpu-work"
    if busy_share >= GPU_BOUND_BUSY:
        return "gpu-bound"
    if idle_cpu_ns >= idle_sync_ns and idle_cpu_ns >= idle_dependency_ns:
        return "cpu-bound"
    return "sync-bound" if idle_sync_ns >= idle_dependency_ns else "dependency-bound"


class Evidence(NamedTuple):
    """One stretch's time, split into disjoint parts that add up to its length."""

    busy: int
    launch: int  # idle, launched work on its way (within STALL_NS of when it could first run)
    sync: int  # idle, a host thread blocked in a synchronization or a collective
    dependency: int  # idle, launched work held back longer than STALL_NS
    host: int  # idle, nothing launched: the host had not launched the work yet

    @property
    def cpu(self) -> int:
        """The idle the host's launch path explains."""
        return self.host + self.launch


class IdleCauses:
    """Disjoint interval sets over the scope: device busy, and device idle by cause. A sync interval
    wins over a stalled one, and a stalled one over a launch in flight: each instant has one cause."""

    def __init__(self, busy: iv.Intervals, sync: iv.Intervals, pending: iv.Intervals, stalled: iv.Intervals) -> None:
        self.busy = busy
        self.sync = iv.subtract(sync, busy)
        # Taking away one union is taking away each part in turn, in one sweep instead of several.
        taken = iv.union(np.concatenate([busy[0], self.sync[0]]), np.concatenate([busy[1], self.sync[1]]))
        self.dependency = iv.subtract(stalled, taken)
        taken = iv.union(np.concatenate([taken[0], self.dependency[0]]), np.concatenate([taken[1], self.dependency[1]]))
        self.launch = iv.subtract(pending, taken)

    def evidence(self, scope: iv.Intervals) -> Evidence:
        """Busy and idle by cause inside ``scope``; the five parts add up to its length."""
        b = iv.intersect_total(scope, self.busy)
        s = iv.intersect_total(scope, self.sync)
        d = iv.intersect_total(scope, self.dependency)
        launch = iv.intersect_total(scope, self.launch)
        return Evidence(b, launch, s, d, max(iv.total(scope) - b - s - d - launch, 0))


def pending_intervals(ready: np.ndarray, start: np.ndarray, prev_end: np.ndarray) -> tuple[iv.Intervals, iv.Intervals]:
    """When launched work had not started (from its call's return ``ready`` to its ``start``), and the
    part of that more than STALL_NS after it could first run (its call returned and the previous
    activity on its stream, ending at ``prev_end``, was done)."""
    pending = iv.union(ready, np.maximum(start, ready))
    free = held_from(ready, prev_end)
    late = start > free
    return pending, iv.union(free[late], start[late])


def blocked_intervals(view: View) -> iv.Intervals:
    """Host time inside blocking calls (synchronize, synchronous copies) and collective host ops."""
    la, ops = view.launches, view.ops
    blocking = np.array([is_blocking(n) if n else False for n in la["name"].values] + [False])[la["name"].codes]
    comm = ops["name"].search(COMM_HOST_OP)
    s = np.concatenate([la["ts"][blocking], ops["ts"][comm]])
    e = np.concatenate([(la["ts"] + la["dur"])[blocking], (ops["ts"] + ops["dur"])[comm]])
    return iv.union(s, e)


def idle_causes(view: View) -> IdleCauses:
    """Busy and idle-by-cause intervals of a view (once per view: the stretches and the phase split read them)."""
    return view.memo("idle_causes", lambda: _idle_causes(view))


def _idle_causes(view: View) -> IdleCauses:
    """idle_causes itself: busy from the activities, idle causes from each activity's launch and stream."""
    k, per = view.kernels, view.per
    busy = iv.union(k["ts"], k["ts"] + k["dur"])
    pending, stalled = pending_intervals(per["launch_end"], per["ts"], per["prev_end_on_stream"])
    return IdleCauses(busy, blocked_intervals(view), pending, stalled)


def _stretches(view: View, bounds: list[tuple[int, int]], names: list[str],
               scopes: list[iv.Intervals] | None = None) -> dict[str, list[Any]]:
    """The columns of STRETCH_COLUMNS for each named stretch: work counted where it ran, idle split by cause, and the
    label."""
    per, k = view.per, view.kernels
    causes = idle_causes(view)
    k_ts = np.sort(k["ts"][k["kind"].eq("kernel")])
    carry = carries_launch(per)
    p_ts, p_lq, p_q = per["ts"][carry], per["launch_queue_ns"][carry], per["queue_ns"][carry]
    rows: dict[str, list[Any]] = {c: [] for c in STRETCH_COLUMNS}
    for i, (name, (lo, hi)) in enumerate(zip(names, bounds)):
        scope = scopes[i] if scopes else (np.array([lo], np.int64), np.array([hi], np.int64))
        # Kernels that ran (started) in the stretch: the same time base as the busy figure.
        n = int(np.searchsorted(k_ts, hi, "left") - np.searchsorted(k_ts, lo, "left"))
        sel = (p_ts >= lo) & (p_ts < hi)
        lq, q, nc = int(p_lq[sel].sum()), int(p_q[sel].sum()), int(sel.sum())
        length = iv.total(scope)
        ev = causes.evidence(scope)
        shares = [x / length if length else 0.0 for x in (ev.busy, ev.host, ev.launch, ev.dependency, ev.sync)]
        values = (name, lo, hi, hi - lo, n, (lq - q) / nc if nc else 0.0, q / nc if nc else 0.0, q / lq if lq else 0.0,
                  ev.busy, shares[0], 1 - shares[0] if length else 0.0, *shares[1:],
                  label(shares[0], ev.cpu, ev.sync, ev.dependency, view.has_device))
        for c, v in zip(STRETCH_COLUMNS, values):
            rows[c].append(v)
    return rows


def step_columns(view: View) -> dict[str, Any]:
    """per_step as a dict of columns."""
    steps = view.steps()
    bounds = [(int(a), int(a + d)) for a, d in zip(steps["ts"], steps["dur"])]
    return _stretches(view, bounds, [f"step {int(s)}" for s in steps["step"]])


def per_step(view: View) -> Any:
    """One row per ProfilerStep / skiprof.step() in view (DataFrame)."""
    return frame(step_columns(view), STRETCH_COLUMNS)


def window_columns(view: View, windows: int = 10) -> dict[str, Any]:
    """per_window as a dict of columns (once per view and window count: the boundness table and
    fusion's launch cost both read the ten windows)."""
    return view.memo(f"window_columns:{windows}", lambda: _window_columns(view, windows))


def _window_columns(view: View, windows: int) -> dict[str, Any]:
    """window_columns itself."""
    lo, hi = view.span()
    if hi <= lo:
        return _stretches(view, [], [])
    edges = np.linspace(lo, hi, windows + 1).astype(np.int64)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    return _stretches(view, bounds, [f"window {i}" for i in range(windows)])


def per_window(view: View, windows: int = 10) -> Any:
    """The view's span cut into ``windows`` equal stretches (DataFrame)."""
    return frame(window_columns(view, windows), STRETCH_COLUMNS)


def overall_columns(view: View) -> dict[str, Any]:
    """The whole scope as one stretch (what ``boundness.overall`` labels); once per view, since the
    summary, the boundness table, the replay's baseline and the fixes all quote it."""
    return view.memo("overall_columns", lambda: _stretches(view, [view.span()], ["overall"], [view.scope]))


def idle_columns(view: View) -> dict[str, Any]:
    """idle_attribution as a dict of columns."""
    k = view.kernels
    order = np.lexsort((k["ts"], k["stream"], k["device"]))
    k = k.take(order)
    rows: dict[str, list[Any]] = {"device": [], "stream": [], "category": [], "idle_ns": [], "share": []}
    if not len(k):
        return rows
    key = stream_key(k["device"], k["stream"])
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


_STRETCH_COLS = (Col("stretch", "stretch"), Col("kernels", "kern", "count"), Col("gpu_busy_share", "busy", "share"),
                 Col("idle_host_share", "idle host", "share"), Col("idle_launch_share", "idle launch", "share"),
                 Col("idle_dependency_share", "idle dep", "share"), Col("idle_sync_share", "idle sync", "share"),
                 Col("queue_share", "queue", "share"),
                 Col("label", "label", "label"))
_CPU_STEP_COLS = (Col("stretch", "step"), Col("duration_ns", "duration", "ns"))  # each label is no-gpu-work


def _rows(cols: dict[str, list[Any]]) -> tuple[dict[str, Any], ...]:
    keys = list(cols)
    return tuple({k: cols[k][i] for k in keys} for i in range(len(cols[keys[0]]) if keys else 0))


class BoundnessResult(Result, msgspec.Struct, frozen=True):
    """Boundness of the whole scope, per step and per window, each label beside its evidence."""

    has_device: bool
    overall: dict[str, Any]
    steps: tuple[dict[str, Any], ...]
    windows: tuple[dict[str, Any], ...]
    idle: tuple[dict[str, Any], ...]

    name = "boundness"
    schema = "skiprof.boundness/3"
    title = "Boundness"

    def idle_by_cause(self) -> dict[str, int]:
        """HTA-category idle gaps summed over all streams."""
        out: dict[str, int] = {}
        for row in self.idle:
            out[row["category"]] = out.get(row["category"], 0) + row["idle_ns"]
        return out

    def to_dict(self) -> dict[str, Any]:
        idle = self.idle_by_cause()
        total = sum(idle.values())
        return {"schema": self.schema, "rule": {"gpu_bound_busy_share": GPU_BOUND_BUSY, "stall_ns": STALL_NS},
                "overall": self.overall["label"], "evidence": self.overall,
                "steps": list(self.steps), "windows": list(self.windows),
                "idle_attribution": {k: {"ns": v, "share": v / total if total else 0.0} for k, v in idle.items()}}

    def sections(self) -> list[Section]:
        """The overall label with its evidence and rule, then per step and per window with a plot of GPU busy share,
        and the idle between activities by cause."""
        if not self.has_device:
            return [Table("Steps", _CPU_STEP_COLS, self.steps)] if self.steps else []
        o = self.overall
        out: list[Section] = [Figures("Boundness of the whole scope", (
            Figure("label", o["label"], "label"), Figure("GPU busy", 1 - o["gpu_idle_share"], "share"),
            Figure("GPU idle, host launching nothing", o["idle_host_share"], "share"),
            Figure("GPU idle, launched work on its way", o["idle_launch_share"], "share"),
            Figure("GPU idle, launched work held back (dependency)", o["idle_dependency_share"], "share"),
            Figure("GPU idle, host blocked (sync/collective)", o["idle_sync_share"], "share"),
            Figure("queue share of TKLQT", o["queue_share"], "share"))),
            Note(f"gpu-bound: GPU busy >= {GPU_BOUND_BUSY:.0%} of the stretch; otherwise cpu-bound (host + launch), "
                 "sync-bound or dependency-bound by the largest cause of the idle; launched work counts as held back "
                 f"once it has waited {STALL_NS / 1e3:g} µs after it could first run (docs/metrics.md, Boundness).")]
        if self.steps:
            out.append(Table("Boundness per step (work counted where it ran)", _STRETCH_COLS, self.steps))
        out.append(Table(f"Boundness over time ({len(self.windows)} equal windows)", _STRETCH_COLS, self.windows))
        stretches = self.steps or self.windows
        out.append(Plot("GPU busy share per " + ("step" if self.steps else "window"), "bars", {
            "x": [r["stretch"] for r in stretches], "y_title": "GPU busy (%)",
            "series": [{"name": "GPU busy (%)", "y": [100 * r["gpu_busy_share"] for r in stretches],
                        "labels": [r["label"] for r in stretches]}]}))
        idle = self.idle_by_cause()
        total = sum(idle.values())
        out.append(Table("GPU idle between activities on a stream, by cause (HTA's categories)",
                         (Col("cause", "cause"), Col("ns", "time", "ns"), Col("share", "share", "share")),
                         tuple({"cause": k, "ns": v, "share": v / total if total else 0.0} for k, v in idle.items())))
        return out


def run(view: View, options: Options) -> BoundnessResult:
    """Boundness of a view: overall, per step, per window, and HTA-style idle attribution."""
    overall = _rows(overall_columns(view))[0]
    return BoundnessResult(view.has_device, overall, _rows(step_columns(view)),
                           _rows(window_columns(view, options.windows)) if view.has_device else (),
                           tuple(_rows_plain(idle_columns(view))))


def _rows_plain(cols: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(cols)
    return [{k: cols[k][i] for k in keys} for i in range(len(cols[keys[0]]) if keys else 0)]
