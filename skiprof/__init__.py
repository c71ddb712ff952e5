"""skiprof: a systems-level trace profiler and analyzer for PyTorch.

In a notebook::

    t = skiprof.load("out")
    t.kernels          # pandas DataFrame, one row per device activity
    t.ops, t.launches, t.regions, t.counters, t.meta

In a workload::

    with skiprof.region("preprocess"):
        ...
    skiprof.step()
"""
from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._errors import SkiprofError
from ._folder import Trace, load
from ._version import __version__
from .capture._metrics import record_metrics
from .capture._regions import KNOWN_REGIONS, region, step

__all__ = ["load", "Trace", "region", "step", "record_metrics", "trace", "KNOWN_REGIONS", "SkiprofError",
           "__version__"]


@contextmanager
def trace(output: str | Path, *, force: bool = False, record_shapes: bool = True,
          with_stack: bool = False) -> Iterator[dict[str, Any]]:
    """Profile the body of a ``with`` block into the trace folder ``output``.

    Yields a dict that holds ``path`` and, after the block, ``summary``.
    """
    from ._folder import building
    from ._summary import summarize
    from .capture import CaptureOptions, Session
    from .commands._base import finish_capture

    out = Path(output)
    handle: dict[str, Any] = {"path": out}
    with building(out, force) as staging:
        session = Session(staging, CaptureOptions(record_shapes=record_shapes, with_stack=with_stack))
        session.start()
        try:
            yield handle
        finally:
            session.stop()
        if session.export_error or not session.exported:
            raise SkiprofError(f"{out}: {session.export_error or 'the profiler produced no trace'}")
        meta = finish_capture(session, staging, capture=session.capture_facts())
    handle["summary"] = summarize(str(out), meta)
