"""``skiprof sql``: a DuckDB query over every rank's tables of a trace folder."""
from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._names import printable
from ._common import FolderArg, ForceOpt, OutputOpt, check_file, console, trace_folder, write_atomic

__all__ = ["command", "HELP", "render_rows"]

HELP = ("Query a trace folder with SQL (DuckDB): one view per table (ops, launches, kernels, regions, counters, "
        "metrics, memory) over all ranks, plus ranks (one row per rank). Needs skiprof[sql]. Example: "
        "skiprof sql run \"select rank, sum(dur)/1e6 as ms from kernels group by rank\"")


class SqlFmt(str, Enum):
    terminal = "terminal"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def render_rows(tbl: Any, fmt: str, limit: int) -> str:
    """The result as text: CSV and JSON hold every row; the terminal and markdown show ``limit``."""
    if fmt == "csv":
        import io

        import pyarrow.csv as pc

        buf = io.BytesIO()
        pc.write_csv(tbl, buf)
        return buf.getvalue().decode()
    rows = tbl.to_pylist()
    if fmt == "json":
        return json.dumps(rows, default=_plain, indent=1) + "\n"
    shown = rows[:limit]
    more = f"\n({len(rows) - limit:,} more rows; --limit N or --format csv for all)\n" if len(rows) > limit else ""
    cols = tbl.column_names
    lines = ["| " + " | ".join(printable(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if r[c] is None else printable(str(r[c])).replace("|", "\\|") for c in cols) + " |"
              for r in shown]
    return "\n".join(lines) + "\n" + more


def _plain(value: Any) -> Any:
    """JSON for what DuckDB returns beyond JSON's types: sums of integers are decimals, times are datetimes."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def command(
    folder: FolderArg,
    query: Annotated[str, typer.Argument(help="The SQL query (DuckDB dialect).", show_default=False)],
    fmt: Annotated[Optional[SqlFmt], typer.Option("--format", case_sensitive=False, show_default=False,
                                                  help="terminal (default), csv, json or markdown.")] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10**9, help="Rows shown in the terminal and markdown.")] = 50,
) -> None:
    """``skiprof sql``: run one query over the folder's tables with DuckDB and print or write the result (help:
    HELP)."""
    from .._sql import query as run_query

    check_file(output, force, [folder])  # before any work
    tbl = run_query(trace_folder(folder), query)
    kind = fmt.value if fmt else ("csv" if output is not None and output.suffix == ".csv" else
                                  "json" if output is not None and output.suffix == ".json" else
                                  "markdown" if output is not None else "terminal")
    if kind == "terminal" and output is None:
        _print_table(tbl, limit)
        return
    text = render_rows(tbl, kind, limit)
    if output is None:
        # CSV keeps its data as it is for a file or pipe; on a terminal, control characters are shown, not obeyed.
        sys.stdout.write(printable(text, one_line=False) if sys.stdout.isatty() else text)
    else:
        write_atomic(text, Path(output), force, [folder])


def _print_table(tbl: Any, limit: int) -> None:
    """Print a query result as a terminal table of at most ``limit`` rows."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(show_edge=False, pad_edge=False)
    for name in tbl.column_names:
        t.add_column(escape(printable(name)), no_wrap=True, overflow="ellipsis")
    rows = tbl.slice(0, limit).to_pylist()
    for r in rows:
        t.add_row(*("" if v is None else f"{v:,}" if isinstance(v, int) else escape(printable(str(v))) for v in r.values()))
    out = console()
    out.print(t)
    if tbl.num_rows > limit:
        out.print(f"({tbl.num_rows - limit:,} more rows; --limit N or --format csv for all)")
