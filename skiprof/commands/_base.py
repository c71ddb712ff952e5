"""The flow every producing command shares: ingest trace files, write the folder, summarize."""
from __future__ import annotations

import datetime as _dt
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._version import __version__
from .._errors import UsageError
from .._folder import write_tables
from ..ingest import ingest_file
from ..ingest._stream import uncompressed_size

__all__ = ["ingest_files", "build_meta", "finish_capture", "Progress"]

Progress = Callable[[str, int, int], None]  # (label, done, total)

_KEEP_FIELDS = (
    "schemaVersion", "displayTimeUnit", "baseTimeNanoseconds", "traceName", "distributedInfo",
    "cupti_version", "cuda_runtime_version", "cuda_driver_version", "hip_runtime_version",
    "hip_driver_version", "roctracer_version", "record_shapes", "with_stack", "profile_memory", "host_name",
)


def ingest_files(
    files: list[Path], folder: Path, *, progress: Progress | None = None,
    extra_events: Path | None = None, workers: int = 1, metrics: list[dict[str, Any]] | None = None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Ingest each file as one rank and write its tables into ``folder``.

    ``extra_events`` (NVML counter samples) and ``metrics`` (recorded scenario rows) belong to the
    first rank: capture produces one file.
    """
    ranks: list[Any] = []
    fields: list[dict[str, Any]] = []
    for i, path in enumerate(files):
        total = uncompressed_size(path) if path.exists() else 0
        cb = (lambda done, p=path, t=total: progress(p.name, done, t)) if progress else None
        rt, f = ingest_file(path, default_rank=i if len(files) > 1 and _no_rank_hint(path) else 0, progress=cb, workers=workers)
        if extra_events is not None and extra_events.exists():
            _merge_counters(rt, extra_events)
        ranks.append(rt)
        fields.append(f)
    seen: dict[int, Path] = {}
    for rt, path in zip(ranks, files):
        if rt.rank in seen:
            raise UsageError(f"{path}: rank {rt.rank} is also the rank of {seen[rt.rank]}; import them separately")
        seen[rt.rank] = path
    if metrics:
        from ..ingest._build import metrics_table

        ranks[0].tables["metrics"] = metrics_table(ranks[0].rank, metrics)
    write_tables(folder, ranks)
    return ranks, fields


def _no_rank_hint(path: Path) -> bool:
    return "rank" not in path.name.lower()


def _merge_counters(rt: Any, events: Path) -> None:
    """Add counter samples from a side file (NVML during capture) to a rank's counters table."""
    import numpy as np
    import pyarrow as pa

    from .._arrow import to_arrow

    extra, _ = ingest_file(events, default_rank=rt.rank)
    counters = extra.tables["counters"]
    if counters.num_rows:
        counters = counters.set_column(0, "rank", to_arrow(np.full(counters.num_rows, rt.rank, np.int32)))
        rt.tables["counters"] = pa.concat_tables([rt.tables["counters"], counters])


def build_meta(
    ranks: list[Any], fields: list[dict[str, Any]], files: list[Path], **extra: Any
) -> dict[str, Any]:
    """meta.json content describing where the data came from and what ingestion found."""
    first = fields[0] if fields else {}
    base = first.get("baseTimeNanoseconds")
    devices = first.get("deviceProperties")
    devices = devices if isinstance(devices, list) else []
    return {
        "skiprof_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": extra.pop("command", ["skiprof", *sys.argv[1:]]),
        "host": extra.pop("host", first.get("host_name") or None),
        "importing_host": socket.gethostname(),
        "sources": [str(p) for p in files],
        "ranks": sorted(rt.rank for rt in ranks),
        "layout": "partitioned" if len(ranks) > 1 else "single",
        "clock": {
            "unit": "ns",
            "origin_unix_ns": base if isinstance(base, int) else None,
            "note": "ts + origin_unix_ns = Unix time in ns, when the origin is known",
        },
        "devices": [{"id": d.get("id"), "name": d.get("name"), "sms": d.get("numSms"),
                     "memory_bytes": d.get("totalGlobalMem")} for d in devices if isinstance(d, dict)],
        "trace_fields": {k: f.get(k) for f in fields[:1] for k in _KEEP_FIELDS if k in f},
        "stats": {str(rt.rank): rt.stats for rt in ranks},
        "process_names": {str(rt.rank): rt.process_names for rt in ranks},
        **extra,
    }


def finish_capture(session: Any, staging: Path, progress: Progress | None = None, **meta: Any) -> dict[str, Any]:
    """Ingest what a capture session wrote into ``staging`` and write meta.json; returns the meta."""
    from .._folder import write_meta
    from ..capture._metrics import METRICS_FILE, read_metrics
    from ..capture._session import NVML_FILE, TRACE_FILE

    ranks, fields = ingest_files([staging / TRACE_FILE], staging, extra_events=staging / NVML_FILE, progress=progress,
                                 metrics=read_metrics(staging))
    for name in (NVML_FILE, METRICS_FILE):
        (staging / name).unlink(missing_ok=True)
    return write_meta(staging, build_meta(ranks, fields, [Path(TRACE_FILE)], **meta))
