"""Console-script entry point."""
from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence

#: Commands that run no user code (sweep, trace and calibrate do, in this process or in children
#: that inherit its environment).
NO_USER_CODE = frozenset({"import", "report", "advise", "transition", "fusion", "whatif", "critical", "diff",
                          "export", "sql"})


def quiet_blas(argv: Sequence[str], environ: MutableMapping[str, str]) -> None:
    """One OpenBLAS thread for a command that runs no user code, unless the user chose a number.

    skiprof's analyses make no BLAS calls, yet the OpenBLAS that numpy loads starts a thread per
    further core, which spins for about a tenth of a second of CPU: time taken from the import's
    decoding workers and the Parquet writers on a small machine (about 20 ms of a single-trace
    import or a report on two cores). Read by OpenBLAS when numpy loads it, so set before that.
    """
    if len(argv) > 1 and argv[1] in NO_USER_CODE:
        environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    """Run the command line (``skiprof ...`` and ``python -m skiprof ...``)."""
    from ._gcpace import relax

    quiet_blas(sys.argv, os.environ)
    relax()  # before the imports, which make most of a short command's objects
    from .cli import main_entry

    main_entry()
