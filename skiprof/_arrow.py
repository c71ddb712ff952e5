"""numpy <-> Arrow without the pandas detour.

``pa.array(ndarray)`` imports pandas to check for pandas objects, which costs
a third of a second per process; building arrays from buffers avoids it.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ._strings import Strings, concat_strings, encode_strings, raw_json_strings

__all__ = ["to_arrow", "to_numpy", "str_array", "eq_mask", "isin_mask", "take_or_null", "take", "dictionary_encode", "Strings",
           "encode_strings", "concat_strings", "strings_to_arrow", "raw_json_strings"]

_TYPES = {
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.float64): pa.float64(),
}


def to_arrow(values: Any, type_: pa.DataType | None = None) -> pa.Array:
    """An Arrow array from a numpy array (zero-copy for numbers), list or Arrow array."""
    if isinstance(values, Strings):
        return strings_to_arrow(values)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return arr.cast(type_) if type_ is not None and arr.type != type_ else arr
    if isinstance(values, np.ndarray):
        if type_ is not None and type_ in (pa.int64(), pa.int32(), pa.float64()):
            values = values.astype(type_.to_pandas_dtype(), copy=False)
        if values.dtype == np.bool_:
            bits = np.packbits(values, bitorder="little")
            return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
        values = np.ascontiguousarray(values)
        return pa.Array.from_buffers(_TYPES[values.dtype], len(values), [None, pa.py_buffer(values)])
    return pa.array(values, type_)


def _valid(arr: pa.Array) -> np.ndarray | None:
    if arr.null_count == 0:
        return None
    bits = np.frombuffer(arr.buffers()[0], np.uint8)
    return np.unpackbits(bits, bitorder="little")[arr.offset: arr.offset + len(arr)].astype(bool)


def to_numpy(arr: pa.Array | pa.ChunkedArray, fill: int | float = -1, *, writable: bool = True) -> np.ndarray:
    """numpy values of a primitive Arrow array, nulls replaced by ``fill``, read from its buffers.
    ``writable=False``: without nulls, a read-only view of the Arrow buffer instead of a copy (the
    analyzers' columns: read, never written)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    valid = _valid(arr)
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(arr.buffers()[1], np.uint8)
        out = np.unpackbits(bits, bitorder="little")[arr.offset: arr.offset + len(arr)].astype(bool)
    else:
        dtype = np.dtype(arr.type.to_pandas_dtype())
        out = np.frombuffer(arr.buffers()[1], dtype)[arr.offset: arr.offset + len(arr)]
        if writable or valid is not None:
            out = out.copy()
    if valid is not None:
        out[~valid] = fill
    return out


def strings_to_arrow(s: Strings) -> pa.Array:
    """Wrap Strings as an Arrow string array (large_string past 2 GiB of text)."""
    n = len(s)
    validity = None if s.valid is None else pa.py_buffer(np.packbits(s.valid, bitorder="little"))
    if len(s.data) < 2**31:
        return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(s.offsets.astype(np.int32)), pa.py_buffer(s.data)])
    return pa.Array.from_buffers(pa.large_string(), n, [validity, pa.py_buffer(s.offsets), pa.py_buffer(s.data)])


def str_array(values: list[str | None] | list[str]) -> pa.Array:
    """A UTF-8 Arrow array from Python strings (None becomes null), built from buffers."""
    return strings_to_arrow(encode_strings(values))


def take(arr: pa.Array, indices: Any) -> pa.Array:
    """``arr[indices]`` through Arrow's compute kernels directly.

    ``Array.take`` goes through the pyarrow.compute module, whose import builds a Python
    wrapper for every kernel; the import is a noticeable part of a short command's run.
    """
    from pyarrow import _compute

    if isinstance(indices, np.ndarray):
        indices = to_arrow(indices.astype(np.int64, copy=False))
    return _compute.call_function("take", [arr, indices])


def parquet_reader() -> Any:
    """pyarrow's Parquet reader class, or None where this pyarrow has none (read_parquet falls back)."""
    try:
        from pyarrow._parquet import ParquetReader
    except ImportError:
        return None
    return ParquetReader


