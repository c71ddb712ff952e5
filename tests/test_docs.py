"""The documentation says what the code does: generated parts are current, every reported number is defined."""
from __future__ import annotations

from pathlib import Path

from skiprof._schema import SCHEMA_VERSION, markdown_tables

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_trace_format_lists_every_column() -> None:
    text = (DOCS / "trace-format.md").read_text()
    assert markdown_tables() in text, "regenerate the tables section of docs/trace-format.md from skiprof._schema"
    assert f"schema version {SCHEMA_VERSION}" in text


def test_summary_figures_are_defined() -> None:
    text = (DOCS / "metrics.md").read_text()
    for name in ("linked to their launch", "to a CPU op", "orphans", "before_window", "traced"):
        assert name in text, name
