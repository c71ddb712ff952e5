"""Kineto trace ingestion: the one path from ``trace.json[.gz]`` to linked tables.

``skiprof import`` and ``skiprof trace`` both come through here.
"""
from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
    path: Path, *, default_rank: int = 0, progress: Callable[[int], None] | None = None, workers: int = 1,
) -> tuple[RankTables, dict[str, Any]]:
    """Read, decode and link one trace file; returns its tables and its top-level fields.

    ``workers=2`` decodes pieces in a forked helper process as well as this one
    (the CLI does this; it roughly halves decoding time on two cores).
    """
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
    rank = rank_of(info.fields, path, default_rank)
    tables = build_rank(rank, batches)
    tables.stats["events_bytes"] = info.bytes_read
    labels_all: dict[str, int] = {}
    for b in batches:
        labels_all.update(b.pid_labels)
    tables.stats["pid_labels"] = {v: k for k, v in labels_all.items()}
    return tables, info.fields


_PARALLEL_MIN_BYTES = 4 << 20  # compressed or plain file size below which a helper costs more than it saves
_PARALLEL_PIECE = 4 << 20


def _can_fork() -> bool:
    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


def _worth_parallel(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return size * (10 if gz else 1) >= _PARALLEL_MIN_BYTES * 4


def _helper(conn_in: Any, conn_out: Any) -> None:
    """Forked helper: decode the pieces that arrive on ``conn_in``; send the batches back at the end."""
    import msgspec

    out: list[tuple[int, Any]] = []
    try:
        while True:
            head = conn_in.recv_bytes()
            if not head:
                break
            index = int(head)
            out.append((index, decode_piece(conn_in.recv_bytes(), {})))
        conn_out.send(out)
    except msgspec.DecodeError:
        conn_out.send(None)


def _parallel_batches(path: Path, info: TraceText, progress: Callable[[int], None] | None) -> list[Any] | None:
    """Inflate and cut here, decode about half the pieces in one forked helper; None if a cut proved wrong.

    Pieces go to the helper as plain bytes over a pipe; the decoded columns
    come back once, at the end.
    """
    import msgspec

    ctx = multiprocessing.get_context("fork")
    to_helper_r, to_helper_w = ctx.Pipe(duplex=False)
    from_helper_r, from_helper_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_helper, args=(to_helper_r, from_helper_w), daemon=True)
    proc.start()
    to_helper_r.close()
    from_helper_w.close()
    local: list[tuple[int, Any]] = []
    index = [0]

    def defer(text: bytes) -> None:
        i = index[0]
        index[0] += 1
        # This process also inflates and cuts, so the helper takes three pieces in five.
        if i % 5 in (0, 2, 4):
            to_helper_w.send_bytes(str(i).encode())
            to_helper_w.send_bytes(text)
        else:
            local.append((i, decode_piece(text, {})))
        if progress is not None:
            progress(info.bytes_read)

    def last(text: bytes) -> None:
        local.append((index[0], decode_piece(text, {})))

    try:
        try:
            for _ in read_chunks(path, last, info, defer=defer, piece_size=_PARALLEL_PIECE):
                pass
        finally:
            to_helper_w.send_bytes(b"")
            to_helper_w.close()
        theirs = from_helper_r.recv()
    except msgspec.DecodeError:
        theirs = None
    except EOFError:  # the helper died (out of memory, killed): decode everything here instead
        theirs = None
    finally:
        from_helper_r.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    if theirs is None:
        return None
    return [batch for _, batch in sorted(local + theirs, key=lambda pair: pair[0])]
