"""Console-script entry point."""
from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence

from ._libenv import library_defaults

#: Commands that run no user code (sweep, trace and calibrate do, in this process or in children
#: that inherit its environment).
NO_USER_CODE = frozenset({"import", "report", "advise", "transition", "fusion", "whatif", "critical", "diff",
                          "export", "sql"})


def tune_libraries(argv: Sequence[str], environ: MutableMapping[str, str]) -> None:
    """Set the library settings of skiprof/_libenv.py for a command that runs no user code, where
    the user has not set them.

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
