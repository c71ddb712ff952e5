"""Kineto trace ingestion: the one path from ``trace.json[.gz]`` to linked tables.

``skiprof import`` and ``skiprof trace`` both come through here.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import BadTraceError
from ._build import RankTables, build_rank
from ._events import decode_piece
from ._stream import TraceText, read_chunks

__all__ = ["ingest_file", "RankTables", "trace_files", "rank_of"]

_RANK_IN_NAME = re.compile(r"rank[_\-=]?(\d+)", re.IGNORECASE)
_TRACE_SUFFIXES = (".json", ".json.gz", ".pt.trace.json", ".pt.trace.json.gz")


def trace_files(inputs: list[Path]) -> list[Path]:
    """Expand folders into the trace files they hold, keeping explicit files as given."""
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
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
    if isinstance(info, dict) and isinstance(info.get("rank"), int):
        return int(info["rank"])
    m = _RANK_IN_NAME.search(path.name)
    return int(m.group(1)) if m else default


def ingest_file(
    path: Path, *, default_rank: int = 0, progress: Callable[[int], None] | None = None
) -> tuple[RankTables, dict[str, Any]]:
    """Read, decode and link one trace file; returns its tables and its top-level fields."""
    info = TraceText()
    labels: dict[str, int] = {}
    batches = []
    for batch in read_chunks(path, lambda text: decode_piece(text, labels), info):
        batches.append(batch)
        if progress is not None:
            progress(info.bytes_read)
    rank = rank_of(info.fields, path, default_rank)
    tables = build_rank(rank, batches)
    tables.stats["events_bytes"] = info.bytes_read
    tables.stats["pid_labels"] = {v: k for k, v in labels.items()}
    return tables, info.fields
