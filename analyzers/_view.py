"""What an analysis looks at: one rank of a trace, optionally narrowed to a step or a region."""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar, cast

import msgspec
import numpy as np

from skiprof._errors import UsageError
from skiprof._schema import VIEW_READS, VIEW_TABLES

from . import _intervals as iv
from ._activity import activity_columns
from ._cols import Cols, from_arrow

T = TypeVar("T")
_STEP_NAME = re.compile(r"^ProfilerStep#\d+$")

__all__ = ["View", "select", "in_windows", "read_cols"]


def read_cols(trace: Any, name: str) -> Cols:
    """A table as the analyses read it: the columns of VIEW_READS (input shapes and other wide columns
    stay on disk), strings dictionary-encoded by the Parquet reader as it decodes them (no string
    per row is ever made here)."""
    return from_arrow(trace.table(name, VIEW_READS[name], dictionary=True))


class View(msgspec.Struct, frozen=True, dict=True):
    """The rows of one rank in scope (as Cols), and the time windows that define the scope."""

    trace: Any
    rank: int
    ops: Cols
    launches: Cols
    kernels: Cols
    regions: Cols
    windows: list[tuple[int, int]] | None  # None: the whole trace
    label: str
    step: int | None = None  # the step or region it was narrowed to, as select() was asked
    region: str | None = None

    def scope_args(self) -> list[str]:
        """The command-line options that select this view again (--rank where the trace has several ranks)."""
        out = ["--rank", str(self.rank)] if len(self.trace.ranks) > 1 else []
        if self.step is not None:
            out += ["--step", str(self.step)]
        if self.region is not None:
            out += ["--region", self.region]
        return out

    @property
    def has_device(self) -> bool:
        return len(self.kernels) > 0

    @cached_property
    def per(self) -> dict[str, Any]:
        """Launch and queue time of every linked device activity (analyzers/_activity.py), computed once."""
        return activity_columns(self.kernels)

    @cached_property
    def _memo(self) -> dict[str, Any]:
        return {}

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per view under ``key``: figures that several analyses of one
        report read (the phase split, the overall label, the replay graph). Callers must not change
        what it returns."""
        if key not in self._memo:
            self._memo[key] = make()
        return cast(T, self._memo[key])

    @cached_property
    def scope(self) -> iv.Intervals:
        """The time this view covers, as disjoint intervals: the IL window of docs/metrics.md.

        Whole trace: from the first host op or annotation (steps and Python frames aside), launch
        call or device activity to the last end of any of them. A step or region: its windows plus the time its device work ran
        after them.
        """
        k = self.kernels
        if self.windows:
            lo = np.array([w[0] for w in self.windows] + k["ts"].tolist(), np.int64)
            hi = np.array([w[1] for w in self.windows] + (k["ts"] + k["dur"]).tolist(), np.int64)
            return iv.union(lo, hi)
        ops, la = self.ops, self.launches
        host = self.bounding_ops()
        starts = [a for a in (ops["ts"][host], la["ts"], k["ts"]) if len(a)]
        ends = [a for a in ((ops["ts"] + ops["dur"])[host], la["ts"] + la["dur"], k["ts"] + k["dur"]) if len(a)]
        if not starts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        first = min(int(a.min()) for a in starts)  # type: ignore[misc]  # numpy's stubs type this loosely
        last = max(int(a.max()) for a in ends)  # type: ignore[misc]
        return np.array([first], np.int64), np.array([max(last, first)], np.int64)

    def bounding_ops(self) -> np.ndarray:
        """Ops that bound the scope: not Python frames (with_stack: they wrap the script's start-up)
        and not ProfilerStep annotations (steps mark time; the last one is often left open long after
        the work, as a capture's tail always is)."""
        ops = self.ops
        steps = ops["cat"].eq("user_annotation") & ops["name"].search(_STEP_NAME)
        return ~ops["cat"].eq("python_function") & ~steps

    def tail_step_mask(self) -> np.ndarray:
        """Ops rows of the ProfilerStep a capture left open (see steps())."""
        calls = self.trace.meta.capture.step_calls if self.trace.meta.capture else None
        if not isinstance(calls, int):
            return np.zeros(len(self.ops), bool)
        return self.ops["name"].eq(f"ProfilerStep#{calls}") & self.ops["cat"].eq("user_annotation")

    def span(self) -> tuple[int, int]:
        """[first start, last end) of the scope."""
        s, e = self.scope
        return (int(s[0]), int(e[-1])) if len(s) else (0, 0)

    @property
    def il_ns(self) -> int:
        """Length of the scope (the SKIP paper's inference latency for a whole trace)."""
        return iv.total(self.scope)

    def steps(self) -> Cols:
        """Step regions in time order, within the scope's records, without the tail after the last
        skiprof.step() of a capture.

        Under ``skiprof trace`` the profiler opens ProfilerStep#N at the N-th step() call and only a
        further call closes it; the one still open when recording stops is not an iteration.
        """
        r = self.regions
        sel = r["kind"].eq("step")
        calls = self.trace.meta.capture.step_calls if self.trace.meta.capture else None
        if isinstance(calls, int):
            sel &= r["step"] < calls
        steps = r.take(sel)
        steps = steps.take(np.argsort(steps["ts"], kind="stable"))
        return _within_records(steps, self.span()) if len(steps) else steps


def _within_records(steps: Cols, span: tuple[int, int]) -> Cols:
    """Steps cut to the scope's first and last recorded instants (``span``). The first step often
    opens long before anything is recorded (under skiprof trace: while the script imports its
    libraries, 2 s on traces/serving-llama), and the last is often left open long after (13 s
    around 1.4 ms of work on hta_a100_triton_culaunch); that time is in no figure, IL included, so
    a step's duration must not count it either. A step with nothing left is dropped."""
    lo, hi = span
    ts = np.clip(steps["ts"], lo, hi)
    end = np.clip(steps["ts"] + steps["dur"], lo, hi)
    data = dict(steps.data)
    data["ts"], data["dur"] = ts, end - ts
    return Cols(data).take(end > ts)


def in_windows(ts: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """Rows whose ``ts`` falls in any [lo, hi) window (by bisection over the merged windows: a region
    may occur thousands of times)."""
    if not windows:
        return np.zeros(len(ts), bool)
    lo, hi = iv.union(np.array([w[0] for w in windows], np.int64), np.array([w[1] for w in windows], np.int64))
    i = np.searchsorted(lo, ts, side="right") - 1
    return (i >= 0) & (ts < hi[np.maximum(i, 0)])


def select(t: Any, *, rank: int | None = None, step: int | None = None, region: str | None = None) -> View:
    """The view of ``t`` for one rank (default: the lowest), optionally one step or one named region.

    A step or region that the trace does not have is an error, never a silent fall back to everything.
    """
    ranks = t.ranks
    if rank is None:
        rank = min(ranks)
    elif rank not in ranks:
        raise UsageError(f"{t.path}: no rank {rank} (ranks: {', '.join(map(str, ranks))})")
    tables = {}
    for name in VIEW_TABLES:
        c = read_cols(t, name)
        tables[name] = c.take(c["rank"] == rank) if len(ranks) > 1 else c
    ops, launches, kernels, regions = tables["ops"], tables["launches"], tables["kernels"], tables["regions"]
    if step is None and region is None:
        return View(t, rank, ops, launches, kernels, regions, None, f"rank {rank}")
    if step is not None and region is not None:
        raise UsageError("--step and --region cannot be combined")
    is_step = regions["kind"].eq("step")
    if step is not None:
        chosen = regions.take(is_step & (regions["step"] == step))
        # Under skiprof trace the step still open when recording stopped is no iteration (see View.steps):
        # it may be asked for, and says what it is, but the per-step tables leave it out.
        calls = t.meta.capture.step_calls if t.meta.capture else None
        opened = calls if isinstance(calls, int) else None
        if not len(chosen):
            have = sorted(set(regions["step"][is_step].tolist()))
            listed = ", ".join(f"{n} (the open tail after the last skiprof.step())" if opened is not None and n >= opened
                               else str(n)
                               for n in have)
            raise UsageError(f"{t.path}: no step {step} (steps: {listed or 'none'})")
        label = f"rank {rank}, step {step}" + (", the open tail" if opened is not None and step >= opened else "")
    else:
        chosen = regions.take(regions["name"].eq(region) & ~regions["kind"].eq("gpu_annotation"))
        if not len(chosen):
            names = regions["name"].take(~is_step).tolist()
            have = sorted({n for n in names if n})[:12]
            raise UsageError(f"{t.path}: no region {region!r} (regions: {', '.join(have) or 'none'})")
        label = f"rank {rank}, region {region} (x{len(chosen)})"
    # Ops and regions are picked by the step's own window: its ProfilerStep rows stay in its view.
    marked = [(int(a), int(a + d)) for a, d in zip(chosen["ts"], chosen["dur"])]
    if step is not None:  # a step lies within the rank's records (see _within_records)
        chosen = _within_records(chosen, View(t, rank, ops, launches, kernels, regions, None, "").span())
        if not len(chosen):
            raise UsageError(f"{t.path}: step {step} holds nothing that was recorded")
    windows = [(int(a), int(a + d)) for a, d in zip(chosen["ts"], chosen["dur"])]
    # Device work belongs to the window its launch call was made in (orphans: where they ran).
    anchor = np.where(kernels["launch_id"] >= 0, kernels["launch_ts"], kernels["ts"])
    return View(
        t, rank,
        ops.take(in_windows(ops["ts"], marked)),
        launches.take(in_windows(launches["ts"], windows)),
        kernels.take(in_windows(anchor, windows)),
        regions.take(in_windows(regions["ts"], marked)),
        windows, label, step, region,
    )
