"""Options every analysis's ``run(view, options)`` receives (each reads the ones it needs)."""
from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Options"]


class Options(msgspec.Struct, frozen=True):
    """Knobs of the analyses; the defaults are what ``skiprof report`` uses."""

    top: int = 10  # rows in top-kernel and top-op tables
    windows: int = 10  # equal time windows for boundness over time
    max_len: int = 4  # fusion: longest chain
    threshold: float = 0.8  # fusion: minimum proximity score
    min_count: int = 2  # fusion: minimum occurrences
    knobs: Any = None  # what-if: a Knobs
    spread: Any = None  # cross-rank: where per-rank work runs (skiprof._spread.Spread); None: here, one rank at a time
    results: Any = None  # the results the report computed so far, by name (the verdict quotes them)

