"""The one flow from trace files to a trace folder, shared by ``skiprof import``, ``skiprof trace``
and ``skiprof.trace()``: check the ranks, ingest each file, write its tables, describe it in meta.

Several files are ingested by a pool of worker processes, one rank each. A worker writes its
rank's partition as soon as it is done and sends back only its statistics, so peak memory is
about (workers x one rank), not the sum of all ranks.
"""
from __future__ import annotations

import datetime as _dt
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._folder import TableWriter, write_meta, write_rank
from .._meta import Capture, Clock, Device, Meta, RankStats
from .._version import __version__
from . import ingest_file, rank_of
from ._stream import read_header, uncompressed_size

__all__ = ["ingest_files", "build_meta", "finish_capture", "Progress", "RankOutcome", "check_ranks"]

Progress = Callable[[str, int, int], None]  # (label, done, total)

_KEEP_FIELDS = (
    "schemaVersion", "displayTimeUnit", "baseTimeNanoseconds", "traceName", "distributedInfo",
    "cupti_version", "cuda_runtime_version", "cuda_driver_version", "hip_runtime_version",
    "hip_driver_version", "roctracer_version", "record_shapes", "with_stack", "profile_memory", "host_name",
)

RankOutcome = tuple[int, dict[str, Any], dict[str, Any], dict[str, str]]  # rank, stats, fields, process names


def _default_rank(files: list[Path], i: int) -> int:
    return i if len(files) > 1 and "rank" not in files[i].name.lower() else 0


def check_ranks(files: list[Path]) -> None:
    """Refuse, before any decoding, files that claim the same rank (from their header or name)."""
    seen: dict[int, Path] = {}
    for i, path in enumerate(files):
        rank = rank_of(read_header(path), path, _default_rank(files, i))
        if rank in seen:
            raise UsageError(f"{path}: rank {rank} is also the rank of {seen[rank]}; import them separately")
        seen[rank] = path


def _one(path: Path, folder: Path, default_rank: int, partitioned: bool, jobs: int,
         progress: Callable[[int], None] | None = None, extra_events: Path | None = None,
         metrics: list[dict[str, Any]] | None = None) -> RankOutcome:
    """Ingest one file and write its tables (a worker's whole job): each table is written as soon as
    it is built, except those a capture still adds to (counters, metrics)."""
    with TableWriter(folder, partitioned) as writer:

        def ready(rank: int, name: str, table: Any) -> None:
            if name not in _COMPLETED_LATER:
                writer.write(rank, name, table)

        rt, fields = ingest_file(path, default_rank=default_rank, progress=progress, jobs=jobs, ready=ready)
        if extra_events is not None and extra_events.exists():
            _merge_counters(rt, extra_events)
        if metrics:
            from ._build import metrics_table

            rt.tables["metrics"] = metrics_table(rt.rank, metrics)
        rt.stats["source"] = str(path)
        write_rank(folder, rt, partitioned, writer)
    return rt.rank, rt.stats, {k: fields[k] for k in _KEEP_FIELDS if k in fields}, rt.process_names


_COMPLETED_LATER = frozenset({"counters", "metrics"})


def ingest_files(
    files: list[Path], folder: Path, *, progress: Progress | None = None, extra_events: Path | None = None,
    jobs: int = 1, metrics: list[dict[str, Any]] | None = None, rank: int = 0, spread: Any = None,
) -> list[RankOutcome]:
    """Ingest each file as one rank into ``folder`` (partitions ``rank=N/`` when there are several).

    ``extra_events`` (counter samples taken during capture) and ``metrics`` (recorded scenario rows)
    belong to the only file a capture produces. Several files go to ``spread`` (skiprof._spread:
    a process pool or a Dask cluster; default a pool of ``jobs`` processes), one rank per task.
    """
    check_ranks(files)
    if len(files) == 1:
        path = files[0]
        total = uncompressed_size(path) if path.exists() else 0
        cb = (lambda done: progress(path.name, done, total)) if progress else None
        outcomes = [_one(path, folder, rank, False, jobs, cb, extra_events, metrics)]
    else:
        outcomes = _many(files, folder, spread or _pool(jobs), progress)
    seen: dict[int, str] = {}
    for rank, stats, _, _ in outcomes:  # a rank only the end of a file names
        if rank in seen:
            raise UsageError(f"{stats['source']}: rank {rank} is also the rank of {seen[rank]}; import them separately")
        seen[rank] = stats["source"]
    return sorted(outcomes, key=lambda o: o[0])


