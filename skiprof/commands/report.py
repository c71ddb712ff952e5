"""``skiprof report``: every analysis of the registry on one view, in any output format."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._errors import UsageError
from ..render import Document
from ._common import (
    EngineOpt,
    FolderArg,
    ForceOpt,
    FormatOpt,
    JobsOpt,
    OutputOpt,
    RankOpt,
    RegionOpt,
    SchedulerOpt,
    StepOpt,
    TopOpt,
    check_file,
    emit,
    engine_for,
    trace_folder,
)

__all__ = ["command", "build_report", "HELP"]

HELP = ("Analyze a trace folder: launch/queue time (TKLQT), GPU busy and idle, CPU-, GPU-, sync- or "
        "dependency-boundness with its evidence, phase shares, data movement, top kernels and ops. A folder of several ranks gets the cross-rank "
        "report (per-rank table, stragglers, collectives and their arrival skew) unless --rank picks one. A Kineto trace "
        "file is imported once into the cache ($SKIPROF_CACHE) and reported. Terminal by default; --format json|markdown|html, to stdout or -o FILE (the format follows the file's extension).")


def build_report(folder: Path, *, fmt: str = "json", rank: int | None = None, step: int | None = None,
                 region: str | None = None, top: int = 10, spread: Any = None) -> Document:
    """The report of a trace folder, a Kineto trace file (through the cache), or a sweep folder (its last
    run, plus the sweep's transition)."""
    from .._analysis import report
    from .sweep import SWEEP_FILE, load_sweep
    from .transition import run_transition

    sweep = None
    if (folder / SWEEP_FILE).exists():
        sweep = run_transition(folder, write=False)
        ok = [r for r in load_sweep(folder)["runs"] if r.get("status") == "ok"]
        if not ok:
            raise UsageError(f"{folder}: the sweep has no successful run to report on")
        folder = folder / ok[-1]["folder"]
    # A Kineto file is imported once into the cache, as skiprof.load and the other commands do; the
    # report names the file the user gave, as theirs do.
    doc = report(trace_folder(folder), rank=rank, step=step, region=region, top=top, fmt=fmt, spread=spread,
                 name=str(folder))
    if sweep is not None:
        doc.results.append(sweep)
    return doc


def command(folder: FolderArg, fmt: FormatOpt = None, output: OutputOpt = None, force: ForceOpt = False,
            top: TopOpt = 10, step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None,
            jobs: JobsOpt = None, engine: EngineOpt = None, scheduler: SchedulerOpt = None) -> None:
    """``skiprof report``: the report of a trace folder, Kineto file or sweep (help: HELP)."""
    check_file(output, force, [folder])  # before any work
    from ..render import renderer_for

    kind = renderer_for(fmt.value if fmt else None, str(output) if output else None)
    with engine_for(engine, scheduler, jobs) as spread:
        emit(build_report(folder, fmt=kind, rank=rank, step=step, region=region, top=top, spread=spread), fmt, output, force, [folder])
