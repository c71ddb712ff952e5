"""Kineto trace ingestion: the one path from ``trace.json[.gz]`` to linked tables.

``skiprof import`` and ``skiprof trace`` both come through here.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import BadTraceError

__all__ = ["ingest_file", "trace_files", "rank_of"]

_RANK_IN_NAME = re.compile(r"rank[_\-=]?(\d+)", re.IGNORECASE)
_TRACE_SUFFIXES = (".json", ".json.gz", ".pt.trace.json", ".pt.trace.json.gz")


def trace_files(inputs: list[Path]) -> list[Path]:
    """Expand folders into the trace files they hold, keeping explicit files as given."""
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            if (p / "meta.json").exists():
                raise BadTraceError(p, "is a skiprof trace folder, not Kineto traces (import its trace.json.gz, or open it with skiprof.load)")
            found = sorted(q for q in p.iterdir() if q.is_file() and q.name.endswith((".json", ".json.gz")))
            if not found:
                raise BadTraceError(p, "folder holds no .json or .json.gz trace files")
            out.extend(found)
        elif p.exists() and not p.is_file():  # a FIFO or device would block the reader or never end
            raise BadTraceError(p, "not a regular file (a Kineto trace is a .json or .json.gz file)")
        else:
            out.append(p)
    return out


def rank_of(fields: dict[str, Any], path: Path, default: int = 0) -> int:
    """The trace's rank: distributedInfo.rank, else a rank number in the file name, else ``default``."""
    info = fields.get("distributedInfo")
    rank = info.get("rank") if isinstance(info, dict) else None
    if isinstance(rank, int) and not isinstance(rank, bool):
        if not 0 <= rank < 2**31:
            raise BadTraceError(path, f"distributedInfo.rank is {rank}, which is not a rank (0 to 2^31-1)")
        return rank
    m = _RANK_IN_NAME.search(path.name)
    return int(m.group(1)) if m else default


def ingest_file(
    path: Path, *, default_rank: int = 0, progress: Callable[[int], None] | None = None, jobs: int = 1,
    ready: Callable[[int, str, Any], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Read, decode and link one trace file; returns its tables and its top-level fields.

    With ``jobs > 1`` a large file is decoded by a pool of worker processes (ingest/_parallel.py).
    ``ready(rank, name, table)`` is called as each table is built.
    """
    from ._events import decode_piece  # numpy and msgspec load here, not at package import
    from ._stream import TraceText, read_chunks  # not at package import either: the analyzers import ingest._link

    info = TraceText()
    batches = None
    if jobs > 1 and hasattr(os, "fork") and _worth_parallel(path):
        from ._parallel import decode_parallel

        batches = decode_parallel(path, info, jobs, progress)
    if batches is None:
        info = TraceText()
        labels: dict[str, int] = {}
        batches = []
        for batch in read_chunks(path, lambda text: decode_piece(text, labels), info):
            batches.append(batch)
            if progress is not None:
                progress(info.bytes_read)
    from ._build import build_rank  # pyarrow comes in here, not before decoding

    rank = rank_of(info.fields, path, default_rank)
    if not any(_has_events(b) for b in batches):
        raise BadTraceError(path, "holds no readable trace events (nothing to import)")
    try:
        tables = build_rank(rank, batches, None if ready is None else lambda name, table: ready(rank, name, table))
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, UnicodeError) as exc:
        # Every value the decoder lets through should build; this keeps a case it missed to one line.
        raise BadTraceError(path, f"unexpected content ({type(exc).__name__}: {exc})") from None
    tables.stats["events_bytes"] = info.bytes_read
    labels_all: dict[str, int] = {}
    for b in batches:
        labels_all.update(b.pid_labels)
    tables.stats["pid_labels"] = {str(v): k for k, v in labels_all.items()}
    return tables, info.fields


def _has_events(batch: Any) -> bool:
    """True when a decoded piece holds any event skiprof keeps (timed, flow, metadata or counter)."""
    return any(len(next(iter(cols.values()), ())) for cols in batch.groups.values())


def _worth_parallel(path: Path) -> bool:
    from ._parallel import MIN_BYTES
    from ._stream import uncompressed_size

    try:
        return uncompressed_size(path) >= MIN_BYTES
    except OSError:
        return False
