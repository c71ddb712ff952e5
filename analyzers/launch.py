"""Launch and queue time per device activity, and the run-level SKIP metrics (TKLQT, AKD, IL, idle).

Definitions and sources: docs/metrics.md, "Launch and queue".
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._domain import API_KINDS, LAUNCH_KINDS
from skiprof._result import Figure, Figures, Note, Result, Section

from . import _intervals as iv
from ._activity import activity_columns
from ._cols import Cols
from ._frame import frame
from ._options import Options
from ._view import View

__all__ = ["per_activity", "activity_columns", "summary", "LaunchSummary", "LAUNCH_KINDS", "top_level_mask",
           "carries_launch", "waiting_time", "LaunchResult", "run"]


def per_activity(view: View) -> Any:
    """One row per linked device activity with its launch/queue split (all ns), as a DataFrame.

    launch_queue_ns = max(ts - launch_ts, 0)                              (SKIP's t_l)
    queue_ns        = clip(min(ts, prev_end) - launch_end, 0, launch_queue_ns)
    launch_ns       = launch_queue_ns - queue_ns
    launch_delay_ns = max(ts - launch_end, 0)                              (HTA's launch delay)
    where prev_end is the latest end of earlier activities on the same device and stream. Activities
    of a graph launch after its first (``graph_member``) carry none of these: they are 0.
    """
    return frame(view.per)


def carries_launch(per: dict[str, Any]) -> np.ndarray:
    """Rows whose wait counts in TKLQT: kernels of ordinary launches, and the first activity of each graph launch."""
    first_of_graph = (per["launch_kind"] == "graph") & ~per["graph_member"]
    return (per["kind"].eq("kernel") & ~per["graph_member"]) | first_of_graph


class LaunchSummary(msgspec.Struct, frozen=True):
    """Run-level figures of one view (ns unless named otherwise)."""

    kernels: int
    activities: int
    linked_kernels: int
    orphan_kernels: int
    tklqt_ns: int
    queue_ns: int
    launch_ns: int
    launch_held_ns: int
    waiting_ns: int
    waiting_concurrency: float
    launch_delay_hta_ns: int
    akd_ns: float
    il_ns: int
    il_start_ns: int
    il_end_ns: int
    gpu_busy_ns: int
    gpu_idle_ns: int
    gpu_utilization: float
    kernels_per_s: float
    launch_calls: int
    launch_call_ns: int
    graph_launches: int
    graph_member_activities: int
    graph_member_ns: int
    top_level_ops: int
    launches_per_top_op: float
    launch_api_ns: int
    framework_ns: int
    clipped_activities: int


def top_level_mask(ops: Cols) -> np.ndarray:
    """cpu_ops with no cpu_op above them."""
    return ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0)


def summary(view: View) -> LaunchSummary:
    """TKLQT, AKD, IL, GPU busy/idle and the host cost of launching for one view (once per view: the
    launch analysis, the fixes, the what-if's measured column and the fusion candidates read it)."""
    return view.memo("launch_summary", lambda: _summary(view))


def _summary(view: View) -> LaunchSummary:
    """summary itself."""
    per = view.per
    k, ops, la = view.kernels, view.ops, view.launches
    is_kernel = k["kind"].eq("kernel")
    carry = carries_launch(per)
    top = top_level_mask(ops)
    lo, hi = view.span()
    il = view.il_ns
    busy = iv.intersect_total(view.scope, iv.union(k["ts"], k["ts"] + k["dur"]))
    calls = la["kind"].isin(LAUNCH_KINDS)
    api = la["kind"].isin(API_KINDS)
    # Framework time: top-level ops that launched device work, less the API calls made inside them.
    launching = top & np.isin(ops["op_id"], la["top_op_id"][api])
    api_in = api & np.isin(la["top_op_id"], ops["op_id"][launching])
    member = per["graph_member"]
    n_kernels = int(is_kernel.sum())
    tklqt = int(per["launch_queue_ns"][carry].sum())
    waiting = waiting_time(view, carry)
    return LaunchSummary(
        kernels=n_kernels,
        activities=len(k),
        linked_kernels=int((is_kernel & (k["launch_id"] >= 0)).sum()),
        orphan_kernels=int((is_kernel & (k["launch_id"] < 0)).sum()),
        tklqt_ns=tklqt,
        waiting_ns=waiting,
        waiting_concurrency=tklqt / waiting if waiting else 0.0,
        queue_ns=int(per["queue_ns"][carry].sum()),
        launch_ns=int(per["launch_ns"][carry].sum()),
        launch_held_ns=int(per["held_ns"][carry].sum()),
        launch_delay_hta_ns=int(per["launch_delay_ns"][carry].sum()),
        akd_ns=float(k["dur"][is_kernel].mean()) if n_kernels else 0.0,
        il_ns=il, il_start_ns=lo, il_end_ns=hi,
        gpu_busy_ns=busy,
        gpu_idle_ns=il - busy,
        gpu_utilization=busy / il if il else 0.0,
        kernels_per_s=n_kernels / (il / 1e9) if il else 0.0,
        launch_calls=int(calls.sum()),
        launch_call_ns=int(la["dur"][calls].sum()),
        graph_launches=int(la["kind"].eq("graph").sum()),
        graph_member_activities=int(member.sum()),
        graph_member_ns=int(per["dur"][member].sum()),
        top_level_ops=int(top.sum()),
        launches_per_top_op=int(calls.sum()) / int(top.sum()) if top.any() else 0.0,
        launch_api_ns=int(la["dur"][api].sum()),
        framework_ns=int(ops["dur"][launching].sum() - la["dur"][api_in].sum()),
        clipped_activities=int(per["clipped"].sum()),
    )


def waiting_time(view: View, carry: np.ndarray) -> int:
    """Wall time inside the scope during which at least one activity counted in TKLQT had been
    launched and had not started: TKLQT sums the waits kernel by kernel, so waits that overlap count
    once per kernel there and once here (this is never more than TKLQT or IL)."""
    per = view.per
    start, ts = per["launch_ts"][carry], per["ts"][carry]
    waited = ts > start
    return iv.intersect_total(view.scope, iv.union(start[waited], ts[waited]))


class LaunchResult(Result, msgspec.Struct, frozen=True):
    """The run-level SKIP figures of one view, with the notes that qualify them."""

    scope: str
    has_device: bool
    summary: LaunchSummary
    overall: str
    busy_share: float
    notes: tuple[str, ...]

    name = "launch"
    schema = "skiprof.launch/2"
    title = "Summary"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "has_device_activity": self.has_device,
                **msgspec.structs.asdict(self.summary), "notes": list(self.notes)}

    def sections(self) -> list[Section]:
        """The summary figures (device ones only when the trace has device activity) and their notes."""
        s = self.summary
        items = [Figure("scope", self.scope), Figure("boundness", self.overall, "label")]
        if self.has_device:
            items += [
                Figure("GPU busy", self.busy_share, "share"),
                Figure("TKLQT (launch + queue)", s.tklqt_ns, "ns"),
                Figure("  launch part", s.launch_ns, "ns"),
                Figure("    of which held back by a dependency", s.launch_held_ns, "ns"),
                Figure("  queue part", s.queue_ns, "ns"),
                Figure("wall time with a kernel waiting", s.waiting_ns, "ns"),
                Figure("AKD (mean kernel time)", s.akd_ns, "ns", "us"),
                Figure("IL (latency)", s.il_ns, "ns"),
                Figure("GPU busy time", s.gpu_busy_ns, "ns"),
                Figure("GPU idle time", s.gpu_idle_ns, "ns"),
                Figure("kernels", s.kernels, "count"),
                Figure("  orphans (no launch call)", s.orphan_kernels, "count"),
                Figure("kernels per second", round(s.kernels_per_s), "count"),
                Figure("launch calls (kernel/graph)", s.launch_calls, "count"),
                Figure("launches per top-level op", s.launches_per_top_op, "number"),
                Figure("host: launch API time", s.launch_api_ns, "ns"),
                Figure("host: framework time", s.framework_ns, "ns"),
            ]
            if s.graph_launches:
                items += [Figure("graph launches", s.graph_launches, "count"),
                          Figure("  activities inside graphs (no launch of their own)", s.graph_member_activities, "count"),
                          Figure("  their device time", s.graph_member_ns, "ns")]
        else:
            items += [Figure("IL (host span)", s.il_ns, "ns"), Figure("top-level ops", s.top_level_ops, "count")]
        return [Figures("Summary", tuple(items)), *[Note(n) for n in self.notes]]


def notes_for(view: View, s: LaunchSummary) -> tuple[str, ...]:
    """What the summary's figures leave out, said once."""
    notes = []
    if not view.has_device:
        notes.append("CPU-only trace: launch/queue metrics need a trace with device activity (GPU kernels); the "
                     "host breakdown and phase shares still apply.")
    if s.orphan_kernels:
        notes.append(f"{s.orphan_kernels} kernels have no launch call in the trace and are left out of launch/queue figures.")
    if s.clipped_activities:
        notes.append(f"{s.clipped_activities} activities started before their launch call (clock skew); their "
                     "launch/queue time counts as 0.")
    if s.tklqt_ns > s.il_ns > 0:
        notes.append(f"TKLQT is {s.tklqt_ns / s.il_ns:.1f}x IL: it sums each kernel's own wait, and kernels waited "
                     f"at the same time ({s.waiting_concurrency:.1f} at once on average, over "
                     f"{s.waiting_ns / 1e6:,.2f} ms of wall time with a kernel waiting).")
    if s.graph_member_activities:
        notes.append(f"{s.graph_member_activities} activities ran inside graph launches: the graph's launch and queue "
                     "time is carried by its first activity only (docs/metrics.md).")
    return tuple(notes)


def run(view: View, options: Options) -> LaunchResult:
    """The summary result of a view."""
    from .boundness import overall_columns

    s = summary(view)
    ov = overall_columns(view)
    return LaunchResult(view.label, view.has_device, s, ov["label"][0], 1 - ov["gpu_idle_share"][0] if view.has_device else 0.0,
                        notes_for(view, s))
