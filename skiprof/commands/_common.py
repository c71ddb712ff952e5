"""What the commands share, written once: the common options, the output flow (format from
``--format`` or the file's extension, refuse to overwrite without ``-f``, parent folders created,
atomic write), consoles and progress bars."""
from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import UsageError
from .._outputs import file_output, write_file
from ..render import Document, renderer, renderer_for

__all__ = ["Fmt", "FormatOpt", "OutputOpt", "ForceOpt", "RankOpt", "StepOpt", "RegionOpt", "TopOpt", "NoReportOpt", "trace_folder",
           "FolderArg", "JobsOpt", "EngineOpt", "SchedulerOpt", "Engine", "engine_for", "emit", "check_file", "finite", "SCALE_MAX", "SECONDS_MAX", "write_atomic", "console", "progress_bar", "load_view", "name_orphans"]


class Fmt(str, Enum):
    """Output formats; every analysis command writes all of them."""

    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    html = "html"


FormatOpt = Annotated[Optional[Fmt], typer.Option(
    "--format", case_sensitive=False, show_default=False,
    help="terminal, json, markdown or html (default: from -o's extension, else terminal).")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "-o", "--output", show_default=False, help="Write to FILE instead of stdout (parent folders are created).")]
ForceOpt = Annotated[bool, typer.Option("-f", "--force", help="Overwrite the output if it exists.")]
RankOpt = Annotated[Optional[int], typer.Option("--rank", show_default=False, help="Rank to analyze (default: the lowest).")]
StepOpt = Annotated[Optional[int], typer.Option("--step", show_default=False,
                                                help="Only this ProfilerStep / skiprof.step() number.")]
RegionOpt = Annotated[Optional[str], typer.Option("--region", show_default=False,
                                                  help="Only time inside this region (skiprof.region or annotation name).")]
TopOpt = Annotated[int, typer.Option("--top", min=1, max=1_000_000, help="Rows in the top kernels / ops tables.")]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="Do not print the summary.")]
JobsOpt = Annotated[Optional[int], typer.Option(
    "-j", "--jobs", min=1, max=1024, show_default=False,
    help="Worker processes: ranks side by side, or the pieces of one large file (default: the number of cores).")]


class Engine(str, Enum):
    """Where per-rank work runs."""

    local = "local"
    dask = "dask"


EngineOpt = Annotated[Optional[Engine], typer.Option(
    "--engine", case_sensitive=False, show_default=False,
    help="local (a pool of processes, the default) or dask (a local Dask cluster of --jobs workers; needs skiprof[cluster]).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", show_default=False, metavar="ADDRESS",
    help="Run per-rank work on the Dask cluster at ADDRESS (tcp://host:8786); its workers must see the same paths.")]


def finite(lo: float, hi: float, *, above: bool = False) -> Callable[[str], float]:
    """The parser of a float option that takes only finite numbers from ``lo`` (excluded with ``above``) to
    ``hi``: nan, inf and 1e308 are usage errors, so no figure downstream overflows or turns to nan."""
    def parse(text: str | float) -> float:
        """The option's text (or its default) as a float, or a usage error naming the range."""
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number") from None
        low_ok = value > lo if above else value >= lo
        if not (math.isfinite(value) and low_ok and value <= hi):
            raise typer.BadParameter(f"{text} is outside {'(' if above else '['}{lo:g}, {hi:g}]")
        return value

    return parse


#: Scales of the what-if replay: up to a thousandfold, so that no predicted time leaves int64 nanoseconds.
SCALE_MAX = 1000.0
#: Seconds an option may ask for: a million (about 11 days).
SECONDS_MAX = 1e6


def engine_for(engine: Engine | None, scheduler: str | None, jobs: int | None) -> Any:
    """The context manager of the engine the options ask for (skiprof._spread.spread)."""
    from .._cores import usable_cores
    from .._spread import spread

    return spread("dask" if scheduler or engine is Engine.dask else "local", jobs=jobs or usable_cores(), scheduler=scheduler)


