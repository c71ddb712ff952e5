"""The report: every analyzer's result for one view, as data, and its stable JSON form."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Report", "build_report", "to_dict", "REPORT_SCHEMA"]

REPORT_SCHEMA = "skiprof.report/1"


@dataclass(frozen=True)
class Report:
    """All sections of ``skiprof report``; renderers only format this."""

    path: str
    scope: str
    rank: int
    has_device: bool
    launch: Any
    hta: Any
    steps: pd.DataFrame
    windows: pd.DataFrame
    idle: pd.DataFrame
    phases: Any
    memcpy: pd.DataFrame
    top_kernels: pd.DataFrame
    top_kernels_by_count: pd.DataFrame
    top_ops: pd.DataFrame
    overall: str
    notes: list[str]


def build_report(t: Any, *, rank: int | None = None, step: int | None = None, region: str | None = None,
                 top: int = 10, windows: int = 10) -> Report:
    """Run the analyzers on one view of ``t``."""
    from .analyzers import boundness, breakdown, hta, kernels, launch, select

    v = select(t, rank=rank, step=step, region=region)
    per = launch.per_activity(v)
    s = launch.summary(v, per)
    q_share = s.queue_ns / s.tklqt_ns if s.tklqt_ns else 0.0
    idle_share = s.gpu_idle_ns / s.il_ns if s.il_ns else 0.0
    notes = []
    if not v.has_device:
        notes.append("CPU-only trace: launch/queue metrics need a trace with device activity "
                     "(GPU kernels); the host breakdown and phase shares below still apply.")
    if s.orphan_kernels:
        notes.append(f"{s.orphan_kernels} kernels have no launch call in the trace and are left out of launch/queue figures.")
    if s.clipped_activities:
        notes.append(f"{s.clipped_activities} activities started before their launch call (clock skew); their launch/queue time counts as 0.")
    return Report(
        path=str(t.path), scope=v.label, rank=v.rank, has_device=v.has_device, launch=s,
        hta=hta.temporal_breakdown(v), steps=boundness.per_step(v, per), windows=boundness.per_window(v, windows, per),
        idle=boundness.idle_attribution(v), phases=breakdown.phases(v), memcpy=breakdown.memcpy(v),
        top_kernels=kernels.top_kernels(v, top), top_kernels_by_count=kernels.top_kernels(v, top, by="count"),
        top_ops=kernels.top_ops(v, top, per), overall=boundness.label(q_share, idle_share, s.kernels), notes=notes,
    )


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in df.to_dict("records")]


def to_dict(r: Report) -> dict[str, Any]:
    """The JSON document (keys documented in docs/metrics.md, "Report JSON")."""
    s = r.launch
    idle_totals = r.idle.groupby("category")["idle_ns"].sum() if len(r.idle) else pd.Series(dtype="int64")
    idle_all = int(idle_totals.sum()) if len(idle_totals) else 0
    return {
        "schema": REPORT_SCHEMA,
        "trace": r.path,
        "scope": r.scope,
        "rank": r.rank,
        "has_device_activity": r.has_device,
        "tklqt_ns": s.tklqt_ns,
        "queue_ns": s.queue_ns,
        "launch_ns": s.launch_ns,
        "launch_delay_hta_ns": s.launch_delay_hta_ns,
        "akd_ns": s.akd_ns,
        "il_ns": s.il_ns,
        "gpu_busy_ns": s.gpu_busy_ns,
        "gpu_idle_ns": s.gpu_idle_ns,
        "gpu_utilization": s.gpu_utilization,
        "kernels": s.kernels,
        "linked_kernels": s.linked_kernels,
        "orphan_kernels": s.orphan_kernels,
        "device_activities": s.activities,
        "kernels_per_s": s.kernels_per_s,
        "launch_calls": s.launch_calls,
        "top_level_ops": s.top_level_ops,
        "launches_per_top_op": s.launches_per_top_op,
        "host_launch_api_ns": s.launch_api_ns,
        "host_framework_ns": s.framework_ns,
        "hta": {"window_ns": r.hta.window_ns, "idle_share": r.hta.idle_share, "compute_share": r.hta.compute_share,
                "non_compute_share": r.hta.non_compute_share},
        "boundness": {
            "overall": r.overall,
            "steps": _records(r.steps),
            "windows": _records(r.windows),
            "idle_attribution": {k: {"ns": int(v), "share": (int(v) / idle_all if idle_all else 0.0)}
                                 for k, v in idle_totals.items()},
        },
        "phases": {row["phase"]: {"ns": int(row["ns"]), "share": float(row["share"])}
                   for row in r.phases.table.to_dict("records")},
        "device_phases": {row["phase"]: {"ns": int(row["ns"]), "share": float(row["share"])}
                          for row in r.phases.device_table.to_dict("records")},
        "memcpy": _records(r.memcpy),
        "top_kernels": _records(r.top_kernels),
        "top_kernels_by_count": _records(r.top_kernels_by_count),
        "top_ops": _records(r.top_ops),
        "notes": r.notes,
    }
