"""How often the garbage collector runs while skiprof runs its own code.

A short command (a report, an advise) creates a few hundred thousand small objects while it imports
numpy, pyarrow and its analyzers, and builds few reference cycles; at CPython's default pace the
collector walks the young objects about eighty times on the way, some 5% of a report's run. The
analyses hold their data in numpy arrays, which the collector does not need to look into often.
A user's script under ``skiprof trace`` gets Python's own pace back before it starts, so that it
behaves as it does under ``python``.
"""
from __future__ import annotations

import gc

__all__ = ["relax", "restore"]

#: Young objects allocated between two collections (CPython: 700), and how many young collections
#: before an older generation's (CPython: 10 and 10).
PACE = (50_000, 20, 20)

_saved: tuple[int, int, int] | None = None


def relax() -> None:
    """Collect less often from now on (idempotent); ``restore`` undoes it."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        gc.set_threshold(*PACE)


def restore() -> None:
    """Python's own collector pace again, as it was before ``relax``."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
