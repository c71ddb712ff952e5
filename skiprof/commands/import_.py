"""``skiprof import``: turn Kineto traces written by any torch.profiler into a trace folder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._folder import building, write_meta
from .._ingest_summary import IngestSummary, summarize
from ..ingest import trace_files
from ..ingest._pipeline import Progress, build_meta, ingest_files
from ._common import EngineOpt, ForceOpt, JobsOpt, NoReportOpt, SchedulerOpt, console, emit, engine_for, name_orphans, progress_bar

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
               progress: Progress | None = None, jobs: int = 1, spread: Any = None) -> IngestSummary:
    """Ingest ``inputs`` (files, or folders of per-rank files) into one trace folder; ranks run
    where ``spread`` says (skiprof._spread), by default in a pool of ``jobs`` processes."""
    files = trace_files(inputs)
    out = output or default_import_output(inputs[0])
    name_orphans(out)
    with building(out, force, inputs) as staging:
        outcomes = ingest_files(files, staging, progress=progress, jobs=jobs, spread=spread)
        meta = write_meta(staging, build_meta(outcomes, files))
    return summarize(str(out), meta)


def command(
    traces: Annotated[list[Path], typer.Argument(help="Trace files, or folders holding them.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output trace folder. Default: skiprof-<trace name>.", show_default=False)] = None,
    force: ForceOpt = False,
    no_report: NoReportOpt = False,
    jobs: JobsOpt = None,
    engine: EngineOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    bar = progress_bar()
    with engine_for(engine, scheduler, jobs) as spread:
        try:
            summary = run_import(traces, output, force=force, progress=bar, jobs=spread.jobs, spread=spread)
        finally:
            if bar is not None:
                bar.close()
        if no_report:
            return
        from ..render.ingest_summary import render_summary

        render_summary(summary, console())
        if len(summary.ranks) > 1:  # the first thing to see of a many-rank job: how its ranks compare
            from .._analysis import report

            emit(report(summary.path, spread=spread, fmt="terminal"), None, None, False)
