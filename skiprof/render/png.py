"""PNG plots (matplotlib, when installed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_transition"]


def plot_transition(path: Path, param: str, table: dict[str, list[Any]], transition: Any) -> tuple[Path | None, str | None]:
    """TKLQT, IL and GPU idle share against the swept value, the transition marked.

    Returns (the file, None), or (None, why not) when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "matplotlib is not installed (pip install matplotlib), so no plot was drawn"
    x = table["value"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(x, [v / 1e6 for v in table["tklqt_ns"]], "o-", label="TKLQT (ms)")
    ax.plot(x, [v / 1e6 for v in table["il_ns"]], "s-", label="IL (ms)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(param)
    ax.set_ylabel("ms")
    ax2 = ax.twinx()
    ax2.plot(x, [100 * v for v in table["gpu_idle_share"]], "^--", color="grey", label="GPU idle (%)")
    ax2.set_ylabel("GPU idle (%)")
    ax2.set_ylim(0, 100)
    for value, style, name in ((transition.queue_over_launch, "r-", "queue > launch"), (transition.knee, "g:", "TKLQT knee")):
        if value is not None:
            ax.axvline(value, color=style[0], linestyle=style[1:], label=f"{name}: {value:g}")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(f"CPU- to GPU-bound transition ({transition.confidence} confidence)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path, None
