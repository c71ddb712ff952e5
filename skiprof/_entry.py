"""Console-script entry point."""
from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence

#: Commands that run no user code (sweep, trace and calibrate do, in this process or in children
#: that inherit its environment).
NO_USER_CODE = frozenset({"import", "report", "advise", "transition", "fusion", "whatif", "critical", "diff",
                          "export", "sql"})


#: Library settings for a command that runs no user code, each read when its library loads. A
#: user's own value wins.
#:
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


def tune_libraries(argv: Sequence[str], environ: MutableMapping[str, str]) -> None:
    """Set NO_USER_CODE_ENV for a command that runs no user code, where the user has not set them.

    Set before numpy and pyarrow load, which read them once. ``trace``, ``sweep`` and
    ``calibrate`` run user code (in this process, or in children that inherit its environment), so
    they leave the environment as python would have it; the child that ingests each window of a
    windowed capture runs none, and gets them (capture/_windows.py).
    """
    if len(argv) > 1 and argv[1] in NO_USER_CODE:
        library_defaults(environ)


def main() -> None:
    """Run the command line (``skiprof ...`` and ``python -m skiprof ...``)."""
    from ._gcpace import relax

    tune_libraries(sys.argv, os.environ)
    relax()  # before the imports, which make most of a short command's objects
    from .cli import main_entry

    main_entry()
