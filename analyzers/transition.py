"""Where a workload turns from CPU-bound to GPU-bound across a sweep (the SKIP paper's TKLQT method).

Two criteria, both reported (docs/metrics.md, "Transition"):
  queue > launch: the first configuration, in order of the swept value, whose queue time per kernel
                  exceeds its launch time per kernel;
  knee:           the breakpoint of a two-segment linear fit of TKLQT against log2(value), chosen by
                  least squares: the curve is flat while launches dominate and climbs once kernels queue.
Confidence: high when they agree (same or neighbouring configuration), low when they disagree,
none when the sweep has no device activity.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from skiprof._result import Col, Figure, Figures, Note, Plot, Result, Section, Table

from ._view import select
from .launch import summary

__all__ = ["run_figures", "per_config", "locate", "Transition", "TransitionResult"]

FIELDS = ["value", "runs", "tklqt_ns", "il_ns", "akd_ns", "gpu_idle_share", "queue_share", "launch_share",
          "launch_ns_per_kernel", "queue_ns_per_kernel"]


def run_figures(t: Any) -> dict[str, float]:
    """The per-run figures of one trace folder."""
    v = select(t)
    s = summary(v)
    n = max(s.kernels, 1)
    return {
        "tklqt_ns": s.tklqt_ns, "il_ns": s.il_ns, "akd_ns": s.akd_ns,
        "gpu_idle_share": s.gpu_idle_ns / s.il_ns if s.il_ns else 0.0,
        "queue_share": s.queue_ns / s.tklqt_ns if s.tklqt_ns else 0.0,
        "launch_share": s.launch_ns / s.tklqt_ns if s.tklqt_ns else 0.0,
        "launch_ns_per_kernel": s.launch_ns / n, "queue_ns_per_kernel": s.queue_ns / n, "kernels": s.kernels,
    }


def per_config(rows: list[tuple[float, dict[str, float]]]) -> dict[str, list[Any]]:
    """Mean of each figure over the repeats of each swept value, values in increasing order."""
    by: dict[float, list[dict[str, float]]] = {}
    for value, figs in rows:
        by.setdefault(value, []).append(figs)
    out: dict[str, list[Any]] = {f: [] for f in FIELDS}
    for value in sorted(by):
        runs = by[value]
        out["value"].append(value)
        out["runs"].append(len(runs))
        for f in FIELDS[2:]:
            out[f].append(float(np.mean([r[f] for r in runs])))
    return out


@dataclass(frozen=True)
class Transition:
    """The located transition: each criterion's value (None when not found) and how sure."""

    queue_over_launch: float | None
    knee: float | None
    confidence: str
    reason: str


def _knee(x: np.ndarray, y: np.ndarray) -> float | None:
    """Breakpoint of the best two-segment (continuous at the break) least-squares fit; None under 4 points."""
    if len(x) < 4 or np.ptp(y) == 0:
        return None
    best, best_err = None, math.inf
    for k in range(1, len(x) - 1):
        # Basis: intercept, slope, and a hinge that starts at x[k].
        a = np.column_stack([np.ones_like(x), x, np.maximum(x - x[k], 0)])
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        err = float(((a @ coef - y) ** 2).sum())
        if coef[2] > 0 and err < best_err:  # only a bend upwards is a CPU->GPU transition
            best, best_err = k, err
    return None if best is None else float(2 ** x[best])


def locate(cfg: dict[str, list[Any]]) -> Transition:
    """Apply both criteria to per_config output."""
    values = cfg["value"]
    if not values or not any(t > 0 for t in cfg["tklqt_ns"]):
        return Transition(None, None, "none", "no device activity in the sweep: launch/queue time is zero")
    qol = next((v for v, q, lch in zip(values, cfg["queue_ns_per_kernel"], cfg["launch_ns_per_kernel"]) if q > lch), None)
    knee = _knee(np.log2(np.array(values, dtype=float)), np.array(cfg["tklqt_ns"], dtype=float))
    if qol is None and knee is None:
        return Transition(None, None, "low", "launch time dominates everywhere: CPU-bound over the whole sweep")
    if qol is None or knee is None:
        return Transition(qol, knee, "medium", "only one criterion found a transition")
    i, j = values.index(qol), values.index(knee)
    if abs(i - j) <= 1:
        return Transition(qol, knee, "high", "both criteria agree (same or neighbouring configuration)")
    return Transition(qol, knee, "low", "the criteria disagree")


_T_COLS = (Col("value", "value", "number"), Col("runs", "runs", "count"), Col("tklqt_ns", "TKLQT", "ns"),
           Col("il_ns", "IL", "ns"), Col("akd_ns", "AKD", "ns", "us"), Col("gpu_idle_share", "GPU idle", "share"),
           Col("queue_share", "queue", "share"), Col("launch_share", "launch", "share"))


@dataclass(frozen=True)
class TransitionResult(Result):
    """Per-configuration figures of a sweep and where it turns from CPU- to GPU-bound."""

    param: str
    table: dict[str, list[Any]]
    transition: Transition
    failed: tuple[dict[str, Any], ...]

    name = "transition"
    schema = "skiprof.transition/2"
    title = "CPU- to GPU-bound transition"

    def rows(self) -> list[dict[str, Any]]:
        return [{k: self.table[k][i] for k in self.table} for i in range(len(self.table["value"]))]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "param": self.param, "configurations": self.rows(),
                "transition": asdict(self.transition), "failed_runs": list(self.failed)}

    def sections(self) -> list[Section]:
        """The per-configuration table of the sweep and where each criterion places the transition."""
        tr = self.transition

        def at(v: float | None) -> str:
            return "not found" if v is None else f"{self.param}={v:g}"

        cols = (Col("value", self.param, "number"), *_T_COLS[1:])
        out: list[Section] = [
            Table(f"Sweep over {self.param}", cols, tuple(self.rows())),
            Figures("Transition", (Figure("queue > launch at", at(tr.queue_over_launch)), Figure("TKLQT knee at", at(tr.knee)),
                                   Figure("confidence", f"{tr.confidence} ({tr.reason})"))),
            Plot(f"TKLQT, IL and GPU idle over {self.param}", "lines", {
                "x": self.table["value"], "x_title": self.param, "log_x": True, "y_title": "ms", "y2_title": "GPU idle (%)",
                "series": [{"name": "TKLQT (ms)", "y": [v / 1e6 for v in self.table["tklqt_ns"]]},
                           {"name": "IL (ms)", "y": [v / 1e6 for v in self.table["il_ns"]]},
                           {"name": "GPU idle (%)", "y": [100 * v for v in self.table["gpu_idle_share"]], "axis": "y2"}],
                "vlines": [(v, n) for v, n in ((tr.queue_over_launch, "queue > launch"), (tr.knee, "TKLQT knee")) if v is not None]}),
        ]
        out += [Note(f"run {r['run']} ({r['config']}) {r['status']}: {r.get('error', '')}", "warning") for r in self.failed]
        return out
