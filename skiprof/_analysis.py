"""``skiprof.report``: every analysis of the registry on one view of a trace, as one Document.

The library's entry point to the report; ``skiprof report`` renders the same Document.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._errors import UsageError
from ._folder import Trace, load, window_folders
from ._schema import REPORT_PREFETCH, VIEW_READS
from .render import Document

__all__ = ["report", "read_ahead"]


def report(source: Trace | str | os.PathLike[str], *, rank: int | None = None, step: int | None = None,
           region: str | None = None, top: int = 10, fmt: str = "json", spread: Any = None,
           name: str | None = None) -> Document:
    """The report of a trace folder (or a loaded Trace, or a Kineto trace file) for one scope.
    ``name``: what the header calls the trace (a command passes the file the user gave for the cache
    folder it was imported into); the trace's folder by default.

    A trace of several ranks, with no ``rank``, ``step`` or ``region``, gets the cross-rank report
    (its per-rank work spread by ``spread``, a skiprof._spread.Spread); otherwise one rank's.
    ``fmt`` picks the analyses an output format shows (the timeline is html only). The Document
    renders as JSON (``to_dict()``), in a notebook (``_repr_html_``), or in any format (``render``);
    ``doc["phases"]`` is one analysis's Result.
    """
    if not isinstance(source, Trace):
        series = window_series(Path(source))
        if series is not None:
            from .analyzers import Options
            from .analyzers import report as run_all

            if rank is not None or step is not None or region is not None:
                raise UsageError(f"{source}: a folder of windows: --rank, --step and --region apply to one window "
                                 f"(skiprof report {source}/window=K)")
            return Document("report", f"{source} ({series.label})",
                            {"trace": str(source), "scope": series.label, "rank": None},
                            run_all(series, Options(top=top, spread=spread), fmt, "windows"))
    t = source if isinstance(source, Trace) else load(source)
    across_ranks = len(t.ranks) > 1 and rank is None and step is None and region is None
    if not across_ranks:
        read_ahead(t, REPORT_PREFETCH, fmt)
    from .analyzers import Options, select
    from .analyzers import report as run_all

    shown = name or str(t.path)
    options = Options(top=top, spread=spread)
    if across_ranks:
        header: dict[str, Any] = {"trace": shown, "scope": f"{len(t.ranks)} ranks", "rank": None}
        return Document("report", f"{shown} ({len(t.ranks)} ranks)", header, run_all(_lazy(t), options, fmt, "ranks"))
    v = select(t, rank=rank, step=step, region=region)
    header = {"trace": shown, "scope": v.label, "rank": v.rank}
    return Document("report", f"{shown} ({v.label})", header, run_all(v, options, fmt))


def read_ahead(t: Trace, tables: Iterable[str], fmt: str = "json", only: tuple[str, ...] | None = None) -> None:
    """Start reading ``tables`` of ``t`` in the background (the columns the analyses read) and, while
    they are read, import the analyses a report in ``fmt`` runs (``only`` these, when given).
    Reading Parquet releases the GIL, so the two overlap (docs/architecture.md, how a report starts)."""
    t.prefetch({n: VIEW_READS[n] for n in tables}, dictionary=True)  # as analyzers._view.read_cols reads them
    from .analyzers import load_modules

    load_modules(fmt, only=only)


def window_series(path: Path) -> Any:
    """The windows under ``path`` when it is a run folder of ``skiprof trace --every/--on-signal``, else None."""
    if not path.is_dir() or (path / "meta.json").exists():
        return None
    from .analyzers.windows import WindowSeries

    found = window_folders(path)
    return WindowSeries(path, tuple(found)) if found else None


def _lazy(t: Trace) -> Any:
    """What a cross-rank analysis receives: the trace, without reading any rank's tables (the
    analysis reads each rank where it runs)."""
    from types import SimpleNamespace

    return SimpleNamespace(trace=t, rank=None, label=f"{len(t.ranks)} ranks")
