"""What an analysis looks at: one rank of a trace, optionally narrowed to a step or a region."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from skiprof._errors import UsageError

__all__ = ["View", "select"]


@dataclass(frozen=True)
class View:
    """The rows of one rank in scope, and the time windows that define the scope."""

    trace: Any
    rank: int
    ops: pd.DataFrame
    launches: pd.DataFrame
    kernels: pd.DataFrame
    regions: pd.DataFrame
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
        for df in (self.ops, self.kernels):
            if len(df):
                starts.append(int(df["ts"].min()))
                ends.append(int((df["ts"] + df["dur"]).max()))
        if not starts:
            return 0, 0
        return min(starts), max(ends)


def _in_windows(ts: pd.Series, windows: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(len(ts), bool)
    v = ts.to_numpy()
    for lo, hi in windows:
        mask |= (v >= lo) & (v < hi)
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

    def of_rank(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["rank"] == rank] if len(ranks) > 1 else df

    ops, launches, kernels, regions = (of_rank(t.ops), of_rank(t.launches), of_rank(t.kernels), of_rank(t.regions))
    if step is None and region is None:
        return View(t, rank, ops, launches, kernels, regions, None, f"rank {rank}")
    if step is not None and region is not None:
        raise UsageError("--step and --region cannot be combined")
    if step is not None:
        chosen = regions[(regions["kind"] == "step") & (regions["step"] == step)]
        if chosen.empty:
            have = sorted(regions.loc[regions["kind"] == "step", "step"].unique().tolist())
            raise UsageError(f"{t.path}: no step {step} (steps: {', '.join(map(str, have)) or 'none'})")
        label = f"rank {rank}, step {step}"
    else:
        chosen = regions[(regions["name"] == region) & (regions["kind"] != "gpu_annotation")]
        if chosen.empty:
            have = sorted(regions.loc[regions["kind"] != "step", "name"].unique().tolist())[:12]
            raise UsageError(f"{t.path}: no region {region!r} (regions: {', '.join(have) or 'none'})")
        label = f"rank {rank}, region {region} (x{len(chosen)})"
    windows = [(int(a), int(a + d)) for a, d in zip(chosen["ts"], chosen["dur"])]
    # Device work belongs to the window its launch call was made in (orphans: where they ran).
    k_anchor = kernels["launch_ts"].where(kernels["launch_id"] >= 0, kernels["ts"])
    return View(
        t, rank,
        ops[_in_windows(ops["ts"], windows)],
        launches[_in_windows(launches["ts"], windows)],
        kernels[_in_windows(k_anchor, windows)],
        regions[_in_windows(regions["ts"], windows)],
        windows, label,
    )
