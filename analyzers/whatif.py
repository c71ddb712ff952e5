"""What-if: predicted latency, GPU busy/idle and boundness when launches, host or device get
faster or slower, kernel chains are fused or a region runs as one CUDA graph.

The prediction replays the trace's own timeline (analyzers/_replay.py; model in docs/whatif.md).
With no knob it reproduces the measurement. Whatever the knobs, no two activities overlap on a
stream, so predicted GPU busy time and IL are never below the busiest stream's work.
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._domain import COMM_HOST_OP
from skiprof._result import Figure, Figures, Note, Result, Section

from . import _intervals as iv
from ._activity import segment_prev_max
from ._options import Options
from ._replay import NONE, Knobs, Timeline, host_map, simulate
from ._view import View
from .boundness import IdleCauses, label, overall_columns, pending_intervals
from .launch import summary

__all__ = ["Knobs", "Prediction", "replay", "prepare", "measured_against", "simulate", "Timeline", "predicted_scope", "WhatifResult", "run", "knob_text"]


class Prediction(msgspec.Struct, frozen=True):
    """Predicted latency, GPU busy/idle and boundness next to the measured ones (ns)."""

    il_ns: int
    gpu_busy_ns: int
    gpu_idle_ns: int
    boundness: str
    measured_il_ns: int
    measured_gpu_busy_ns: int
    measured_gpu_idle_ns: int
    measured_boundness: str
    removed_launches: int

    @property
    def il_change(self) -> float:
        """Predicted / measured latency - 1."""
        return self.il_ns / self.measured_il_ns - 1 if self.measured_il_ns else 0.0


def _device(tl: Timeline) -> iv.Intervals:
    return tl.busy


def predicted_scope(view: View, tl: Timeline, knobs: Knobs) -> iv.Intervals:
    """The replayed scope: from the origin to the last replayed end, or a step's mapped windows plus its device work."""
    dev = _device(tl)
    la = view.launches
    if view.windows:
        w = np.array(view.windows, np.int64)
        lo, hi = np.split(host_map(tl, la["ts"], la["ts"] + la["dur"], np.concatenate([w[:, 0], w[:, 1]]),
                                   knobs.host_scale, _by_end(view)), 2)
        return iv.union(np.concatenate([lo, dev[0]]), np.concatenate([np.maximum(hi, lo), dev[1]]))
    ends = [tl.host_end] + ([int(tl.call_end.max())] if tl.n_calls else []) + ([int(dev[1].max())] if len(dev[1]) else [])
    return np.array([tl.origin], np.int64), np.array([max(ends)], np.int64)


def _causes(view: View, tl: Timeline, knobs: Knobs) -> IdleCauses:
    """Busy and idle-by-cause intervals of the replayed timeline, as boundness reads the measured one."""
    la, ops = view.launches, view.ops
    call_of = _calls_of(view)
    placed = np.flatnonzero(tl.placed())
    # The previous replayed activity's end on each activity's stream, as per["prev_end_on_stream"] is measured.
    order = placed[np.lexsort((tl.act_start[placed], tl.act_stream[placed]))]
    prev_end = np.full(len(tl.act_start), NONE, np.int64)
    prev = segment_prev_max(tl.act_end[order].astype(np.float64), tl.act_stream[order])
    prev_end[order] = np.where(np.isnan(prev), NONE, np.nan_to_num(prev)).astype(np.int64)
    rows = placed[call_of[placed] >= 0]
    pending, stalled = pending_intervals(tl.call_end[call_of[rows]], tl.act_start[rows], prev_end[rows])
    comm = ops["name"].search(COMM_HOST_OP)
    c_lo, c_hi = np.split(host_map(tl, la["ts"], la["ts"] + la["dur"], np.concatenate([ops["ts"][comm], (ops["ts"] + ops["dur"])[comm]]),
                                   knobs.host_scale, _by_end(view)), 2)  # one mapping for both ends
    sync = iv.union(np.concatenate([tl.call_start[tl.blocking], c_lo]), np.concatenate([tl.call_end[tl.blocking], c_hi]))
    return IdleCauses(_device(tl), sync, pending, stalled)


def _by_end(view: View) -> np.ndarray:
    """The runtime calls by measured end, once per view (every replay maps host instants through it)."""
    la = view.launches
    return view.memo("calls_by_end", lambda: np.argsort(la["ts"] + la["dur"], kind="stable"))


def _calls_of(view: View) -> np.ndarray:
    """Row in view.launches of each activity's launch call (-1 for orphans): the replay graph's, built once per view."""
    from ._replay import _graph_of

    return _graph_of(view).k_call


def _measured(view: View) -> tuple[Any, str]:
    """The measured summary and boundness label, once per view (several knob settings are usually
    replayed on one view)."""
    return view.memo("measured", lambda: (summary(view), overall_columns(view)["label"][0]))


def prepare(view: View) -> None:
    """Build what every replay of ``view`` shares (the replay graph, the measured figures) now, so that
    forked replays inherit it instead of each building its own."""
    from ._replay import _graph_of

    _graph_of(view)
    _measured(view)


