"""``skiprof trace``: run a workload under the profiler, then ingest its trace."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._dataset import merge_partitions, world
from .._errors import SkiprofError, UsageError
from .._folder import building
from .._ingest_summary import IngestSummary, summarize
from .._meta import Capture, CaptureSettings
from ..capture import CaptureOptions, Session, Target, default_output, expand_output, finish_like_python, run_target
from ..capture._session import TRACE_FILE
from ..ingest._pipeline import finish_capture
from ._common import ForceOpt, NoReportOpt, console, progress_bar

__all__ = ["run_trace", "CaptureFailed", "command", "HELP", "CONTEXT"]


class CaptureFailed(SkiprofError):
    """The script ran but no trace came out of the profiler."""


def run_trace(target: Target, output: str | None, *, force: bool, options: CaptureOptions,
              progress: Any = None) -> tuple[int, IngestSummary]:
    """Profile ``target``; returns (the script's exit code, the summary of the written folder)."""
    out = expand_output(output) if output else default_output(target.label)
    dist = world()
    # Under torchrun every rank writes its own partition of one dataset (skiprof/_dataset.py).
    target_dir = out / f"rank={dist[0]}" if dist else out
    with building(target_dir, force) as staging:  # refuses before running anything: never clobber, never waste a run
        code, session = _record(target, staging, options, out)
        try:
            meta = finish_capture(session, staging, progress, rank=dist[0] if dist else 0,
                                  command=["skiprof", *sys.argv[1:]], torch_version=_torch_version(),
                                  capture=_capture_meta(target, session, options, code))
        except (OSError, SkiprofError) as exc:
            raise _rescue(staging, target_dir, exc) from None
    if dist:
        meta = merge_partitions(out, dist[1])
    return code, summarize(str(out), meta)


def _record(target: Target, staging: Path, options: CaptureOptions, out: Path) -> tuple[int, Session]:
    """Run the target under a profiling session; returns its exit code and the stopped session."""
    session = Session(staging, options)
    session.start()
    code = 1
    try:
        code = run_target(target)
        # Threads and atexit handlers belong to the script: their work is recorded, and the files
        # they write exist, exactly as under plain python.
        code = finish_like_python(code)
    finally:
        session.stop()
    if session.export_error:
        raise CaptureFailed(f"{out}: {session.export_error}")
    if not session.exported:
        why = ("the script ended before --delay elapsed" if options.delay
               else "the requested steps never ran (is skiprof.step() called?)" if options.steps
               else "the profiler produced no trace")
        raise CaptureFailed(f"{out}: no trace recorded: {why}")
    return code, session


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _capture_meta(target: Target, session: Session, options: CaptureOptions, code: int) -> Capture:
    """meta.json's ``capture`` entry: what ran, how it ended, what was recorded."""
    settings = CaptureSettings(delay=options.delay, duration=options.duration, steps=options.steps,
                               skip_first=options.skip_first, record_shapes=options.record_shapes,
                               with_stack=options.with_stack, with_modules=options.with_modules,
                               profile_memory=options.profile_memory)
    return session.capture_facts(script=str(target.script) if target.script else None, module=target.module,
                                 args=list(target.args), exit_code=code, options=settings)


def _rescue(staging: Path, out: Path, exc: BaseException) -> CaptureFailed:
    """The tables could not be written: keep the raw trace (it may have taken hours) and say where."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    raw = staging / TRACE_FILE
    target = out.parent / f"{out.name}.trace.json.gz"
    n = 1
    while target.exists():
        n += 1
        target = out.parent / f"{out.name}.trace-{n}.json.gz"
    try:
        os.rename(raw, target)  # same folder, same filesystem: a rename needs no free space
    except OSError:
        target = raw
    failed = CaptureFailed(f"{out}: the trace folder could not be written ({why}); the raw trace is kept at "
                           f"{target}: `skiprof import {target} -o {out}` finishes the job later")
    failed.keep_staging = target == raw  # type: ignore[attr-defined]
    return failed


HELP = ("Run SCRIPT (or -m MODULE) under the profiler and write a trace folder. Everything after the script belongs "
        "to the script; skiprof exits with the script's exit code, after its threads and atexit handlers, as python does.")
CONTEXT = {"allow_interspersed_args": False, "ignore_unknown_options": True}


def command(
    script: Annotated[Optional[str], typer.Argument(help="Python script to run as __main__.", show_default=False)] = None,
    args: Annotated[Optional[list[str]], typer.Argument(help="Arguments passed to the script untouched.", show_default=False)] = None,
    module: Annotated[Optional[str], typer.Option("-m", "--module", help="Run a module as with python -m (the current folder is searched first).", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", show_default=False, help="Output trace folder. Default: skiprof-<name>-<timestamp>. %p expands to the pid, %q{ENV} to an environment variable, %h to the host name.")] = None,
    force: ForceOpt = False,
    delay: Annotated[float, typer.Option("--delay", help="Seconds to wait before recording.", min=0)] = 0.0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds to record, then stop.", min=0, show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Record N steps marked by skiprof.step().", min=1, show_default=False)] = None,
    skip_first: Annotated[int, typer.Option("--skip-first", help="With --steps: steps to skip before recording.", min=0)] = 0,
    record_shapes: Annotated[bool, typer.Option("--record-shapes/--no-record-shapes", help="Record operator input shapes.")] = True,
    with_stack: Annotated[bool, typer.Option("--with-stack", help="Record Python stacks (slower; torch 2.13 may fail on odd bytes).")] = False,
    with_modules: Annotated[bool, typer.Option("--with-modules", help="Record which nn.Module each op ran in (the module rollup).")] = False,
    profile_memory: Annotated[bool, typer.Option("--profile-memory", help="Record allocations and frees (the memory timeline).")] = False,
    no_report: NoReportOpt = False,
) -> None:
    from ..capture import resolve_target

    if skip_first and steps is None:
        raise UsageError("--skip-first needs --steps")
    target = resolve_target(script, module, list(args or []))
    options = CaptureOptions(delay=delay, duration=duration, steps=steps, skip_first=skip_first,
                             record_shapes=record_shapes, with_stack=with_stack, with_modules=with_modules,
                             profile_memory=profile_memory)
    bar = progress_bar()
    try:
        code, summary = run_trace(target, output, force=force, options=options, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not no_report:
        from ..render.ingest_summary import render_summary

        render_summary(summary, console(stderr=True))
    raise typer.Exit(code)
