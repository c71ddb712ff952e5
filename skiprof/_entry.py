"""Console-script entry point."""
from __future__ import annotations


def main() -> None:
    from .cli import main_entry

    main_entry()
