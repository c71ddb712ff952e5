"""``skiprof transition``: per-configuration figures of a sweep, and where it turns GPU-bound."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import UsageError
from .._folder import load
from ._common import ForceOpt, FormatOpt, OutputOpt, check_file, emit
from .sweep import load_sweep

__all__ = ["run_transition", "write_csv", "command", "HELP"]

HELP = ("Per-configuration TKLQT, IL, AKD and idle/queue/launch shares of a sweep folder, the CPU->GPU-bound "
        "transition by two criteria, and transition.csv / transition.png in the folder.")


def run_transition(folder: Path, *, by: str | None = None, write: bool = True,
                   notes: list[str] | None = None) -> Any:
    """Analyze every successful run of a sweep folder (a TransitionResult); with ``write``, also
    transition.csv and transition.png there, each file named in ``notes``."""
    from ..analyzers import transition

    record = load_sweep(folder)
    names = [p[0] for p in record["params"]]
    param = by or names[0]
    if param not in names:
        raise UsageError(f"--by {param}: the sweep varied {', '.join(names)}")
    rows = []
    for run in record["runs"]:
        if run.get("status") != "ok" or run.get("repeat", 0) < 0:
            continue  # failures are listed apart; warm-up runs are not measured
        try:
            value = float(run["config"][param])
        except ValueError:
            raise UsageError(f"--by {param}: values must be numbers to locate a transition") from None
        rows.append((value, transition.run_figures(load(folder / run["folder"]))))
    if not rows:
        raise UsageError(f"{folder}: no successful runs to analyze")
    table = transition.per_config(rows)
    result = transition.locate(table)
    failed = [r for r in record["runs"] if r.get("status") != "ok"]
    if write:
        csv_path = write_csv(folder / "transition.csv", param, table)
        from ..render.png import plot_transition

        plot_path, why = plot_transition(folder / "transition.png", param, table, result)
        if notes is not None:
            notes.append(f"wrote {csv_path}" + (f" and {plot_path}" if plot_path else f" (no plot: {why})"))
    return transition.TransitionResult(param, table, result, tuple(failed))


def write_csv(path: Path, param: str, table: dict[str, list[Any]]) -> Path:
    """The per-configuration table as CSV (the swept parameter's name heads the first column)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([param, *list(table)[1:]])
        for i in range(len(table["value"])):
            w.writerow([table[k][i] for k in table])
    return path


def command(
    folder: Annotated[Path, typer.Argument(help="Folder written by skiprof sweep.", show_default=False)],
    by: Annotated[Optional[str], typer.Option("--by", help="Swept parameter for the x axis (default: the first).", show_default=False)] = None,
    fmt: FormatOpt = None, output: OutputOpt = None, force: ForceOpt = False,
) -> None:
    """``skiprof transition``: the per-configuration figures of a sweep and where it turns GPU-bound (help: HELP)."""
    check_file(output, force, [folder])  # before any work
    from ..render import Document

    notes: list[str] = []
    res = run_transition(folder, by=by, notes=notes)
    emit(Document("transition", str(folder), {"sweep": str(folder)}, [res], notes), fmt, output, force, [folder])