def _pool(jobs: int) -> Any:
    from .._spread import Spread

    return Spread(jobs)


def _many(files: list[Path], folder: Path, spread: Any, progress: Progress | None) -> list[RankOutcome]:
    """One rank per task; each task writes its partition as soon as its rank is done."""
    tasks = [(p, folder, _default_rank(files, i), True, 1) for i, p in enumerate(files)]
    done = (lambda n, total: progress("ranks", n, total)) if progress is not None else None
    return list(spread.map(_one, tasks, done))


def _merge_counters(rt: Any, events: Path) -> None:
    """Add counter samples from a side file (NVML and CPU time during capture) to a rank's counters table."""
    import numpy as np
    import pyarrow as pa

    from .._arrow import to_arrow

    extra, _ = ingest_file(events, default_rank=rt.rank)
    counters = extra.tables["counters"]
    if counters.num_rows:
        counters = counters.set_column(0, "rank", to_arrow(np.full(counters.num_rows, rt.rank, np.int32)))
        rt.tables["counters"] = pa.concat_tables([rt.tables["counters"], counters])


def build_meta(outcomes: list[RankOutcome], files: list[Path], *, command: list[str] | None = None,
               torch_version: str | None = None, capture: Capture | None = None,
               calibration: dict[str, Any] | None = None) -> Meta:
    """meta.json's content: where the data came from and what ingestion found."""
    first = outcomes[0][2] if outcomes else {}
    base = first.get("baseTimeNanoseconds")
    info = first.get("distributedInfo")
    world = info.get("world_size") if isinstance(info, dict) else None
    devices = first.get("deviceProperties")
    return Meta(
        schema_version=0,  # write_meta sets the current version
        skiprof_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        command=command if command is not None else ["skiprof", *sys.argv[1:]],
        host=first.get("host_name") if isinstance(first.get("host_name"), str) else None,
        importing_host=socket.gethostname(),
        sources=[str(p) for p in files],
        ranks=[o[0] for o in outcomes],
        world_size=world if isinstance(world, int) and not isinstance(world, bool) and world > 0 else None,
        layout="partitioned" if len(outcomes) > 1 else "single",
        clock=Clock(origin_unix_ns=base if isinstance(base, int) and not isinstance(base, bool) else None),
        devices=[_device(d) for d in devices if isinstance(d, dict)] if isinstance(devices, list) else [],
        trace_fields=first,
        stats={str(o[0]): RankStats(**{k: v for k, v in o[1].items() if k in RankStats.__struct_fields__})
               for o in outcomes},
        process_names={str(o[0]): o[3] for o in outcomes},
        torch_version=torch_version,
        capture=capture,
        calibration=calibration,
    )


def _device(d: dict[str, Any]) -> Device:
    def num(v: Any) -> int | None:
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    name = d.get("name")
    return Device(id=d.get("id") if isinstance(d.get("id"), (int, str)) else None,
                  name=name if isinstance(name, str) else None, sms=num(d.get("numSms")), memory_bytes=num(d.get("totalGlobalMem")))


def finish_capture(session: Any, staging: Path, progress: Progress | None = None, rank: int = 0,
                   **meta: Any) -> Meta:
    """Ingest what a capture session wrote into ``staging`` and write meta.json; returns the meta.

    ``rank`` is the process's rank when the trace does not say (torchrun sets RANK before the
    profiler could record the process group)."""
    from ..capture._metrics import METRICS_FILE, read_metrics
    from ..capture._session import NVML_FILE, TRACE_FILE

    outcomes = ingest_files([staging / TRACE_FILE], staging, extra_events=staging / NVML_FILE, progress=progress,
                            metrics=read_metrics(staging), rank=rank)
    for name in (NVML_FILE, METRICS_FILE):
        (staging / name).unlink(missing_ok=True)
    return write_meta(staging, build_meta(outcomes, [Path(TRACE_FILE)], **meta))
