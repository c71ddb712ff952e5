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


def test_report_keys_are_defined(tmp_path) -> None:
    import re

    from kineto import linking_trace, write_trace
    from skiprof._report import build_report, to_dict
    from skiprof.commands.import_ import run_import
    import skiprof

    src = write_trace(tmp_path / "t.json", linking_trace())
    run_import([src], tmp_path / "o", force=False)
    d = to_dict(build_report(skiprof.load(tmp_path / "o")))
    text = (DOCS / "metrics.md").read_text()
    for key in d:
        assert f"`{key}`" in text or f"{key}:" in text, key
    for test in re.findall(r"`(test_[a-z_]+)`", text):
        assert any(test in p.read_text() for p in (DOCS.parent / "tests").glob("test_*.py")), test
