"""What a capture or import recorded and linked, as data (rendered in ``render.summary``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RankSummary", "IngestSummary", "summarize"]


@dataclass(frozen=True)
class RankSummary:
    """Counts for one rank; rates are over activities whose launch could be in the trace."""

    rank: int
    ops: int
    launches: int
    launch_calls: int
    activities: int
    by_kind: dict[str, int]
    linked_to_launch: int
    linked_to_op: int
    orphans: int
    orphans_before_window: int
    regions: int
    counters: int
    span_ns: int
    ignored: dict[str, int]
    events_without_ts: int
    events_without_dur: int

    @property
    def linkable(self) -> int:
        """Activities whose launch call falls inside the trace window."""
        return self.activities - self.orphans_before_window

    @property
    def launch_link_rate(self) -> float:
        return self.linked_to_launch / self.linkable if self.linkable else 0.0

    @property
    def op_link_rate(self) -> float:
        return self.linked_to_op / self.linkable if self.linkable else 0.0


@dataclass(frozen=True)
class IngestSummary:
    """The whole folder: one RankSummary per rank, plus capture facts when skiprof captured it."""

    path: str
    ranks: list[RankSummary]
    exit_code: int | None = None
    nvml: bool | None = None
    notes: list[str] = field(default_factory=list)


def summarize(path: str, meta: dict[str, Any]) -> IngestSummary:
    """Build the summary from a folder's meta.json content."""
    ranks = []
    for key, s in sorted(meta.get("stats", {}).items(), key=lambda kv: int(kv[0])):
        ranks.append(RankSummary(
            rank=int(key), ops=s.get("ops", 0), launches=s.get("launches", 0),
            launch_calls=s.get("launch_calls", 0), activities=s.get("device_activities", 0),
            by_kind=dict(s.get("activities_by_kind", {})), linked_to_launch=s.get("linked_to_launch", 0),
            linked_to_op=s.get("linked_to_op", 0), orphans=s.get("orphans", 0),
            orphans_before_window=s.get("orphans_before_window", 0), regions=s.get("regions", 0),
            counters=s.get("counters", 0), span_ns=s.get("span_ns", 0),
            ignored=dict(s.get("ignored_events", {})), events_without_ts=s.get("events_without_ts", 0),
            events_without_dur=s.get("events_without_dur", 0),
        ))
    capture = meta.get("capture") or {}
    return IngestSummary(path=path, ranks=ranks, exit_code=capture.get("exit_code"),
                         nvml=capture.get("nvml"), notes=list(meta.get("notes", [])))
