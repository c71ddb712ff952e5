"""``skiprof calibrate``: measure this host's floors and keep them for every later capture."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from ._common import ForceOpt, OutputOpt, check_file, console, write_atomic

__all__ = ["command", "HELP"]

HELP = ("Measure this host's floors: per-op dispatch cost through Python and through ATen, CPU memcpy bandwidth and, "
        "on a GPU, the null-kernel launch latency, the synchronize round trip and H2D/D2H bandwidth (pinned and "
        "pageable). Each figure is a median with its spread. The result is kept per host and copied into every trace "
        "captured on it; the report's host-overhead split and HDBI then use it (docs/metrics.md, Host overhead).")


def command(
    repeats: Annotated[int, typer.Option("--repeats", help="Timed loops per figure (the spread is over these).", max=1000, min=3)] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Measure and print, but do not save it for this host.")] = False,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """``skiprof calibrate``: measure this host's launch and dispatch floors, print them, and save them (help: HELP)."""
    from ..capture._calibration import calibrate, save_calibration
    from ..render.calibration import render_calibration

    err = console(stderr=True)
    check_file(output, force)  # before measuring: never waste the run
    result = calibrate(repeats=repeats, progress=lambda what: err.print(f"[dim]measuring {what}...[/]"))
    where = None if dry_run else save_calibration(result)
    if output is not None:  # a copy as JSON, beside the per-host file
        write_atomic(json.dumps(result, indent=2) + "\n", output, force)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        render_calibration(result, console())
    if where is not None:
        err.print(f"saved to {where}; later captures on this host carry it")
