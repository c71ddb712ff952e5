"""Where the end-to-end time goes: preprocessing, data movement, compute, compilation, communication, ...

Every instant of the view's scope gets exactly one phase, the first source in SOURCES that is
active then, so the phase times add up to the scope's length, the IL (docs/metrics.md, "Phase
breakdown"). Device activity comes first: while the GPU works, that is what the time is spent on.
On traces without device activity the host ops that do the work are the compute. Time no event
covers is host overhead (Python between ops) unless CPU-time samples taken during capture show
that the main thread was waiting then: that part is idle. Sources: the phase list follows "Beyond
Inference" (DAC 2024); the priority idea follows the TensorBoard profiler's step time breakdown.
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._domain import COMM_HOST_OP, COMM_KERNEL, COMPILE_OP, HOST_COPY_OPS, REGION_PHASES, WAIT_FUNCTION
from skiprof._result import Col, Note, Plot, Result, Section, Table
from skiprof.ingest._link import distinct

from . import _intervals as iv
from ._cols import Cols
from ._frame import frame
from ._options import Options
from ._view import View, read_cols
from .boundness import blocked_intervals, idle_causes

__all__ = ["PHASES", "Phases", "phases", "memcpy", "memcpy_columns", "REGION_PHASES", "HOST_COPY_OPS", "CPU_COUNTER",
           "PhasesResult", "MemcpyResult", "run", "run_memcpy"]

#: The phases, in the order reports list them.
PHASES = ("communication", "compute", "compile", "data_movement", "preprocessing", "postprocessing",
          "host_overhead", "idle")
CPU_COUNTER = "main_thread_cpu_ns"


class Phases(msgspec.Struct, frozen=True):
    """Phase times over the view's scope (ns), and GPU busy time split the same way."""

    span_ns: int
    names: tuple[str, ...]
    ns: tuple[int, ...]
    device_names: tuple[str, ...]
    device_ns: tuple[int, ...]
    device_busy_ns: int
    cpu_sampled: bool

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


def _iv(c: Cols, mask: np.ndarray | None = None) -> iv.Intervals:
    ts, dur = c["ts"], c["dur"]
    if mask is not None:
        ts, dur = ts[mask], dur[mask]
    return iv.union(ts, ts + dur)


def _merge(parts: list[iv.Intervals]) -> iv.Intervals:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return iv.union(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def _region_sources(view: View) -> list[tuple[str, iv.Intervals]]:
    """skiprof.region phases and DataLoader iterations; compute regions only without a GPU."""
    r = view.regions
    sk = r["kind"].eq("skiprof")
    out = []
    for name, phase in REGION_PHASES.items():
        if phase == "compute" and view.has_device:
            continue  # with a GPU, compute means kernels; a compute region's host time is overhead
        out.append((phase, _iv(r, sk & r["name"].eq(name))))
    out.append(("preprocessing", _iv(r, r["kind"].eq("dataloader"))))
    return out


def _host_compute(ops: Cols) -> iv.Intervals:
    """Top-level host ops that do the work: every cpu_op without a cpu_op above it, except copies,
    collectives and compilation (they have phases of their own)."""
    top = ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0)
    other = ops["name"].isin(HOST_COPY_OPS) | ops["name"].search(COMM_HOST_OP) | ops["name"].search(COMPILE_OP)
    return _iv(ops, top & ~other)


def _python_waits(view: View) -> iv.Intervals:
    """Time a thread that runs ops spent in a Python wait (sleep, a lock, a queue's get; with_stack
    frames) while no thread ran an op or a runtime call. A thread that never runs an op (a harness
    or supervisor waiting for the worker, as on tl_h100_bert_small_inference, whose main thread
    waits 4.9 s around the whole run) says nothing about the work; nor does a wait while another
    thread works."""
    ops, la = view.ops, view.launches
    cpu_op = ops["cat"].eq("cpu_op")
    workers = distinct(ops["tid"][cpu_op])
    waits = ops["cat"].eq("python_function") & ops["name"].search(WAIT_FUNCTION) & np.isin(ops["tid"], workers)
    if not waits.any():
        return _iv(ops, waits)
    return iv.subtract(_iv(ops, waits), _merge([_iv(ops, cpu_op), _iv(la)]))


