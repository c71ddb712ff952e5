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
from ._stream import TraceText, read_chunks

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
    path: Path, *, default_rank: int = 0, progress: Callable[[int], None] | None = None, workers: int = 1,
) -> tuple[Any, dict[str, Any]]:
    """Read, decode and link one trace file; returns its tables and its top-level fields.

    ``workers=2`` decodes pieces in a forked helper process as well as this one
    (the CLI does this; it roughly halves decoding time on two cores).
    """
    from ._events import decode_piece  # numpy and msgspec load here, not at package import

    info = TraceText()
    batches = None
    if workers > 1 and _can_fork() and _worth_parallel(path):
        batches = _parallel_batches(path, info, progress)
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
        tables = build_rank(rank, batches)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, UnicodeError) as exc:
        # Every value the decoder lets through should build; this keeps a case it missed to one line.
        raise BadTraceError(path, f"unexpected content ({type(exc).__name__}: {exc})") from None
    tables.stats["events_bytes"] = info.bytes_read
    labels_all: dict[str, int] = {}
    for b in batches:
        labels_all.update(b.pid_labels)
    tables.stats["pid_labels"] = {v: k for k, v in labels_all.items()}
    return tables, info.fields


def _has_events(batch: Any) -> bool:
    """True when a decoded piece holds any event skiprof keeps (timed, flow, metadata or counter)."""
    return any(len(next(iter(cols.values()), ())) for cols in batch.groups.values())


_PARALLEL_MIN_BYTES = 16 << 20  # uncompressed bytes below which a helper process costs more than it saves
_PARALLEL_PIECE = 2 << 20


def _can_fork() -> bool:
    return hasattr(os, "fork")


def _worth_parallel(path: Path) -> bool:
    from ._stream import uncompressed_size

    try:
        return uncompressed_size(path) >= _PARALLEL_MIN_BYTES
    except OSError:
        return False


def _parallel_batches(path: Path, info: TraceText, progress: Callable[[int], None] | None) -> list[Any] | None:
    """Decode with a helper process that reads the file and hands pieces over; None if that failed."""
    import msgspec

    from . import _helper

    helper = _helper.take(path) or _helper.spawn(path)
    if helper is None:
        return None
    try:
        import pyarrow  # noqa: F401  - load now, while the helper already decodes
        from . import _build  # noqa: F401

        try:
            # Progress in bytes: pieces are about _PARALLEL_PIECE long.
            return helper.run(info, (lambda i: progress((i + 1) * _PARALLEL_PIECE)) if progress else None)
        except msgspec.DecodeError:
            return None
    finally:
        helper.kill()
