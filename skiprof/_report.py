"""The report: every analyzer's result for one view, as data, and its stable JSON form.

Built from the analyzers' column dicts, not DataFrames, so that ``skiprof report``
never pays for importing pandas.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Report", "build_report", "to_dict", "REPORT_SCHEMA"]

REPORT_SCHEMA = "skiprof.report/1"


@dataclass(frozen=True)
class Report:
    """All sections of ``skiprof report``; renderers only format this. Tables are lists of row dicts."""

    path: str
    scope: str
    rank: int
    has_device: bool
    launch: Any
    hta: Any
    steps: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    idle: list[dict[str, Any]]
    phases: Any
    memcpy: list[dict[str, Any]]
    top_kernels: list[dict[str, Any]]
    top_kernels_by_count: list[dict[str, Any]]
    top_ops: list[dict[str, Any]]
    overall: str
    notes: list[str]
    scenario_metrics: list[dict[str, Any]]
    regions: list[dict[str, Any]]

    def idle_by_cause(self) -> dict[str, int]:
        """Idle gaps summed over all streams, per cause."""
        out: dict[str, int] = {}
        for row in self.idle:
            out[row["category"]] = out.get(row["category"], 0) + row["idle_ns"]
        return out


def build_report(t: Any, *, rank: int | None = None, step: int | None = None, region: str | None = None,
                 top: int = 10, windows: int = 10) -> Report:
    """Run the analyzers on one view of ``t``."""
    from .analyzers import boundness, breakdown, hta, kernels, launch, scenario, select
    from .analyzers._frame import rows

    v = select(t, rank=rank, step=step, region=region)
    per = v.per
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
        hta=hta.temporal_breakdown(v), steps=rows(boundness.step_columns(v, per)),
        windows=rows(boundness.window_columns(v, windows, per)), idle=rows(boundness.idle_columns(v)),
        phases=breakdown.phases(v), memcpy=rows(breakdown.memcpy_columns(v)),
        top_kernels=rows(kernels.kernel_columns(v, top)), top_kernels_by_count=rows(kernels.kernel_columns(v, top, by="count")),
        top_ops=rows(kernels.op_columns(v, top, per)), overall=boundness.overall_columns(v)["label"][0], notes=notes,
        scenario_metrics=rows(scenario.recorded_columns(v)), regions=rows(scenario.region_columns(v, per)),
    )


def to_dict(r: Report) -> dict[str, Any]:
    """The JSON document (keys documented in docs/metrics.md, "Report JSON")."""
    s = r.launch
    idle = r.idle_by_cause()
    idle_all = sum(idle.values())
    p = r.phases
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
            "steps": r.steps,
            "windows": r.windows,
            "idle_attribution": {k: {"ns": v, "share": v / idle_all if idle_all else 0.0} for k, v in idle.items()},
        },
        "phases": {n: {"ns": int(ns), "share": ns / p.span_ns if p.span_ns else 0.0} for n, ns in zip(p.names, p.ns)},
        "device_phases": {n: {"ns": int(ns), "share": ns / p.device_busy_ns if p.device_busy_ns else 0.0}
                          for n, ns in zip(p.device_names, p.device_ns)},
        "memcpy": r.memcpy,
        "top_kernels": r.top_kernels,
        "top_kernels_by_count": r.top_kernels_by_count,
        "top_ops": r.top_ops,
        "scenario": {"metrics": r.scenario_metrics, "regions": r.regions},
        "notes": r.notes,
    }
