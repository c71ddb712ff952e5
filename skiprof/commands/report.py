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


def run_html(folder: Path, *, rank: int | None, step: int | None, region: str | None, top: int) -> str:
    """The HTML report of a trace folder, or of a sweep folder (its first run, plus the sweep curves)."""
    from ..analyzers import select
    from ..render.html import render_html
    from .sweep import SWEEP_FILE

    import importlib.util

    if importlib.util.find_spec("plotly") is None:
        raise UsageError("the HTML report needs plotly: pip install 'skiprof[plot]'")

    sweep = None
    if (folder / SWEEP_FILE).exists():
        from .transition import run_transition
        from .sweep import load_sweep

        sweep = run_transition(folder, write=False)
        ok = [r for r in load_sweep(folder)["runs"] if r.get("status") == "ok"]
        folder = folder / ok[-1]["folder"]
    t = load(folder)
    report = build_report(t, rank=rank, step=step, region=region, top=top)
    return render_html(report, select(t, rank=rank, step=step, region=region), sweep)
