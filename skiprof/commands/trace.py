"""``skiprof trace``: run a workload under the profiler, then ingest its trace."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .._dataset import merge_partitions, world
from .._errors import SkiprofError, UsageError
from .._folder import building
from .._ingest_summary import IngestSummary, summarize
from .._meta import Capture, Window
from ..capture import (
    CaptureOptions,
    Session,
    Target,
    default_output,
    expand_output,
    finish_like_python,
    release_script,
    run_target,
)
from ..capture._calibration import host_calibration
from ..capture._session import TRACE_FILE
from ..ingest._pipeline import finish_capture
from ._common import SECONDS_MAX, ForceOpt, NoReportOpt, console, finite, name_orphans, progress_bar

if TYPE_CHECKING:  # the window machinery loads only when --every/--on-signal asks for it
    from ..capture._windows import WindowLog, WindowPlan

__all__ = ["run_trace", "CaptureFailed", "command", "HELP", "CONTEXT"]


class CaptureFailed(SkiprofError):
    """The script ran but no trace came out of the profiler."""


def run_trace(target: Target, output: str | None, *, force: bool, options: CaptureOptions,
              progress: Any = None) -> tuple[int, IngestSummary]:
    """Profile ``target``; returns (the script's exit code, the summary of the written folder)."""
    out = expand_output(output) if output else default_output(target.label)
    name_orphans(out)
    dist = world()
    # Under torchrun every rank writes its own partition of one dataset (skiprof/_dataset.py).
    target_dir = out / f"rank={dist[0]}" if dist else out
    with building(target_dir, force, _inputs(target)) as staging:  # refuses before running anything: never clobber, never waste a run
        code, session = _record(target, staging, options, out)
        stops: list[int] = []
        try:
            with _finishing(stops):
                meta = finish_capture(session, staging, progress, rank=dist[0] if dist else 0,
                                      command=["skiprof", *sys.argv[1:]], torch_version=_torch_version(),
                                      capture=_capture_meta(target, session, options, code),
                                      calibration=host_calibration())
        except (OSError, SkiprofError) as exc:
            raise _rescue(staging, target_dir, exc) from None
        except KeyboardInterrupt:  # a second Ctrl-C (or SIGTERM/SIGHUP) while the folder was written
            failed = _rescue(staging, target_dir, KeyboardInterrupt("interrupted while the trace folder was written"))
            failed.exit_code = 128 + (stops[-1] if stops else 2)
            raise failed from None
        if stops:  # asked to stop once: the folder is complete, and the exit status says it was interrupted
            code = 128 + stops[0]
    if dist:
        meta = merge_partitions(out, dist[1])
    return code, summarize(str(out), meta)


def run_windows(target: Target, output: str | None, *, force: bool, options: CaptureOptions,
                plan: WindowPlan) -> tuple[int, WindowLog]:
    """Profile ``target`` in windows (``--every``/``--on-signal``); returns its exit code and what was kept."""
    import shutil

    from .._folder import check_output
    from ..capture._windows import WindowRecorder

    out = expand_output(output) if output else default_output(target.label)
    check_output(out, force, _inputs(target))
    if out.exists() or out.is_symlink():  # -f: the old run goes before the first new window is written
        shutil.rmtree(out) if out.is_dir() and not out.is_symlink() else out.unlink()
    out.mkdir(parents=True)
    command = ["skiprof", *sys.argv[1:]]
    calibration = host_calibration()

    def describe(session: Session, window: dict[str, Any]) -> dict[str, Any]:
        """The meta.json facts of one window of a long-running capture."""
        import msgspec

        capture = _capture_meta(target, session, options, None)
        capture.window = Window(**window)
        return {"command": command, "torch_version": _torch_version(), "capture": msgspec.to_builtins(capture),
                "calibration": calibration}

    recorder = WindowRecorder(out, plan, options, describe)
    recorder.start()
    code = 1
    try:
        code = _run_like_python(target)
    finally:
        try:
            log = recorder.close()
        finally:
            release_script()
    if not log.committed and not any(out.iterdir()):
        out.rmdir()
    return code, log


def _window_plan(every: float | None, keep: int | None, on_signal: str | None, delay: float,
                 duration: float | None, steps: int | None) -> WindowPlan | None:
    """The window plan of --every/--on-signal/--keep (None: one capture, as before)."""
    from ..capture._windows import WindowPlan
    if every is None and on_signal is None:
        if keep is not None:
            raise UsageError("--keep needs --every or --on-signal")
        return None
    if steps is not None:
        raise UsageError("--steps cannot be combined with --every/--on-signal (windows are measured in seconds)")
    length = 2.0 if duration is None else duration
    if length <= 0:
        raise UsageError("--duration must be positive for windows")
    if every is not None and length >= every:
        raise UsageError(f"--duration ({length:g} s) must be shorter than --every ({every:g} s)")
    if world() is not None:
        raise UsageError("--every/--on-signal record one process; under torchrun give each rank its own "
                         "folder with -o run-%q{RANK}")
    return WindowPlan(duration=length, every=every, keep=keep, on_signal=_signal_number(on_signal), delay=delay)


def _signal_number(name: str | None) -> int | None:
    """USR2, SIGUSR2 or 12 -> the signal number (None: no --on-signal); only USR1 and USR2 are allowed."""
    if name is None:
        return None
    from .signal import signal_number

    return signal_number(name, "--on-signal")


def _say_windows(log: WindowLog) -> None:
    """One line per kept window and per problem, on stderr."""
    err = console(stderr=True)
    if not log.committed:
        err.print("[yellow]no window was recorded[/]")
    kept = [p for p in log.committed if p not in log.removed]
    if kept:
        err.print(f"{len(kept)} window(s) kept in {kept[0].parent}: " + ", ".join(p.name for p in kept)
                  + f"; `skiprof report {kept[0].parent}` shows them over time")
    for line in log.errors:
        err.print(f"[yellow]{line}[/]")


@contextmanager
def _finishing(stops: list[int]) -> Iterator[None]:
    """While the trace folder is written: the first Ctrl-C, SIGTERM or SIGHUP is noted and the work goes on (the
    run is over; only its folder is left to write), a second stops it with KeyboardInterrupt, and the caller keeps
    the raw trace. Signals the parent chose to ignore stay ignored."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: Any) -> None:
        stops.append(signum)
        if len(stops) > 1:
            raise KeyboardInterrupt
        try:
            os.write(2, b"skiprof: still writing the trace folder; press Ctrl-C again to stop and keep the raw trace\n")
        except OSError:
            pass

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
           if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _run_like_python(target: Target) -> int:
    """Run the script to its end as python would; returns its exit code."""
    code = run_target(target)
    # Threads and atexit handlers belong to the script: their work is recorded, and the files
    # they write exist, exactly as under plain python.
    return finish_like_python(code)


def _record(target: Target, staging: Path, options: CaptureOptions, out: Path) -> tuple[int, Session]:
    """Run the target under a profiling session; returns its exit code and the stopped session."""
    session = Session(staging, options)
    session.start()
    code = 1
    try:
        code = _run_like_python(target)
    finally:
        try:
            session.stop()
        finally:
            release_script()  # after the profiler: teardown is not the script's work
    if session.export_error:
        raise CaptureFailed(f"{out}: {session.export_error}")
    if options.steps and not session.step_calls:  # else the whole run would pass for the steps asked for
        raise CaptureFailed(f"{out}: --steps {options.steps}: the script never called skiprof.step(), so no step was "
                            "recorded; mark each iteration with skiprof.step(), or drop --steps to record the whole run")
    if not session.exported:
        why = ("the script ended before --delay elapsed" if options.delay
               else "the requested steps never ran (is skiprof.step() called?)" if options.steps
               else "the profiler produced no trace")
        raise CaptureFailed(f"{out}: no trace recorded: {why}")
    return code, session


def _inputs(target: Target) -> list[Path]:
    """What the output may never replace nor hold: the script."""
    return [Path(target.script)] if target.script else []


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _capture_meta(target: Target, session: Session, options: CaptureOptions, code: int | None) -> Capture:
    """meta.json's ``capture`` entry: what ran, how it ended, what was recorded."""
    return session.capture_facts(script=str(target.script) if target.script else None, module=target.module,
                                 args=list(target.args), exit_code=code, options=options)


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
    delay: Annotated[float, typer.Option("--delay", help="Seconds to wait before recording.", parser=finite(0.0, SECONDS_MAX), metavar="SECONDS")] = 0.0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds to record, then stop; with --every/--on-signal, the length of each window (default 2).", parser=finite(0.0, SECONDS_MAX), metavar="SECONDS", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Record N steps marked by skiprof.step().", min=1, max=10**9, show_default=False)] = None,
    skip_first: Annotated[int, typer.Option("--skip-first", help="With --steps: steps to skip before recording.", min=0, max=10**9)] = 0,
    record_shapes: Annotated[bool, typer.Option("--record-shapes/--no-record-shapes", help="Record operator input shapes.")] = True,
    with_stack: Annotated[bool, typer.Option("--with-stack", help="Record Python stacks (slower; torch 2.13 may fail on odd bytes).")] = False,
    with_modules: Annotated[bool, typer.Option("--with-modules", help="Record which nn.Module each op ran in (the module rollup).")] = False,
    profile_memory: Annotated[bool, typer.Option("--profile-memory", help="Record allocations and frees (the memory timeline).")] = False,
    every: Annotated[Optional[float], typer.Option("--every", help="Record a window of --duration seconds (default 2) every N seconds for as long as the process lives; each window becomes OUTPUT/window=K/.", parser=finite(0.01, SECONDS_MAX), metavar="SECONDS", show_default=False)] = None,
    keep: Annotated[Optional[int], typer.Option("--keep", help="With --every/--on-signal: keep only the newest N windows on disk (older ones go once a newer one is complete).", min=1, max=1_000_000, show_default=False)] = None,
    on_signal: Annotated[Optional[str], typer.Option("--on-signal", help="Record a window of --duration seconds when the process gets this signal (e.g. USR2: kill -USR2 PID, or skiprof signal PID).", show_default=False)] = None,
    no_report: NoReportOpt = False,
) -> None:
    """``skiprof trace``: check the options, run the script under the profiler, and write the trace folder (help:
    HELP)."""
    from ..capture import resolve_target

    if skip_first and steps is None:
        raise UsageError("--skip-first needs --steps")
    plan = _window_plan(every, keep, on_signal, delay, duration, steps)
    target = resolve_target(script, module, list(args or []))
    options = CaptureOptions(delay=delay, duration=duration, steps=steps, skip_first=skip_first,
                             record_shapes=record_shapes, with_stack=with_stack, with_modules=with_modules,
                             profile_memory=profile_memory)
    if plan is not None:
        code, log = run_windows(target, output, force=force, options=options, plan=plan)
        if not no_report:
            _say_windows(log)
        raise typer.Exit(code)
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
