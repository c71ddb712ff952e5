"""SQL over a trace folder with DuckDB: one view per table, all ranks together, read-only.

Each table is handed to DuckDB as a pyarrow dataset over the folder's Parquet files (every ``rank=N/``
partition, or the top-level files of a single-rank folder), so a query over thousands of ranks never
loads them all into Python. DuckDB itself gets no file system access at all (``enable_external_access``
off, and the configuration locked): a query can read the folder's tables and nothing else, and cannot
write anywhere (no ``COPY ... TO``, ``EXPORT`` or ``ATTACH``); results leave only through ``-o``.
Tables a folder from an older schema lacks are empty views with today's columns; any other missing
table is refused, as every command refuses it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ._errors import TraceFolderError, UsageError
from ._folder import load
from ._integrity import check_table_file, regular_file, verify_footer
from ._schema import ADDED_IN, TABLES, arrow_schema

__all__ = ["connect", "query"]


def _files(folder: Path, name: str, ranks: list[int]) -> list[Path]:
    """The Parquet files of table ``name``: the top-level one, or one per listed rank's partition."""
    single = folder / f"{name}.parquet"
    if single.exists():
        return [single]
    return [p for p in (folder / f"rank={r}" / f"{name}.parquet" for r in ranks) if p.exists()]


def connect(folder: Path) -> Any:
    """An in-memory, read-only DuckDB connection with a view per table of ``folder``, plus ``ranks``: one row
    per rank with its source file, traced span and device activity count (from meta.json)."""
    try:
        import duckdb
    except ImportError:
        raise UsageError("skiprof sql needs DuckDB: pip install 'skiprof[sql]'") from None
    import pyarrow.dataset as ds

    t = load(folder)  # checks the folder and its schema version
    con = duckdb.connect()
    for name in TABLES:
        files = _files(folder, name, t.ranks)
        if not files and name not in ADDED_IN:
            raise TraceFolderError(f"{folder}: table {name!r} is missing ({name}.parquet)")
        for f in files:
            regular_file(f)
            verify_footer(f, folder, t.meta.files)  # before any Parquet code parses the footer
            check_table_file(f, name)  # what every command checks before it reads a table
        # A dataset with today's schema (ranks written by different skiprof versions may differ in columns),
        # its page checksums verified as every read verifies them.
        fmt = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True))
        source = ds.dataset([str(f) for f in files], schema=arrow_schema(name), format=fmt) if files \
            else arrow_schema(name).empty_table()
        con.register(name, source)
    import pyarrow as pa

    m = t.meta
    stats = [m.stats.get(str(r)) for r in m.ranks]
    ranks = pa.table({"rank": pa.array(m.ranks, pa.int32()),
                      "source": m.sources if len(m.sources) == len(m.ranks) else [None] * len(m.ranks),
                      "span_ns": pa.array([s.span_ns if s else None for s in stats], pa.int64()),
                      "device_activities": pa.array([s.device_activities if s else None for s in stats], pa.int64())})
    con.register("ranks", ranks)
    con.execute("set enable_external_access = false")  # the tables above are all a query may touch
    con.execute("set lock_configuration = true")  # and no query may turn it back on
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
    except (duckdb.Error, OSError, ValueError) as exc:  # a bad query, or a damaged table read through the dataset
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"SQL: {first}") from None
    except Exception as exc:
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):
            raise TraceFolderError(f"{folder}: a table is not readable ({str(exc).splitlines()[0]})") from None
        raise
