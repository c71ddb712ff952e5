"""Library settings for skiprof's own processes: the commands that run no user code, and the child
that ingests each window of a windowed capture.

Each is read once, when its library loads, so it is set in the environment before that; a
user's own value wins.
"""
from __future__ import annotations

from collections.abc import MutableMapping

__all__ = ["NO_USER_CODE_ENV", "library_defaults"]

#: - OpenBLAS, which skiprof's analyses never call, starts a thread per further core when numpy
#:   loads it, and that thread spins for about a tenth of a second of CPU: time taken from the
#:   import's decoding workers and the Parquet writers on a small machine (about 20 ms of a
#:   single-trace import or a report on two cores).
#: - pyarrow's default pool (mimalloc) backs its memory with 2 MB huge pages, which the kernel
#:   zeroes whole on first touch, and hands freed memory back to the system soon after: each table a
#:   one-shot command builds zeroes fresh pages again. The system allocator reuses the heap that
#:   decoding and numpy already grew (figures: docs/results/allocator.txt).
NO_USER_CODE_ENV = {"OPENBLAS_NUM_THREADS": "1", "ARROW_DEFAULT_MEMORY_POOL": "system"}


def library_defaults(environ: MutableMapping[str, str]) -> None:
    """Add NO_USER_CODE_ENV to ``environ`` (of a process that will run no user code) where it does
    not set them already."""
    for name, value in NO_USER_CODE_ENV.items():
        environ.setdefault(name, value)
