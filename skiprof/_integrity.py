"""Is this file what skiprof wrote? The checks every reader of a trace folder makes before it trusts a table.

A trace folder is input like any other: someone may have copied a table over another, dropped or retyped a column,
put a FIFO where a file was, or flipped a byte. Each check here turns such damage into one TraceFolderError line
naming the file (docs/trace-format.md, "Opening a folder"), before a figure is computed from it.

``meta.json`` records a CRC-32 of each table's Parquet footer (``files``): the footer is the part that the Parquet
reader parses in C++, where some damage aborts the whole process instead of raising, and the data pages carry
their own checksums, which every read verifies.
"""
from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import TraceFolderError
from ._schema import arrow_schema

__all__ = ["regular_file", "check_columns", "check_table_file", "footer_crc", "footers", "verify_footer"]


def footer_crc(path: Path) -> str:
    """CRC-32 (hex) of a Parquet file's footer: its metadata, its length and the closing magic."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size < 8:
            fh.seek(0)
            return f"{zlib.crc32(fh.read()):08x}"
        fh.seek(size - 8)
        tail = fh.read(8)
        length = min(int.from_bytes(tail[:4], "little") + 8, size)
        fh.seek(size - length)
        return f"{zlib.crc32(fh.read(length)):08x}"


def footers(folder: Path) -> dict[str, str]:
    """The footer CRC of every table of a folder being written, by its path relative to the folder."""
    return {p.relative_to(folder).as_posix(): footer_crc(p) for p in sorted(folder.glob("**/*.parquet"))}


def verify_footer(path: Path, folder: Path, files: Mapping[str, str]) -> None:
    """Refuse a table whose footer is not the one meta.json recorded (folders written before ``files`` existed
    record none, and are read as they are)."""
    if not files:
        return
    rel = path.relative_to(folder).as_posix()
    want = files.get(rel)
    if want is None:
        raise TraceFolderError(f"{path}: not a table meta.json lists (was it added after the folder was written?)")
    if footer_crc(path) != want:
        raise TraceFolderError(f"{path}: its Parquet footer is not the one written (checksum mismatch): the file "
                               "was changed or damaged")


def regular_file(path: Path) -> None:
    """Refuse anything but a regular file before opening it: a FIFO in a folder would block every reader
    forever, and a device is never a table."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise TraceFolderError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise TraceFolderError(f"{path}: not a regular file (a trace folder holds only the files skiprof wrote)")


def check_columns(path: Path, name: str, tbl: Any, want: Sequence[str], schema: Any) -> None:
    """Each column the schema declares is there (unless a later version added it), of its declared type, and
    a numeric column holds no nulls: a table copied over another, retyped or emptied is one line naming it."""
    import pyarrow as pa

    from ._schema import NULLABLE, added_later, table

    declared = {c.name: c for c in table(name).columns}
    have = set(tbl.column_names)
    for c in want:
        expected = schema.field(c).type
        if c not in have:
            if not added_later(declared[c]) and c not in NULLABLE:  # nulls stand in for an optional column
                raise TraceFolderError(f"{path}: column {c!r} is missing (is this the {name} table?)")
            continue
        got = tbl.schema.field(c).type
        if pa.types.is_dictionary(expected) and pa.types.is_dictionary(got):
            got, expected = got.value_type, expected.value_type
        if got != expected:
            raise TraceFolderError(f"{path}: column {c!r} is {got}, expected {expected}")
        if c not in NULLABLE and tbl.column(c).null_count:
            raise TraceFolderError(f"{path}: column {c!r} holds {tbl.column(c).null_count:,} nulls; "
                                   f"it is never null in a {name} table skiprof wrote")
        if c == "dur" and tbl.num_rows:
            import numpy as np

            from ._arrow import to_numpy

            # Through the buffers (skiprof._arrow), not Array.to_numpy, which loads pandas in a report's process.
            negative = int(sum(np.count_nonzero(to_numpy(chunk, writable=False) < 0) for chunk in tbl.column(c).chunks))
            if negative:  # skiprof writes durations of 0 or more: the table was changed after it was written
                raise TraceFolderError(f"{path}: column 'dur' holds {negative:,} negative durations; "
                                       f"a {name} table skiprof wrote never does")


def check_table_file(path: Path, name: str) -> None:
    """The checks of a read (regular file, columns, types, no nulls where none belong) from the file's footer
    alone: ``skiprof sql`` hands the file to DuckDB without reading it here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    regular_file(path)
    try:
        f = pq.ParquetFile(path)
        md = f.metadata
        schema = f.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TraceFolderError(f"{path}: not a readable Parquet table ({(str(exc).splitlines() or [type(exc).__name__])[0]})") from None
    from ._schema import NULLABLE

    expected = arrow_schema(name)
    check_columns(path, name, schema.empty_table(), expected.names, expected)
    for i, col in enumerate(schema.names):
        if col not in expected.names:
            continue
        stats = [md.row_group(g).column(i).statistics for g in range(md.num_row_groups)]
        nulls = sum(st.null_count or 0 for st in stats if st is not None)
        if nulls and col not in NULLABLE:
            raise TraceFolderError(f"{path}: column {col!r} holds {nulls:,} nulls; it is never null in a {name} table "
                                   "skiprof wrote")
        if col == "dur" and any(st is not None and st.has_min_max and st.min < 0 for st in stats):
            raise TraceFolderError(f"{path}: column 'dur' holds negative durations; a {name} table skiprof wrote "
                                   "never does")
