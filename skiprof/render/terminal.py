"""Terminal backend (rich): headline figures as a grid, each table as a rich table, notes in colour."""
from __future__ import annotations

import io
import textwrap
from typing import Any

from .._names import printable
from .._result import Figures, Note, Plot, Section, Table
from ._base import Document, Renderer, fmt, header_of

__all__ = ["TerminalRenderer", "print_document"]

#: Kernel and op names are cut to this many characters so that tables fit 80 columns.
NAME_WIDTH = 44
_LABEL_STYLE = {"cpu-bound": "bold red", "gpu-bound": "bold blue", "sync-bound": "bold magenta",
                "dependency-bound": "bold yellow"}


def _safe(text: str) -> str:
    """Trace text (names, titles, notes) for a rich console: control characters shown as escapes, and square
    brackets escaped so that a name like ``k[/]`` is printed, not read as markup."""
    from rich.markup import escape

    return escape(printable(str(text), one_line=False))


def _figures(console: Any, s: Figures) -> None:
    """Print a Figures section as a two-column grid of labels and formatted values."""
    from rich.table import Table as RTable

    console.print(f"[bold]{_safe(s.title)}[/]", highlight=False)
    grid = RTable.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for f in s.items:
        value = fmt(f.value, f.unit, f.show, with_unit=True, width=NAME_WIDTH)
        style = _LABEL_STYLE.get(str(f.value)) if f.unit == "label" else None
        grid.add_row(_safe(f.label), f"[{style}]{_safe(value)}[/]" if style else _safe(value))
    console.print(grid)
    console.print()


_NAMES = ("text", "kernel", "label", "prose")


def _cells(s: Table, width: int) -> list[list[str]]:
    """The table's cells as text, names shortened so that the row fits ``width`` columns (never
    below 12 characters, and never longer than NAME_WIDTH)."""
    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    def cells(name_width: int) -> list[list[str]]:
        return [[cut(fmt(row.get(c.key), c.unit, c.show, width=name_width), name_width) if c.unit in ("kernel", "text") else
                 fmt(row.get(c.key), c.unit, c.show) for c in s.cols] for row in s.rows]

    out = cells(NAME_WIDTH)
    widths = [max([len(w) for w in header_of(c).split()] + [len(r[i]) for r in out]) for i, c in enumerate(s.cols)]
    names = [i for i, c in enumerate(s.cols) if c.unit in ("kernel", "text") and widths[i] > 12]
    fixed = sum(w for i, w in enumerate(widths) if i not in names and s.cols[i].unit != "prose") + 3 * (len(widths) - 1)
    if not names or fixed + sum(widths[i] for i in names) <= width:
        return out
    share = max(12, (width - fixed) // len(names))
    return cells(min(NAME_WIDTH, share))


def _table(console: Any, s: Table) -> None:
    """Print a Table section (or its empty message) as a rich table that fits the console width."""
    from rich.table import Table as RTable

    if not s.rows:
        if s.empty:
            console.print(_safe(f"{s.title}: {s.empty}"), highlight=False)
            console.print()
        return
    console.print(f"[bold]{_safe(s.title)}[/]", highlight=False)  # apart from the table: a title is never folded to its width
    t = RTable(show_edge=False, pad_edge=False, expand=False)
    cells = _cells(s, console.width)
    widths = [max([len(w) for w in header_of(c).split()] + [len(r[i]) for r in cells]) for i, c in enumerate(s.cols)]
    natural = sum(max(w, len(header_of(c))) for w, c in zip(widths, s.cols)) + 3 * (len(widths) - 1)
    for i, c in enumerate(s.cols):
        right = c.unit not in _NAMES
        # Numbers and names are never folded (a folded C++ name is unreadable): _cells has made them
        # fit, and each column keeps its longest value's width. Prose (evidence) wraps instead.
        header = header_of(c)
        if c.unit != "prose" and natural > console.width:  # long headers go on two lines, not past the screen
            header = textwrap.fill(header, width=widths[i], break_long_words=False)
        t.add_column(_safe(header), justify="right" if right else "left", no_wrap=c.unit != "prose",
                     overflow="fold" if c.unit == "prose" else "ellipsis",
                     min_width=None if c.unit == "prose" else widths[i])
    for r in cells:
        t.add_row(*(_safe(c) for c in r))
    # Numbers and labels that cannot fit even with names shortened and headers folded are printed
    # past the console's width rather than cut ("cpu-boun" reads as nothing).
    least = sum(w for w, c in zip(widths, s.cols) if c.unit != "prose") + 3 * (len(widths) - 1)
    if least > console.width:
        console.print(t, width=least, crop=False)
    else:
        console.print(t)
    console.print()


def _section(console: Any, s: Section) -> None:
    if isinstance(s, Figures):
        _figures(console, s)
    elif isinstance(s, Table):
        _table(console, s)
    elif isinstance(s, Note) and s.level == "answer":
        console.print(_safe(s.text), highlight=False)
        console.print()
    elif isinstance(s, Note):
        tag = "[yellow]warning:[/]" if s.level == "warning" else "[yellow]note:[/]"
        console.print(f"{tag} {_safe(s.text)}", highlight=False)
    elif isinstance(s, Plot):
        console.print(f"[dim]{_safe(s.title)}: a figure in the HTML output (--format html)[/]", highlight=False)


def print_document(doc: Document, console: Any) -> None:
    """Print every result of ``doc`` on a rich console."""
    console.print(f"[bold]skiprof {doc.kind}[/] {_safe(doc.title)}", highlight=False)
    for note in doc.notes:
        console.print(f"[yellow]note:[/] {_safe(note)}", highlight=False)
    for r in doc.results:
        secs = r.sections()
        if secs and r.title and not isinstance(secs[0], (Figures, Table)):
            console.print(f"[bold]{_safe(r.title)}[/]", highlight=False)
        for s in secs:
            _section(console, s)


class TerminalRenderer(Renderer):
    name = "terminal"

    def render(self, doc: Document, *, color: bool = False, width: int = 100) -> str:
        """The document as terminal text (rich), coloured only when asked."""
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, width=width, no_color=not color, force_terminal=color, highlight=False,
                          color_system="standard" if color else None)
        print_document(doc, console)
        return buf.getvalue()
