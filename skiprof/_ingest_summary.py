"""What a capture or import recorded and linked, as data (printed by ``render.ingest_summary``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ._meta import Meta

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


def summarize(path: str, meta: Meta) -> IngestSummary:
    """Build the summary from a folder's meta.json content."""
    ranks = []
    for key, s in sorted(meta.stats.items(), key=lambda kv: int(kv[0])):
        ranks.append(RankSummary(
            rank=int(key), ops=s.ops, launches=s.launches, launch_calls=s.launch_calls, activities=s.device_activities,
            by_kind=dict(s.activities_by_kind), linked_to_launch=s.linked_to_launch, linked_to_op=s.linked_to_op,
            orphans=s.orphans, orphans_before_window=s.orphans_before_window, regions=s.regions, counters=s.counters,
            span_ns=s.span_ns, ignored=dict(s.ignored_events), events_without_ts=s.events_without_ts,
            events_without_dur=s.events_without_dur,
        ))
    capture = meta.capture
    return IngestSummary(path=path, ranks=ranks, exit_code=capture.exit_code if capture else None,
                         nvml=capture.nvml if capture else None, notes=list(meta.notes))
