"""Terminal rendering of a ``skiprof calibrate`` result."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["render_calibration", "LABELS"]

#: figure key -> (label, unit)
LABELS: dict[str, tuple[str, str]] = {
    "python_aten_op_ns": ("op through Python and ATen", "ns"),
    "aten_op_ns": ("op through ATen only", "ns"),
    "python_dispatch_ns": ("Python's share per op", "ns"),
    "cpu_memcpy_gbps": ("CPU memcpy", "GB/s"),
    "null_launch_ns": ("null-kernel launch", "ns"),
    "sync_round_trip_ns": ("synchronize round trip", "ns"),
    "h2d_pinned_gbps": ("H2D, pinned", "GB/s"),
    "d2h_pinned_gbps": ("D2H, pinned", "GB/s"),
    "h2d_pageable_gbps": ("H2D, pageable", "GB/s"),
    "d2h_pageable_gbps": ("D2H, pageable", "GB/s"),
}


def render_calibration(result: dict[str, Any], out: Console) -> None:
    """One row per figure: median, min and max."""
    table = Table(title=f"Floors of {result.get('host')} (torch {result.get('torch_version')})", title_justify="left")
    for col in ("figure", "median", "min", "max", "unit"):
        table.add_column(col, justify="left" if col in ("figure", "unit") else "right")
    for key, fig in result.get("figures", {}).items():
        label, unit = LABELS.get(key, (key, ""))
        digits = 1 if unit == "ns" else 2
        table.add_row(label, *(f"{fig[k]:,.{digits}f}" for k in ("median", "min", "max")), unit)
    out.print(table)
    if result.get("device"):
        out.print(f"device: {result['device']}, driver {result.get('driver') or 'unknown'}")
    out.print(f"method: {result.get('method')}")
