"""``skiprof.report``: every analysis of the registry on one view of a trace, as one Document.

The library's entry point to the report; ``skiprof report`` renders the same Document.
"""
from __future__ import annotations

import os
from typing import Any

from ._folder import Trace, load
from .render import Document

__all__ = ["report"]


def report(source: Trace | str | os.PathLike[str], *, rank: int | None = None, step: int | None = None,
           region: str | None = None, top: int = 10, fmt: str = "json") -> Document:
    """The report of a trace folder (or a loaded Trace, or a Kineto trace file) for one scope.

    ``fmt`` picks the analyses an output format shows (the timeline is html only). The Document
    renders as JSON (``to_dict()``), in a notebook (``_repr_html_``), or in any format (``render``);
    ``doc["phases"]`` is one analysis's Result.
    """
    from .analyzers import Options, select
    from .analyzers import report as run_all

    t = source if isinstance(source, Trace) else load(source)
    v = select(t, rank=rank, step=step, region=region)
    header: dict[str, Any] = {"trace": str(t.path), "scope": v.label, "rank": v.rank}
    return Document("report", f"{t.path} ({v.label})", header, run_all(v, Options(top=top), fmt))
