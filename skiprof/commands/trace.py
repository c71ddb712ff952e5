"""``skiprof trace``: run a workload under the profiler, then ingest its trace."""
from __future__ import annotations

import sys
from typing import Any

from .._errors import SkiprofError
from .._folder import building
from .._summary import IngestSummary, summarize
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
        import torch

        meta = finish_capture(
            session, staging, progress,
            command=["skiprof", *sys.argv[1:]],
            torch_version=torch.__version__,
            capture={
                "script": str(target.script) if target.script else None,
                "module": target.module,
                "args": list(target.args),
                "exit_code": code,
                **session.capture_facts(),
                "options": {
                    "delay": options.delay, "duration": options.duration, "steps": options.steps,
                    "skip_first": options.skip_first, "record_shapes": options.record_shapes,
                    "with_stack": options.with_stack,
                },
            },
        )
    return code, summarize(str(out), meta)
