"""skiprof: a systems-level trace profiler and analyzer for PyTorch.

In a notebook::

    t = skiprof.load("out")             # a trace folder, or a Kineto .json.gz (imported once, cached)
    t.kernels          # pandas DataFrame, one row per device activity
    t.ops, t.launches, t.regions, t.counters, t.meta
    r = skiprof.report(t)               # every analysis; r["phases"].figure() draws one
    skiprof.sql(t, "select rank, count(*) from kernels group by rank")   # DuckDB over all ranks

In a workload::

    with skiprof.region("preprocess"):
        ...
    skiprof.step()
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._errors import SkiprofError
from ._folder import Trace
from ._folder import load as _load_folder
from ._version import __version__
from .capture._metrics import record_metrics
from .capture._regions import KNOWN_REGIONS, region, step

__all__ = ["load", "report", "sql", "Trace", "region", "step", "record_metrics", "trace", "capture_window", "KNOWN_REGIONS",
           "SkiprofError", "__version__"]


def capture_window(seconds: float | None = None) -> bool:
    """Record the next ``seconds`` of the calling thread's work as a window, e.g. when p99 latency crosses a line.

    Works under ``skiprof trace --every`` or ``--on-signal`` (elsewhere it returns False and does
    nothing). A window already in progress is not restarted: the request is logged and False
    returned. ``seconds`` defaults to the run's ``--duration``.
    """
    import sys

    mod = sys.modules.get("skiprof.capture._windows")  # loaded by skiprof trace when it arms windows
    return mod.capture_window(seconds) if mod is not None else False


def load(path: str | os.PathLike[str], rank: int | None = None) -> Trace:
    """Open a trace folder written by ``skiprof trace``/``skiprof import``, or a Kineto trace file
    (.json / .json.gz) or a folder of per-rank Kineto files, which is imported into a cache on
    first use and reused afterwards.
    ``rank``: only that rank of a multi-rank folder (memory for one rank, not all)."""
    p = Path(path)
    if p.is_file() or (p.is_dir() and not (p / "meta.json").exists() and
                       any(q.name.endswith((".json", ".json.gz")) for q in p.iterdir())):
        from ._cache import load_kineto

        return load_kineto(p) if rank is None else _load_folder(load_kineto(p).path, rank=rank)
    return _load_folder(p, rank=rank)


def sql(source: Trace | str | os.PathLike[str], query: str) -> Any:
    """A DuckDB query over every rank's tables of a trace (views ops, launches, kernels, regions,
    counters, metrics, memory and ranks), as a pandas DataFrame. Needs ``skiprof[sql]``."""
    from ._sql import query as _query

    folder = source.path if isinstance(source, Trace) else load(source).path
    return _query(folder, query).to_pandas()


def report(source: Any, *, rank: int | None = None, step: int | None = None, region: str | None = None,
           top: int = 10, fmt: str = "json") -> Any:
    """Every analysis on one view of a trace (a folder, a Trace or a Kineto file), as a Document:
    ``to_dict()`` is the report JSON, ``doc["boundness"]`` one Result, and it shows itself in Jupyter.
    A trace of several ranks without ``rank`` gets the cross-rank report (``doc["ranks"]``)."""
    from ._analysis import report as _report

    if not isinstance(source, Trace):
        source = load(source)
    return _report(source, rank=rank, step=step, region=region, top=top, fmt=fmt)


@contextmanager
def trace(output: str | Path, *, force: bool = False, record_shapes: bool = True,
          with_stack: bool = False, with_modules: bool = False, profile_memory: bool = False) -> Iterator[dict[str, Any]]:
    """Profile the body of a ``with`` block into the trace folder ``output`` (``profile_memory``:
    allocator events for the memory analysis; ``with_modules``: the nn.Module of each op).

    Yields a dict that holds ``path`` and, after the block, ``summary``.
    """
    from ._folder import building
    from ._ingest_summary import summarize
    from .capture import CaptureOptions, Session
    from .ingest._pipeline import finish_capture

    out = Path(output)
    handle: dict[str, Any] = {"path": out}
    with building(out, force) as staging:
        session = Session(staging, CaptureOptions(record_shapes=record_shapes, with_stack=with_stack,
                                                  with_modules=with_modules, profile_memory=profile_memory))
        session.start()
        try:
            yield handle
        finally:
            session.stop()
        if session.export_error or not session.exported:
            raise SkiprofError(f"{out}: {session.export_error or 'the profiler produced no trace'}")
        meta = finish_capture(session, staging, capture=session.capture_facts())
    handle["summary"] = summarize(str(out), meta)