def read_parquet(path: Path, wanted: list[str], dictionary: list[str] | None = None) -> pa.Table:
    """The columns of ``wanted`` that a Parquet file has; those in ``dictionary`` (string columns)
    come back dictionary-encoded (the reader encodes them as it decodes them, in its own threads)
    instead of as one string per row.

    Through pyarrow's Parquet reader directly where it can: ``pyarrow.parquet`` imports the
    filesystem layer (S3, TLS) on the way, a tenth of a short command's run. Not read_table either:
    it goes through pyarrow.dataset, which imports pandas. ParquetFile where the reader differs.
    """
    reader_class = parquet_reader()
    if reader_class is not None:
        try:
            reader = reader_class()
            try:
                reader.open(str(path), read_dictionary=dictionary or None, page_checksum_verification=True)
            except KeyError:  # a file of an older version, without one of those columns
                reader.open(str(path))
                names = reader.schema_arrow.names
                reader = reader_class()
                reader.open(str(path), read_dictionary=[c for c in dictionary or () if c in names] or None,
                            page_checksum_verification=True)
            names = reader.schema_arrow.names
            return reader.read_all(column_indices=[names.index(c) for c in wanted if c in names], use_threads=True)
        except (AttributeError, TypeError):  # a pyarrow whose private reader has another interface
            pass
    import pyarrow.parquet as pq

    have = set(pq.ParquetFile(path).schema_arrow.names)
    f = pq.ParquetFile(path, read_dictionary=[c for c in dictionary or () if c in have] or None,
                       page_checksum_verification=True)
    return f.read(columns=[c for c in wanted if c in have])


#: How every table is written. Row groups of 64k rows bound the writer's buffers. Dictionary
#: encoding is off: with zstd the files come out smaller without it, and write and read faster.
#: Page checksums are written, and verified on every read (read_parquet): a flipped bit in a data page is an
#: error, never a changed figure.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "use_dictionary": False,
                                   "write_page_checksum": True}
ROW_GROUP_ROWS = 1 << 16


def parquet_writer() -> Any:
    """pyarrow's Parquet writer class, or None where this pyarrow has none (write_parquet falls back)."""
    try:
        from pyarrow._parquet import ParquetWriter
    except ImportError:
        return None
    return ParquetWriter


def _direct_writer(path: Path, schema: pa.Schema) -> Any:
    """pyarrow's writer class opened on ``path`` with the options of ``pq.write_table``; None where this
    pyarrow has no such class, or one with another interface."""
    writer_class = parquet_writer()
    if writer_class is None:
        return None
    try:
        return writer_class(str(path), schema, version="2.6", writer_engine_version="V2", **PARQUET_OPTIONS)
    except (AttributeError, TypeError):
        return None


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` as Parquet (PARQUET_OPTIONS), removing a partial file on failure.

    Through pyarrow's Parquet writer class directly where it can, as read_parquet reads: the
    public module imports the filesystem layer on the way (about 14 ms, in every importing
    process). The same C++ writer with the same properties: the files are byte for byte those of
    ``pyarrow.parquet.write_table``, which is the fallback where the private class differs.
    """
    writer = _direct_writer(path, table.schema)
    if writer is None:
        import pyarrow.parquet as pq

        pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)
        return
    try:
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        writer.close()
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            writer.close()
        path.unlink(missing_ok=True)
        raise


def dictionary_type() -> pa.DataType:
    """The type of a string column read as a dictionary (read_parquet): what Parquet readers give."""
    return pa.dictionary(pa.int32(), pa.string())


def dictionary_encode(arr: pa.Array) -> pa.DictionaryArray:
    """Dictionary-encode an array (see ``take`` for why not the method)."""
    from pyarrow import _compute

    return _compute.call_function("dictionary_encode", [arr])


def take_or_null(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    """``arr[idx]`` with null wherever ``idx`` is negative."""
    valid = idx >= 0
    safe = np.where(valid, idx, 0).astype(np.int64)
    bits = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    indices = pa.Array.from_buffers(pa.int64(), len(idx), [bits, pa.py_buffer(safe)])
    if len(arr) == 0:
        return pa.nulls(len(idx), arr.type)
    return take(arr, indices)


def _codes(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary codes (-1 for null) and the distinct values of a string array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = dictionary_encode(arr)
    return to_numpy(enc.indices).astype(np.int64), enc.dictionary.to_pylist()


def isin_mask(arr: pa.Array | pa.ChunkedArray, values: list[str]) -> np.ndarray:
    """Boolean numpy mask of ``arr in values`` (nulls are False), without going through pandas."""
    codes, uniq = _codes(arr)
    wanted = [i for i, u in enumerate(uniq) if u in values]
    return np.isin(codes, wanted) if wanted else np.zeros(len(codes), bool)


def eq_mask(arr: pa.Array | pa.ChunkedArray, value: str) -> np.ndarray:
    """Boolean numpy mask of ``arr == value`` (nulls are False)."""
    return isin_mask(arr, [value])
