"""SQL over a trace folder with DuckDB: one view per table, all ranks together.

Each view reads the folder's Parquet files directly (every ``rank=N/`` partition, or the top-level
files of a single-rank folder), so a query over thousands of ranks never loads them all into
Python. Tables a folder from an older schema lacks are empty views with today's columns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ._errors import UsageError
from ._folder import load
from ._schema import TABLES, arrow_schema

__all__ = ["connect", "query"]


def connect(folder: Path) -> Any:
    """An in-memory DuckDB connection with a view per table of ``folder``, plus ``ranks``: one row
    per rank with its source file, traced span and device activity count (from meta.json)."""
    try:
        import duckdb
    except ImportError:
        raise UsageError("skiprof sql needs DuckDB: pip install 'skiprof[sql]'") from None
    t = load(folder)  # checks the folder and its schema version
    con = duckdb.connect()
    for name in TABLES:
        files = [folder / f"{name}.parquet"] if (folder / f"{name}.parquet").exists() else \
            [p for p in (folder / f"rank={r}" / f"{name}.parquet" for r in t.ranks) if p.exists()]
        if files:
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            # union_by_name: ranks written by different skiprof versions may differ in columns.
            con.execute(f'create view "{name}" as select * from read_parquet([{listed}], union_by_name=true)')
        else:
            con.register(f"_{name}_empty", arrow_schema(name).empty_table())
            con.execute(f'create view "{name}" as select * from "_{name}_empty"')
    import pyarrow as pa

    m = t.meta
    stats = [m.stats.get(str(r)) for r in m.ranks]
    ranks = pa.table({"rank": pa.array(m.ranks, pa.int32()),
                      "source": m.sources if len(m.sources) == len(m.ranks) else [None] * len(m.ranks),
                      "span_ns": pa.array([s.span_ns if s else None for s in stats], pa.int64()),
                      "device_activities": pa.array([s.device_activities if s else None for s in stats], pa.int64())})
    con.register("ranks", ranks)
    return con


def query(folder: Path, sql: str) -> Any:
    """The result of ``sql`` over ``folder`` as an Arrow table; a bad query is one UsageError line."""
    con = connect(folder)
    import duckdb

    try:
        rel = con.sql(sql)
        if rel is None:  # a statement without rows (create view ..., set ...)
            import pyarrow as pa

            return pa.table({})
        # DuckDB 2 calls it to_arrow_table; 1.x, arrow().
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"SQL: {first}") from None
