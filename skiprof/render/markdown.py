"""Markdown backend: one heading per result, pipe tables, notes as quotes."""
from __future__ import annotations

from typing import Any

from .._names import printable
from .._result import Figures, Note, Plot, Section, Table
from ._base import Document, Renderer, fmt, header_of

__all__ = ["MarkdownRenderer"]

NAME_WIDTH = 80


def _cell(text: str) -> str:
    return printable(text).replace("|", "\\|")


def _line(text: str) -> str:
    """Prose from the trace or the analyses (titles, notes): control characters shown as escapes."""
    return printable(str(text), one_line=False)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _section(s: Section) -> list[str]:
    """One section as Markdown lines: a titled table, a note as a quote, a plot as its table of points."""
    if isinstance(s, Figures):
        rows = [[f.label, fmt(f.value, f.unit, f.show, with_unit=True, width=NAME_WIDTH)] for f in s.items]
        return [f"### {_line(s.title)}", "", _md_table(["figure", "value"], rows), ""]
    if isinstance(s, Table):
        if not s.rows:
            return [f"### {_line(s.title)}", "", _line(s.empty), ""] if s.empty else []
        rows = [[fmt(r.get(c.key), c.unit, c.show, width=NAME_WIDTH) for c in s.cols] for r in s.rows]
        return [f"### {_line(s.title)}", "", _md_table([header_of(c) for c in s.cols], rows), ""]
    if isinstance(s, Note) and s.level == "answer":
        return [_line(s.text), ""]
    if isinstance(s, Note):
        return [f"> {'**warning:** ' if s.level == 'warning' else ''}{_line(s.text)}", ""]
    if isinstance(s, Plot):
        return [f"### {_line(s.title)}", "", "_A figure in the HTML output (`--format html`)._", ""]
    return []


class MarkdownRenderer(Renderer):
    name = "markdown"

    def render(self, doc: Document, *, color: bool = False, width: int = 100) -> str:
        """The document as one Markdown page: a heading per result, its notes, tables and plot tables."""
        parts: list[str] = [f"# skiprof {doc.kind}: {_line(doc.title)}", ""]
        parts += [f"> {_line(n)}" for n in doc.notes] + ([""] if doc.notes else [])
        for r in doc.results:
            secs: list[Any] = r.sections()
            if not secs:
                continue
            parts += [f"## {_line(r.title)}", ""]
            for s in secs:
                parts += _section(s)
        return "\n".join(parts).rstrip() + "\n"
