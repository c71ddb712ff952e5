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
from .capture._regions import KNOWN_REGIONS, region, step

__all__ = ["load", "Trace", "region", "step", "trace", "KNOWN_REGIONS", "SkiprofError", "__version__"]


@contextmanager
def trace(output: str | Path, *, force: bool = False, record_shapes: bool = True,
          with_stack: bool = False) -> Iterator[dict[str, Any]]:
    """Profile the body of a ``with`` block into the trace folder ``output``.

    Yields a dict that holds ``path`` and, after the block, ``summary``.
    """
    import json
    import shutil

    from ._folder import META, check_output, commit_folder, staging_folder
    from ._schema import SCHEMA_VERSION
    from ._summary import summarize
    from .capture import CaptureOptions, Session
    from .capture._session import NVML_FILE, TRACE_FILE
    from .commands._base import build_meta, ingest_files

    out = Path(output)
    check_output(out, force)
    staging = staging_folder(out)
    handle: dict[str, Any] = {"path": out}
    try:
        session = Session(staging, CaptureOptions(record_shapes=record_shapes, with_stack=with_stack))
        session.start()
        try:
            yield handle
        finally:
            session.stop()
        if not session.exported:
            raise SkiprofError(f"{out}: the profiler produced no trace")
        ranks, fields = ingest_files([staging / TRACE_FILE], staging, extra_events=staging / NVML_FILE)
        (staging / NVML_FILE).unlink(missing_ok=True)
        meta = {"schema_version": SCHEMA_VERSION,
                **build_meta(ranks, fields, [Path(TRACE_FILE)], capture={"nvml": session.nvml_available})}
        (staging / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        commit_folder(staging, out, force)
        handle["summary"] = summarize(str(out), meta)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
