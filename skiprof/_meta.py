"""meta.json, declared once as typed structs that validate when read (docs/trace-format.md).

Ingestion fills ``RankStats`` per rank, capture fills ``Capture``, and ``Meta`` holds both; the
folder writes it with msgspec and ``skiprof.load`` decodes it back into the same types, so a field
read anywhere is the field written, with its type checked.
"""
from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Meta", "RankStats", "Capture", "CaptureSettings", "Window", "Clock", "Device", "decode_meta", "encode_meta", "markdown_meta",
           "FIELD_DOCS"]


class Clock(msgspec.Struct, kw_only=True):
    """The trace clock: ``ts + origin_unix_ns`` is Unix time in ns when the origin is known."""

    unit: str = "ns"
    origin_unix_ns: int | None = None
    note: str = "ts + origin_unix_ns = Unix time in ns, when the origin is known"


class Device(msgspec.Struct, kw_only=True):
    """A device as the trace's ``deviceProperties`` described it."""

    id: Any = None
    name: str | None = None
    sms: int | None = None
    memory_bytes: int | None = None


class RankStats(msgspec.Struct, kw_only=True):
    """What ingestion found and linked in one rank's file (the capture/import summary)."""

    ops: int = 0
    launches: int = 0
    launch_calls: int = 0
    device_activities: int = 0
    activities_by_kind: dict[str, int] = msgspec.field(default_factory=dict)
    linked_to_launch: int = 0
    linked_to_op: int = 0
    orphans: int = 0
    orphans_before_window: int = 0
    regions: int = 0
    counters: int = 0
    span_ns: int = 0
    ignored_events: dict[str, int] = msgspec.field(default_factory=dict)
    events_without_ts: int = 0
    events_without_dur: int = 0
    exact_timestamps: bool = False
    events_bytes: int = 0
    pid_labels: dict[str, str] = msgspec.field(default_factory=dict)
    launches_linked_by_external_id: int = 0
    launches_linked_to_non_cpu_op: int = 0
    ambiguous_correlations: int = 0
    source: str | None = None


class CaptureSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The options ``skiprof trace`` recorded with: what the capture session is given
    (``skiprof.capture.CaptureOptions`` is this struct) and what meta.json keeps of it."""

    delay: float = 0.0
    duration: float | None = None
    steps: int | None = None
    skip_first: int = 0
    record_shapes: bool = True
    with_stack: bool = False
    with_modules: bool = False
    profile_memory: bool = False


class Window(msgspec.Struct, kw_only=True):
    """One window of a periodic or on-demand capture (``skiprof trace --every/--on-signal``)."""

    index: int
    trigger: str  # "periodic", "signal" or "capture_window"
    started: str  # wall-clock start, ISO 8601 with the UTC offset
    started_unix_ns: int
    seconds: float  # the length asked for
    recorded_s: float  # the length recorded (shorter when the process ended first)
    thread: str  # the thread whose operators were recorded


class Capture(msgspec.Struct, kw_only=True):
    """How a captured folder was recorded (absent for imported traces)."""

    script: str | None = None
    module: str | None = None
    args: list[str] = msgspec.field(default_factory=list)
    exit_code: int | None = None
    nvml: bool = False
    devices: list[str] = msgspec.field(default_factory=list)
    step_calls: int | None = None  # ProfilerStep#<step_calls> is the tail after the last skiprof.step()
    cpu_sampled_tid: int | None = None  # the thread whose CPU time was sampled (counter main_thread_cpu_ns)
    options: CaptureSettings | None = None
    window: Window | None = None


class Meta(msgspec.Struct, kw_only=True):
    """The whole of meta.json."""

    schema_version: int
    skiprof_version: str = ""
    created: str = ""
    command: list[str] = msgspec.field(default_factory=list)
    host: str | None = None
    importing_host: str | None = None
    sources: list[str] = msgspec.field(default_factory=list)
    ranks: list[int] = msgspec.field(default_factory=lambda: [0])
    world_size: int | None = None
    layout: str = "single"
    clock: Clock = msgspec.field(default_factory=Clock)
    devices: list[Device] = msgspec.field(default_factory=list)
    trace_fields: dict[str, Any] = msgspec.field(default_factory=dict)
    stats: dict[str, RankStats] = msgspec.field(default_factory=dict)
    process_names: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    torch_version: str | None = None
    capture: Capture | None = None
    calibration: dict[str, Any] | None = None
    notes: list[str] = msgspec.field(default_factory=list)
    files: dict[str, str] = msgspec.field(default_factory=dict)

    def rank_stats(self, rank: int) -> RankStats:
        """The stats of one rank (empty stats when the rank has none)."""
        return self.stats.get(str(rank)) or RankStats()


def encode_meta(meta: Meta) -> bytes:
    """meta.json's bytes (indented, for people)."""
    return msgspec.json.format(msgspec.json.encode(meta), indent=2) + b"\n"


