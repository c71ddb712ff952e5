"""Console-script entry: start the decoding helper early, then run the CLI.

``skiprof import BIG.json.gz`` forks its helper here, before typer, pandas-free
pyarrow and the rest are imported, so the helper starts decoding about a fifth
of a second sooner (skiprof/ingest/_helper.py).
"""
from __future__ import annotations

import sys


def main() -> None:
    from .ingest._helper import shutdown, start_early

    start_early(sys.argv[1:])
    try:
        from .cli import main_entry

        main_entry()
    finally:
        shutdown()
