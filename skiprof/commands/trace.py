"""``skiprof trace``: run a workload under the profiler, then ingest its trace."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .._errors import SkiprofError
from .._folder import building
from .._summary import IngestSummary, summarize
from ..capture._session import TRACE_FILE
from ..capture import CaptureOptions, Session, Target, default_output, expand_output, finish_like_python, run_target
from ._base import finish_capture

__all__ = ["run_trace", "CaptureFailed"]


class CaptureFailed(SkiprofError):
    """The script ran but no trace came out of the profiler."""


def run_trace(target: Target, output: str | None, *, force: bool, options: CaptureOptions,
              progress: Any = None) -> tuple[int, IngestSummary]:
    """Profile ``target``; returns (the script's exit code, the summary of the written folder)."""
    out = expand_output(output) if output else default_output(target.label)
    with building(out, force) as staging:  # refuses before running anything: never clobber, never waste a run
        code, session = _record(target, staging, options, out)
        try:
            meta = finish_capture(session, staging, progress, command=["skiprof", *sys.argv[1:]],
                                  torch_version=_torch_version(), capture=_capture_meta(target, session, options, code))
        except (OSError, SkiprofError) as exc:
            raise _rescue(staging, out, exc) from None
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


def _capture_meta(target: Target, session: Session, options: CaptureOptions, code: int) -> dict[str, Any]:
    """meta.json's ``capture`` entry: what ran, how it ended, what was recorded."""
    return {
        "script": str(target.script) if target.script else None,
        "module": target.module,
        "args": list(target.args),
        "exit_code": code,
        **session.capture_facts(),
        "options": {"delay": options.delay, "duration": options.duration, "steps": options.steps,
                    "skip_first": options.skip_first, "record_shapes": options.record_shapes,
                    "with_stack": options.with_stack},
    }


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
