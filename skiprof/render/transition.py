"""Terminal rendering of a sweep's transition analysis."""
from __future__ import annotations

from typing import Any

__all__ = ["render_transition"]


def render_transition(res: Any, console: Any) -> None:
    """The per-configuration table, the located transition, the files written and any failed runs."""
    from rich.table import Table

    t = Table(title=f"Sweep over {res.param}", title_justify="left", show_edge=False, pad_edge=False)
    for col in (res.param, "runs", "TKLQT ms", "IL ms", "AKD µs", "idle", "queue", "launch"):
        t.add_column(col, justify="right")
    tb = res.table
    for i, v in enumerate(tb["value"]):
        t.add_row(f"{v:g}", str(tb["runs"][i]), f"{tb['tklqt_ns'][i] / 1e6:,.2f}", f"{tb['il_ns'][i] / 1e6:,.2f}",
                  f"{tb['akd_ns'][i] / 1e3:,.1f}", f"{100 * tb['gpu_idle_share'][i]:.1f}%",
                  f"{100 * tb['queue_share'][i]:.1f}%", f"{100 * tb['launch_share'][i]:.1f}%")
    console.print(t)
    tr = res.transition
    fmt = lambda v: "not found" if v is None else f"{res.param}={v:g}"  # noqa: E731
    console.print(f"transition: queue > launch at {fmt(tr.queue_over_launch)}; TKLQT knee at {fmt(tr.knee)}; "
                  f"confidence {tr.confidence} ({tr.reason})", highlight=False)
    if res.csv_path:
        console.print(f"wrote {res.csv_path}" + (f" and {res.plot_path}" if res.plot_path else ""), highlight=False)
    if res.plot_note:
        console.print(f"note: {res.plot_note}", highlight=False)
    for r in res.failed:
        console.print(f"[yellow]run {r['run']} ({r['config']}) {r['status']}[/]: {r.get('error', '')}", highlight=False)
