"""What an analysis looks at: one rank of a trace, optionally narrowed to a step or a region."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skiprof._errors import UsageError

from ._cols import Cols, from_arrow

__all__ = ["View", "select"]


@dataclass(frozen=True)
class View:
    """The rows of one rank in scope (as Cols), and the time windows that define the scope."""

    trace: Any
    rank: int
    ops: Cols
    launches: Cols
    kernels: Cols
    regions: Cols
    windows: list[tuple[int, int]] | None  # None: the whole trace
    label: str

    @property
    def has_device(self) -> bool:
        return len(self.kernels) > 0

    def span(self) -> tuple[int, int]:
        """[first start, last end) over host ops and device activities in scope."""
        if self.windows:
            return min(w[0] for w in self.windows), max(w[1] for w in self.windows)
        starts, ends = [], []
        for c in (self.ops, self.kernels):
            if len(c):
                starts.append(int(c["ts"].min()))
                ends.append(int((c["ts"] + c["dur"]).max()))
        if not starts:
            return 0, 0
        return min(starts), max(ends)


# Columns the analyzers read (input shapes and other wide columns stay on disk).
_COLUMNS = {
    "ops": ["rank", "pid", "tid", "op_id", "name", "cat", "ts", "dur", "cpu_parent"],
    "launches": ["rank", "pid", "tid", "launch_id", "name", "kind", "ts", "dur", "top_op_id"],
}


def _in_windows(ts: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(len(ts), bool)
    for lo, hi in windows:
        mask |= (ts >= lo) & (ts < hi)
    return mask


def select(t: Any, *, rank: int | None = None, step: int | None = None, region: str | None = None) -> View:
    """The view of ``t`` for one rank (default: the lowest), optionally one step or one named region.

    A step or region that the trace does not have is an error, never a silent fall back to everything.
    """
    ranks = t.ranks
    if rank is None:
        rank = min(ranks)
    elif rank not in ranks:
        raise UsageError(f"{t.path}: no rank {rank} (ranks: {', '.join(map(str, ranks))})")
    tables = {}
    for name in ("ops", "launches", "kernels", "regions"):
        c = from_arrow(t.table(name, _COLUMNS.get(name)))
        tables[name] = c.take(c["rank"] == rank) if len(ranks) > 1 else c
    ops, launches, kernels, regions = tables["ops"], tables["launches"], tables["kernels"], tables["regions"]
    if step is None and region is None:
        return View(t, rank, ops, launches, kernels, regions, None, f"rank {rank}")
    if step is not None and region is not None:
        raise UsageError("--step and --region cannot be combined")
    is_step = regions["kind"].eq("step")
    if step is not None:
        chosen = regions.take(is_step & (regions["step"] == step))
        if not len(chosen):
            have = sorted(set(regions["step"][is_step].tolist()))
            raise UsageError(f"{t.path}: no step {step} (steps: {', '.join(map(str, have)) or 'none'})")
        label = f"rank {rank}, step {step}"
    else:
        chosen = regions.take(regions["name"].eq(region) & ~regions["kind"].eq("gpu_annotation"))
        if not len(chosen):
            names = regions["name"].take(~is_step).tolist()
            have = sorted(set(n for n in names if n))[:12]
            raise UsageError(f"{t.path}: no region {region!r} (regions: {', '.join(have) or 'none'})")
        label = f"rank {rank}, region {region} (x{len(chosen)})"
    windows = [(int(a), int(a + d)) for a, d in zip(chosen["ts"], chosen["dur"])]
    # Device work belongs to the window its launch call was made in (orphans: where they ran).
    anchor = np.where(kernels["launch_id"] >= 0, kernels["launch_ts"], kernels["ts"])
    return View(
        t, rank,
        ops.take(_in_windows(ops["ts"], windows)),
        launches.take(_in_windows(launches["ts"], windows)),
        kernels.take(_in_windows(anchor, windows)),
        regions.take(_in_windows(regions["ts"], windows)),
        windows, label,
    )
