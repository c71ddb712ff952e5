"""Terminal rendering of what a capture or import wrote (printed to stderr by trace and import)."""
from __future__ import annotations

from rich.console import Console

from .._ingest_summary import IngestSummary, RankSummary
from .._names import printable

__all__ = ["render_summary"]


def _safe(text: object) -> str:
    """Trace text for the console: control characters as escapes, brackets not read as markup."""
    from rich.markup import escape

    return escape(printable(str(text)))


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.1f} ms"


def _rank_lines(r: RankSummary) -> list[str]:
    """The summary lines of one imported rank: what was read, and how much of it was linked."""
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(r.by_kind.items()))
    lines = [
        f"[bold]rank {r.rank}[/]: {_ms(r.span_ns)} traced",
        f"  {r.ops:,} host ops · {r.regions:,} regions · {r.launches:,} runtime calls "
        f"({r.launch_calls:,} kernel/graph launches)",
    ]
    if r.activities:
        lines.append(f"  {r.activities:,} device activities ({kinds})")
        lines.append(f"  linked to their launch: {r.linked_to_launch:,} of {r.linkable:,} ({100 * r.launch_link_rate:.2f}%)")
        lines.append(f"  linked to a CPU op: {r.linked_to_op:,} ({100 * r.op_link_rate:.2f}%)")
        if r.orphans:
            lines.append(
                f"  [yellow]orphans: {r.orphans:,}[/] ({r.orphans_before_window:,} launched before the trace window), "
                "kept with orphan_reason"
            )
    else:
        lines.append("  [yellow]no device activity[/]: CPU-only trace; launch/queue metrics need GPU kernels")
    dropped = sum(r.ignored.values())
    if dropped:
        top = ", ".join(f"{_safe(k)} {v:,}" for k, v in sorted(r.ignored.items(), key=lambda kv: -kv[1])[:3])
        lines.append(f"  not tabulated: {dropped:,} events ({top})")
    if r.events_without_ts:
        lines.append(f"  [yellow]skipped {r.events_without_ts:,} events without a timestamp[/]")
    if r.events_without_dur:
        lines.append(f"  {r.events_without_dur:,} events had no duration (kept with dur 0)")
    if r.counters:
        lines.append(f"  {r.counters:,} counter samples")
    return lines


def render_summary(summary: IngestSummary, console: Console) -> None:
    """Print the summary block."""
    console.print(f"skiprof: wrote [bold]{_safe(summary.path)}[/] ({len(summary.ranks)} rank{'s' if len(summary.ranks) != 1 else ''})")
    for r in summary.ranks:
        for line in _rank_lines(r):
            console.print("  " + line, highlight=False, soft_wrap=True)
    if summary.nvml is False:
        console.print("  NVML: no NVIDIA driver, GPU counters not sampled", highlight=False)
    for note in summary.notes:
        console.print(f"  note: {_safe(note)}", highlight=False)
    if summary.exit_code is not None:
        console.print(f"  script exit code: {summary.exit_code}", highlight=False)
