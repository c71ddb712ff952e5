"""``skiprof trace``: run a workload under the profiler, then ingest its trace."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .._errors import SkiprofError
from .._folder import META, check_output, commit_folder, staging_folder
from .._schema import SCHEMA_VERSION
from .._summary import IngestSummary, summarize
from ..capture import CaptureOptions, Session, Target, default_output, expand_output, run_target
from ..capture._session import NVML_FILE, TRACE_FILE
from ._base import build_meta, ingest_files

__all__ = ["run_trace", "CaptureFailed"]


class CaptureFailed(SkiprofError):
    """The script ran but no trace came out of the profiler."""


def run_trace(target: Target, output: str | None, *, force: bool, options: CaptureOptions) -> tuple[int, IngestSummary]:
    """Profile ``target``; returns (the script's exit code, the summary of the written folder)."""
    import json

    out = expand_output(output) if output else default_output(target.label)
    check_output(out, force)  # before running anything: never clobber, never waste a run
    staging = staging_folder(out)
    try:
        session = Session(staging, options)
        session.start()
        try:
            code = run_target(target)
        finally:
            session.stop()
        if session.export_error:
            raise CaptureFailed(f"{out}: {session.export_error}")
        if not session.exported:
            why = "the script ended before --delay elapsed" if options.delay else "the requested steps never ran (is skiprof.step() called?)" if options.steps else "the profiler produced no trace"
            raise CaptureFailed(f"{out}: no trace recorded: {why}")
        trace = staging / TRACE_FILE
        ranks, fields = ingest_files([trace], staging, extra_events=staging / NVML_FILE)
        (staging / NVML_FILE).unlink(missing_ok=True)
        import torch

        meta = build_meta(
            ranks, fields, [Path(TRACE_FILE)],
            command=["skiprof", *sys.argv[1:]] if sys.argv and sys.argv[0].endswith("skiprof") else sys.argv,
            torch_version=torch.__version__,
            capture={
                "script": str(target.script) if target.script else None,
                "module": target.module,
                "args": list(target.args),
                "exit_code": code,
                "nvml": session.nvml_available,
                "devices": session.devices,
                "options": {
                    "delay": options.delay, "duration": options.duration, "steps": options.steps,
                    "skip_first": options.skip_first, "record_shapes": options.record_shapes,
                    "with_stack": options.with_stack,
                },
            },
        )
        meta = {"schema_version": SCHEMA_VERSION, **meta}
        (staging / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        commit_folder(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return code, summarize(str(out), meta)