def sources(view: View) -> list[tuple[str, iv.Intervals]]:
    """(phase, intervals) in priority order; an instant belongs to the first source active then."""
    k, ops, la = view.kernels, view.ops, view.launches
    is_kernel = k["kind"].eq("kernel")
    is_comm = k["name"].search(COMM_KERNEL) & is_kernel
    cpu_only = not view.has_device
    out = [("communication", _iv(k, is_comm)), ("compute", _iv(k, is_kernel & ~is_comm)),
           ("data_movement", _iv(k, ~is_kernel)), ("compile", _iv(ops, ops["name"].search(COMPILE_OP)))]
    out += _region_sources(view)
    if cpu_only:  # a collective holds the CPU rank; on a GPU trace its host op only enqueues a kernel
        out += [("communication", _iv(ops, ops["name"].search(COMM_HOST_OP))), ("compute", _host_compute(ops))]
    out.append(("data_movement", _iv(ops, ops["name"].isin(HOST_COPY_OPS))))
    out.append(("idle", _merge([blocked_intervals(view), _python_waits(view)])))
    out.append(("host_overhead", _merge([_iv(ops, ~ops["cat"].eq("user_annotation")), _iv(la)])))
    return out


def _cpu_samples(view: View) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(times, cumulative CPU ns, sampled tid) of the capture's main-thread CPU samples, if any."""
    tid = view.trace.meta.capture.cpu_sampled_tid if view.trace.meta.capture else None
    if not isinstance(tid, int):
        return None
    c = read_cols(view.trace, "counters")
    sel = c["name"].eq(CPU_COUNTER) & (c["rank"] == view.rank)
    if sel.sum() < 2:
        return None
    order = np.argsort(c["ts"][sel], kind="stable")
    return c["ts"][sel][order], c["value"][sel][order], tid


def split_uncovered(view: View, left: iv.Intervals) -> tuple[int, int]:
    """(host overhead, idle) of the time no source covers, from main-thread CPU samples.

    In each sample interval the thread's CPU time beyond what its ops took (ops are taken to run
    on the CPU throughout) ran between ops; the rest of the uncovered time it waited.
    Without samples, the part during which launched work was held back by a dependency
    (boundness's dependency idle) is idle: the run waited on something the trace does not show,
    which boundness and the critical path say too; the rest is host overhead.
    """
    samples = _cpu_samples(view)
    total = iv.total(left)
    if samples is None:
        held = iv.intersect_total(left, idle_causes(view).dependency) if view.has_device else 0
        return total - held, held
    t, cpu, tid = samples
    ops, la = view.ops, view.launches
    # Time the thread spent inside ops and runtime calls (annotations and steps only mark time).
    mine = (ops["tid"] == tid) & ops["cat"].eq("cpu_op")
    calls = la["tid"] == tid
    on_thread = iv.union(np.concatenate([ops["ts"][mine], la["ts"][calls]]),
                         np.concatenate([(ops["ts"] + ops["dur"])[mine], (la["ts"] + la["dur"])[calls]]))
    gap = np.diff(iv.covered_before(left, t))
    busy = np.diff(iv.covered_before(on_thread, t))
    worked = np.clip(np.diff(cpu) - busy, 0, gap)
    idle = int((gap - worked).sum())
    return total - idle, idle


def phases(view: View) -> Phases:
    """Split the view's scope into phases by priority (once per view: the report, the fixes and the
    export read it)."""
    return view.memo("phases", lambda: _phases(view))