FolderArg = Annotated[Path, typer.Argument(show_default=False, help="Trace folder written by skiprof trace or skiprof import.")]


def console(stderr: bool = False, file: Any = None) -> Any:
    """A rich console; colour only on a terminal and never with NO_COLOR."""
    from rich.console import Console

    return Console(file=file, stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


def write_atomic(data: str | bytes, output: Path, force: bool, inputs: Sequence[Path] = ()) -> None:
    """Write a file output by skiprof._outputs' rules: a device or pipe as a stream, a file through a
    unique hidden sibling renamed into place; never replaced without ``force``, never over an input."""
    write_file(data, output, force, inputs)


def check_file(output: Path | None, force: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse a file output before any work: it exists without ``force``, it is a folder or a device
    skiprof never replaces, or it is (or lies inside) one of ``inputs``."""
    if output is not None:
        file_output(output, force, inputs)


def emit(doc: Document, fmt: Fmt | None, output: Path | None, force: bool, inputs: Sequence[Path] = ()) -> None:
    """Render ``doc`` in the chosen format to stdout or to ``output`` (checked against ``inputs``)."""
    kind = renderer_for(fmt.value if fmt else None, str(output) if output else None)
    check_file(output, force, inputs)  # before any rendering
    if kind == "html":
        import importlib.util

        if importlib.util.find_spec("plotly") is None:
            raise UsageError("the html output needs plotly: pip install 'skiprof[plot]'")
    if output is None and kind == "terminal":
        from ..render.terminal import print_document

        print_document(doc, console())
        return
    text = renderer(kind).render(doc, color=False, width=100)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(text, output, force, inputs)


def trace_folder(path: Path) -> Path:
    """``path`` itself, or for a Kineto trace file the cache folder it is imported into once (skiprof.load's cache)."""
    if path.is_file():
        from .._cache import load_kineto

        def say(folder: Path) -> None:  # only where someone watches: the first use of a big file takes a while
            if sys.stderr.isatty():
                console(stderr=True).print(f"skiprof: importing {path} into the cache ({folder}), once", highlight=False)

        return load_kineto(path, say).path
    return path


def load_view(folder: Path, *, rank: int | None = None, step: int | None = None, region: str | None = None,
              analyses: tuple[str, ...] = ()) -> Any:
    """Open a trace folder (or a Kineto trace file, imported once into the cache) and select the view
    the options name. Its tables are read in the background while the analyzers, and the modules of
    the registered ``analyses`` the command will run, are imported."""
    from .._analysis import read_ahead
    from .._folder import load
    from .._schema import VIEW_TABLES

    t = load(trace_folder(folder))
    read_ahead(t, VIEW_TABLES, only=analyses)
    from ..analyzers import select

    return select(t, rank=rank, step=step, region=region)


def progress_bar(kind: str = "bytes") -> Any:
    """A rich progress bar on stderr (None when stderr is not a terminal), fed with (label, done, total).

    ``kind`` "bytes" shows sizes, "count" shows done/total items.
    """
    if not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    amount = DownloadColumn() if kind == "bytes" else MofNCompleteColumn()
    bar = Progress(TextColumn("{task.description}"), BarColumn(), amount, TimeRemainingColumn(),
                   console=console(stderr=True), transient=True)
    tasks: dict[str, Any] = {}

    def update(label: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total or None)
        bar.update(tasks[label], completed=min(done, total) if total else done, description=label)

    update.close = bar.stop  # type: ignore[attr-defined]
    return update


def name_orphans(out: Path) -> None:
    """Say where an earlier, killed capture to the same output left its raw trace, and how to finish it."""
    from ..capture._output import orphaned_captures

    for raw in orphaned_captures(out):
        console(stderr=True).print(f"skiprof: note: an earlier capture to {out} was killed before it finished; its "
                                   f"raw trace is at {raw}: `skiprof import {raw} -o DIR` makes its trace folder",
                                   highlight=False, markup=False, soft_wrap=True)
