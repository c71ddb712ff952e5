"""The documentation says what the code does: generated parts are current, every reported number is defined."""
from __future__ import annotations

from pathlib import Path

from skiprof._schema import SCHEMA_VERSION, markdown_tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_trace_format_lists_every_column() -> None:
    text = (DOCS / "trace-format.md").read_text()
    assert markdown_tables() in text, "regenerate the tables section of docs/trace-format.md from skiprof._schema"
    assert f"schema version {SCHEMA_VERSION}" in text


def test_generated_sections_are_current() -> None:
    from skiprof._meta import markdown_meta
    from skiprof.analyzers import registry_markdown

    assert markdown_meta() in (DOCS / "trace-format.md").read_text(), "regenerate: python -m skiprof._meta"
    assert registry_markdown() in (DOCS / "metrics.md").read_text(), "regenerate: python -m skiprof.analyzers"


def test_summary_figures_are_defined() -> None:
    text = (DOCS / "metrics.md").read_text()
    for name in ("linked to their launch", "to a CPU op", "orphans", "before_window", "traced"):
        assert name in text, name


def test_report_keys_are_defined(tmp_path) -> None:
    import re

    import skiprof
    from kineto import linking_trace, write_trace
    from skiprof.commands.import_ import run_import

    src = write_trace(tmp_path / "t.json", linking_trace())
    run_import([src], tmp_path / "o", force=False)
    d = skiprof.report(skiprof.load(tmp_path / "o")).to_dict()
    text = (DOCS / "metrics.md").read_text()
    keys = set(d) | {f"{k}.{sub}" for k, v in d.items() if isinstance(v, dict) for sub in v}
    for key in sorted(keys):
        leaf = key.split(".")[-1]
        assert f"`{key}`" in text or f"`{leaf}`" in text or f"{leaf}:" in text, key
    for test in re.findall(r"`(test_[a-z_]+)`", text):
        assert any(test in p.read_text() for p in (DOCS.parent / "tests").glob("test_*.py")), test


def test_files_the_docs_name_exist() -> None:
    """Every repository path the README and docs/ point to (docs/..., bench/..., tests/..., and the
    other top-level folders) is there: a renamed file leaves no dangling reference behind."""
    import re

    pattern = re.compile(r"(?<![\w./-])((?:docs|bench|tests|analyzers|skiprof|workloads|traces|\.ci)/[\w./-]*\w)")
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for path in pattern.findall(doc.read_text()):
            if "*" not in path and not (ROOT / path).exists():
                missing.append(f"{doc.relative_to(ROOT)}: {path}")
    assert not missing
