"""``skiprof import``: turn Kineto traces written by any torch.profiler into a trace folder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._folder import building, write_meta
from .._ingest_summary import IngestSummary, summarize
from ..ingest import trace_files
from ..ingest._parallel import default_jobs
from ..ingest._pipeline import Progress, build_meta, ingest_files
from ._common import ForceOpt, NoReportOpt, console, progress_bar

__all__ = ["run_import", "default_import_output", "command", "HELP"]

HELP = ("Ingest Kineto traces (.json or .json.gz, CUDA, ROCm or CPU-only) into a trace folder. Several files, or a "
        "folder of per-rank files, become one dataset with rank=N/ partitions, ingested in parallel.")


def default_import_output(first: Path) -> Path:
    """``skiprof-<trace stem>`` in the current folder."""
    name = first.name
    for suffix in (".gz", ".json", ".pt.trace"):
        name = name.removesuffix(suffix)
    return Path(f"skiprof-{name or 'trace'}")


def run_import(inputs: list[Path], output: Path | None, *, force: bool,
               progress: Progress | None = None, jobs: int = 1) -> IngestSummary:
    """Ingest ``inputs`` (files, or folders of per-rank files) into one trace folder."""
    files = trace_files(inputs)
    out = output or default_import_output(inputs[0])
    with building(out, force) as staging:
        outcomes = ingest_files(files, staging, progress=progress, jobs=jobs)
        meta = write_meta(staging, build_meta(outcomes, files))
    return summarize(str(out), meta)


def command(
    traces: Annotated[list[Path], typer.Argument(help="Trace files, or folders holding them.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output trace folder. Default: skiprof-<trace name>.", show_default=False)] = None,
    force: ForceOpt = False,
    no_report: NoReportOpt = False,
    jobs: Annotated[Optional[int], typer.Option("-j", "--jobs", min=1, show_default=False,
                                                help="Worker processes: ranks ingested side by side, or the pieces of one large file (default: the number of cores).")] = None,
) -> None:
    bar = progress_bar()
    try:
        summary = run_import(traces, output, force=force, progress=bar, jobs=jobs or default_jobs())
    finally:
        if bar is not None:
            bar.close()
    if not no_report:
        from ..render.ingest_summary import render_summary

        render_summary(summary, console())