def _phases(view: View) -> Phases:
    """The phase split itself: each source takes what higher-priority ones left of the scope; the rest is host
    overhead or idle."""
    left = view.scope
    acc = dict.fromkeys(PHASES, 0)
    srcs = sources(view)  # built once: the device split below reads its first three
    for phase, src in srcs:
        acc[phase] += iv.intersect_total(left, src)
        left = iv.subtract(left, src)
    host, idle = split_uncovered(view, left)
    acc["host_overhead"] += host
    acc["idle"] += idle
    busy = _iv(view.kernels)
    dev_names = ("communication", "compute", "data_movement")
    dev_left, dev_ns = busy, []
    for _, src in srcs[:3]:
        dev_ns.append(iv.intersect_total(dev_left, src))
        dev_left = iv.subtract(dev_left, src)
    return Phases(iv.total(view.scope), PHASES, tuple(acc[p] for p in PHASES), dev_names, tuple(dev_ns),
                  iv.total(busy), _cpu_samples(view) is not None)


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


_PHASE_COLS = (Col("phase", "phase"), Col("ns", "time", "ns"), Col("share", "share", "share"))
_COPY_COLS = (Col("copy_kind", "direction"), Col("host_mem", "host memory"), Col("count", "count", "count"),
              Col("bytes", "bytes", "bytes"), Col("ns", "time", "ns"), Col("gb_per_s", "speed", "GB/s"))


class PhasesResult(Result, msgspec.Struct, frozen=True):
    """End-to-end time split into phases, and GPU busy time split the same way."""

    phases: Phases
    has_device: bool

    name = "phases"
    schema = "skiprof.phases/2"
    title = "Phases of end-to-end time"

    def to_dict(self) -> dict[str, Any]:
        p = self.phases
        return {"schema": self.schema, "span_ns": p.span_ns, "cpu_time_sampled": p.cpu_sampled,
                "by_phase": {n: {"ns": int(ns), "share": ns / p.span_ns if p.span_ns else 0.0} for n, ns in zip(p.names, p.ns)},
                "device": {n: {"ns": int(ns), "share": ns / p.device_busy_ns if p.device_busy_ns else 0.0}
                           for n, ns in zip(p.device_names, p.device_ns)}}

    def sections(self) -> list[Section]:
        """The phase table, the phase bar and the device split, with a note where CPU-time samples are missing."""
        p = self.phases
        rows = tuple({"phase": n, "ns": ns, "share": ns / p.span_ns if p.span_ns else 0.0} for n, ns in zip(p.names, p.ns))
        parts = [(n, 100 * ns / p.span_ns if p.span_ns else 0.0) for n, ns in zip(p.names, p.ns)]
        out: list[Section] = [Table("Phases of end-to-end time", _PHASE_COLS, rows),
                              Plot("Phase breakdown (% of end-to-end time)", "stacked",
                                   {"label": "end-to-end", "unit": "%", "parts": parts})]
        if not p.cpu_sampled and p.ns[p.names.index("host_overhead")]:
            out.append(Note("no CPU-time samples in this trace: time between ops counts as host overhead (idle only "
                            "while launched work was held back by a dependency); a capture with skiprof trace "
                            "separates it into host overhead and idle (waiting)."))
        if self.has_device:
            b = p.device_busy_ns
            out.append(Table("GPU busy time by phase", _PHASE_COLS, tuple(
                {"phase": n, "ns": ns, "share": ns / b if b else 0.0} for n, ns in zip(p.device_names, p.device_ns))))
        return out


class MemcpyResult(Result, msgspec.Struct, frozen=True):
    """Device copies by direction and host memory kind."""

    rows: tuple[dict[str, Any], ...]

    name = "memcpy"
    schema = "skiprof.memcpy/2"
    title = "Data movement"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "copies": list(self.rows)}

    def sections(self) -> list[Section]:
        return [Table("Device copies", _COPY_COLS, self.rows)] if self.rows else []


def run(view: View, options: Options) -> PhasesResult:
    """The phase breakdown of a view."""
    return PhasesResult(phases(view), view.has_device)


def run_memcpy(view: View, options: Options) -> MemcpyResult:
    """The data-movement table of a view."""
    cols = memcpy_columns(view)
    return MemcpyResult(tuple({k: cols[k][i] for k in cols} for i in range(len(cols["count"]))))
