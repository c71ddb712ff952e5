"""``skiprof report``: analyze a trace folder and render the report."""
from __future__ import annotations

from pathlib import Path

from .._errors import OutputExistsError, UsageError
from .._folder import load
from .._report import Report, build_report

__all__ = ["run_report", "write_output"]


def run_report(folder: Path, *, rank: int | None, step: int | None, region: str | None, top: int) -> Report:
    """Load the folder and run every analyzer on the chosen scope."""
    if top < 1:
        raise UsageError("--top must be at least 1")
    return build_report(load(folder), rank=rank, step=step, region=region, top=top)


def write_output(text: str, output: Path, force: bool) -> None:
    """Write a rendered report, never replacing a file without --force (atomic rename)."""
    if output.exists() and not force:
        raise OutputExistsError(output)
    tmp = output.with_name(f".{output.name}.partial")
    tmp.write_text(text)
    tmp.replace(output)