class _Written(msgspec.Struct):
    """The keys of meta.json that have no default when read: a folder without them was damaged."""

    schema_version: int
    ranks: list[int]


def decode_meta(data: bytes) -> Meta:
    """Decode and validate meta.json; raises msgspec errors on malformed or mistyped content, and
    msgspec.ValidationError on values no writer makes (no ranks, a rank twice or below 0)."""
    meta = msgspec.json.decode(data, type=Meta)
    msgspec.json.decode(data, type=_Written)  # what every writer since the first has written must be there
    if not meta.ranks:
        raise msgspec.ValidationError("`ranks` is empty; a trace folder holds at least one rank")
    if len(set(meta.ranks)) != len(meta.ranks) or min(meta.ranks) < 0:
        raise msgspec.ValidationError("`ranks` must list distinct ranks of 0 or more")
    return meta


#: What each key of meta.json holds (docs/trace-format.md embeds the table markdown_meta() makes).
FIELD_DOCS: dict[str, str] = {
    "schema_version": "version of the folder layout; `skiprof.load` reads versions 1 to 3 (tables a version lacks load empty, columns as nulls) and refuses others",
    "skiprof_version": "the skiprof that wrote the folder",
    "created": "when (UTC, ISO 8601)",
    "command": "the command line that produced it",
    "host": "host that recorded the trace, when the trace says",
    "importing_host": "host that ingested it",
    "sources": "the trace files ingested",
    "ranks": "ranks present",
    "world_size": "the job's world size from `distributedInfo`, when the trace gives it",
    "layout": "`single` (top-level files) or `partitioned` (`rank=N/`)",
    "clock": "`unit` (ns), `origin_unix_ns` (Kineto's `baseTimeNanoseconds`: `ts + origin_unix_ns` is Unix time), `note`",
    "devices": "`id`, `name`, `sms` and `memory_bytes` of each device the trace lists",
    "trace_fields": "selected top-level fields of the Kineto trace (CUDA/HIP versions, `distributedInfo`, ...)",
    "stats": "per rank (key: the rank): " + ", ".join(f"`{f}`" for f in RankStats.__struct_fields__),
    "process_names": "per rank: pid to process name from the trace's metadata events",
    "torch_version": "torch used for capture (null for imports)",
    "capture": "for `skiprof trace`: " + ", ".join(f"`{f}`" for f in Capture.__struct_fields__)
               + "; `options` holds " + ", ".join(f"`{f}`" for f in CaptureSettings.__struct_fields__)
               + "; `window` (periodic and on-demand windows) holds " + ", ".join(f"`{f}`" for f in Window.__struct_fields__),
    "calibration": "this host's floors from `skiprof calibrate` when the capture ran on a calibrated host (docs/metrics.md, Host overhead)",
    "notes": "what the writer wants every reader to know",
    "files": "CRC-32 of each table's Parquet footer, by its path in the folder; every read checks it (a changed or damaged table is refused)",
}


def markdown_meta() -> str:
    """The meta.json reference of docs/trace-format.md, generated from the structs above."""
    rows = ["| key | meaning |", "|---|---|"]
    rows += [f"| `{f}` | {FIELD_DOCS[f]} |" for f in Meta.__struct_fields__]
    return "\n".join(rows)


if __name__ == "__main__":  # python -m skiprof._meta: the section docs/trace-format.md embeds
    print(markdown_meta())
