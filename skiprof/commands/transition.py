"""``skiprof transition``: per-configuration figures of a sweep, and where it turns GPU-bound."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._folder import load
from .sweep import load_sweep

__all__ = ["TransitionResult", "run_transition", "write_csv"]


@dataclass(frozen=True)
class TransitionResult:
    """The table (one row per swept value), the located transition, and the files written."""

    folder: Path
    param: str
    table: dict[str, list[Any]]
    transition: Any
    failed: list[dict[str, Any]]
    csv_path: Path | None
    plot_path: Path | None
    plot_note: str | None


def run_transition(folder: Path, *, by: str | None = None, write: bool = True) -> TransitionResult:
    """Analyze every successful run of a sweep folder; writes transition.csv and transition.png there."""
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
    csv_path = plot_path = None
    note = None
    if write:
        csv_path = write_csv(folder / "transition.csv", param, table)
        from ..render.plot import plot_transition

        plot_path, note = plot_transition(folder / "transition.png", param, table, result)
    return TransitionResult(folder, param, table, result, failed, csv_path, plot_path, note)


def write_csv(path: Path, param: str, table: dict[str, list[Any]]) -> Path:
    """The per-configuration table as CSV (the swept parameter's name heads the first column)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([param, *list(table)[1:]])
        for i in range(len(table["value"])):
            w.writerow([table[k][i] for k in table])
    return path