def replay(view: View, knobs: Knobs | None = None) -> Prediction:
    """Replay ``view`` with ``knobs``; the measured figures come from launch.summary and boundness."""
    knobs = knobs or Knobs()
    measured, m_label = _measured(view)
    tl = simulate(view, knobs)
    scope = predicted_scope(view, tl, knobs)
    il = iv.total(scope)
    causes = _causes(view, tl, knobs)
    busy = iv.intersect_total(scope, causes.busy)
    ev = causes.evidence(scope)
    return Prediction(
        il_ns=il, gpu_busy_ns=busy, gpu_idle_ns=il - busy,
        boundness=label(busy / il if il else 0.0, ev.cpu, ev.sync, ev.dependency, view.has_device),
        measured_il_ns=measured.il_ns, measured_gpu_busy_ns=measured.gpu_busy_ns,
        measured_gpu_idle_ns=measured.gpu_idle_ns, measured_boundness=m_label,
        removed_launches=len(tl.removed_calls),
    )


def device_knobs(knobs: Knobs) -> list[str]:
    """The knobs set that act on device work or its launches (a CPU-only run has none to act on)."""
    return [name for name, on in (("--launch-scale", knobs.launch_scale != 1.0), ("--device-scale", knobs.device_scale != 1.0),
                                  ("--fuse", bool(knobs.fuse)), ("--cuda-graph", knobs.cuda_graph is not None),
                                  ("--async-copies", knobs.async_copies)) if on]


def knob_text(knobs: Knobs) -> str:
    """The knobs in words, for titles."""
    parts = [f"launch x{knobs.launch_scale:g}", f"host x{knobs.host_scale:g}", f"device x{knobs.device_scale:g}"]
    if knobs.fuse:
        parts.append(f"{len(knobs.fuse)} fused chains")
    if knobs.cuda_graph:
        parts.append(f"graph over {knobs.cuda_graph}")
    if knobs.async_copies:
        parts.append("asynchronous copies")
    if knobs.offload:
        parts.append(f"{', '.join(knobs.offload)} off the critical path")
    return ", ".join(parts)


class WhatifResult(Result, msgspec.Struct, frozen=True):
    """A prediction beside the measurement it was made from."""

    scope: str
    knobs: Knobs
    prediction: Prediction
    #: With --compare: the second run's measured figures and the prediction's error against them.
    compare: dict[str, Any] | None = None
    has_device: bool = True

    name = "whatif"
    schema = "skiprof.whatif/2"
    title = "What-if"

    def to_dict(self) -> dict[str, Any]:
        k = self.knobs
        return {"schema": self.schema, "scope": self.scope, **msgspec.structs.asdict(self.prediction), "il_change": self.prediction.il_change,
                "knobs": {"launch_scale": k.launch_scale, "host_scale": k.host_scale, "device_scale": k.device_scale,
                          "fuse": [list(c) for c in k.fuse], "cuda_graph": k.cuda_graph, "async_copies": k.async_copies,
                          "offload": list(k.offload)}, "compare": self.compare}

    def sections(self) -> list[Section]:
        """Measured beside predicted figures (on a CPU-only scope the latency only, and which knobs did not apply)."""
        p = self.prediction
        head = (Figure("latency (IL), measured", p.measured_il_ns, "ns"), Figure("latency (IL), predicted", p.il_ns, "ns"),
                Figure("change", p.il_change, "share"))
        if not self.has_device:  # GPU figures would all be zero, and every label no-gpu-work
            unused = device_knobs(self.knobs)
            note = ("no device activity in this scope: only the host knobs (--host-scale, --offload) change a CPU-only run"
                    + (f"; {', '.join(unused)} had nothing to act on" if unused else ""))
            return [Figures(f"What-if ({knob_text(self.knobs)})", head), Note(note, "warning" if unused else "note"),
                    *self._compare_sections()]
        return [Figures(f"What-if ({knob_text(self.knobs)})", head + (
            Figure("GPU busy, measured", p.measured_gpu_busy_ns, "ns"), Figure("GPU busy, predicted", p.gpu_busy_ns, "ns"),
            Figure("GPU idle, measured", p.measured_gpu_idle_ns, "ns"), Figure("GPU idle, predicted", p.gpu_idle_ns, "ns"),
            Figure("boundness, measured", p.measured_boundness, "label"), Figure("boundness, predicted", p.boundness, "label"),
            Figure("launch calls removed", p.removed_launches, "count")))] + self._compare_sections()

    def _compare_sections(self) -> list[Section]:
        c = self.compare
        if c is None:
            return []
        return [Figures(f"Against a real run ({c['trace']}, {c['scope']})", (
            Figure("latency (IL), predicted", self.prediction.il_ns, "ns"), Figure("latency (IL), measured there", c["il_ns"], "ns"),
            Figure("prediction error", c["il_error"], "share"),
            Figure("GPU busy, predicted", self.prediction.gpu_busy_ns, "ns"), Figure("GPU busy, measured there", c["gpu_busy_ns"], "ns"),
            Figure("boundness, predicted", self.prediction.boundness, "label"),
            Figure("boundness, measured there", c["boundness"], "label")))]


def measured_against(prediction: Prediction, other: View, name: str | None = None) -> dict[str, Any]:
    """A second run's measured latency, GPU busy and boundness beside a prediction, and the error
    (predicted / measured - 1): how a prediction is checked (``skiprof whatif A ... --compare B``)."""
    s = summary(other)
    return {"trace": name or str(other.trace.path), "scope": other.label, "il_ns": s.il_ns, "gpu_busy_ns": s.gpu_busy_ns,
            "boundness": overall_columns(other)["label"][0],
            "il_error": prediction.il_ns / s.il_ns - 1 if s.il_ns else None}


def run(view: View, options: Options) -> WhatifResult:
    """The what-if prediction for ``options.knobs`` (no change when None)."""
    knobs = options.knobs or Knobs()
    return WhatifResult(view.label, knobs, replay(view, knobs), has_device=view.has_device)
