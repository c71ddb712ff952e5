"""``skiprof import``: turn Kineto traces written by any torch.profiler into a trace folder."""
from __future__ import annotations

from pathlib import Path

from .._folder import building, write_meta
from .._summary import IngestSummary, summarize
from ..ingest import trace_files
from ._base import Progress, build_meta, ingest_files

__all__ = ["run_import", "default_import_output"]


def default_import_output(first: Path) -> Path:
    """``skiprof-<trace stem>`` in the current folder."""
    name = first.name
    for suffix in (".gz", ".json", ".pt.trace"):
        name = name.removesuffix(suffix)
    return Path(f"skiprof-{name or 'trace'}")


def run_import(inputs: list[Path], output: Path | None, *, force: bool,
               progress: Progress | None = None, workers: int = 1) -> IngestSummary:
    """Ingest ``inputs`` (files, or folders of per-rank files) into one trace folder."""
    files = trace_files(inputs)
    out = output or default_import_output(inputs[0])
    with building(out, force) as staging:
        ranks, fields = ingest_files(files, staging, progress=progress, workers=workers)
        meta = write_meta(staging, build_meta(ranks, fields, files, torch_version=None))
    return summarize(str(out), meta)
