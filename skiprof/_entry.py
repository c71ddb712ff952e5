"""Console-script entry point."""
from __future__ import annotations


def main() -> None:
    """Run the command line (``skiprof ...`` and ``python -m skiprof ...``)."""
    from ._gcpace import relax

    relax()  # before the imports, which make most of a short command's objects
    from .cli import main_entry

    main_entry()
