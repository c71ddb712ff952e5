"""Terminal rendering of fusion candidates."""
from __future__ import annotations

from typing import Any

from . import short_kernel

__all__ = ["render_fusion"]


def render_fusion(rows: list[dict[str, Any]], scope: str, console: Any) -> None:
    """One block per chain: its kernels, score, saving and the ops that launch it."""
    if not rows:
        console.print(f"fusion ({scope}): no chain reaches the proximity threshold", highlight=False)
        return
    console.print(f"[bold]Fusion candidates[/] ({scope}), best estimated saving first", highlight=False)
    for i, r in enumerate(rows, 1):
        console.print(f"{i:>2}. {r['length']} kernels x {r['occurrences']:,} (PS {r['proximity']:.2f}), "
                      f"saves ~{r['saving_ns'] / 1e6:,.3f} ms of launch time; launched by {r['ops'] or '?'}",
                      highlight=False)
        for name in r["chain"].split(" > "):
            console.print(f"      {short_kernel(name)}", highlight=False, soft_wrap=True)
