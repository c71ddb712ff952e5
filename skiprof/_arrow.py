"""numpy <-> Arrow without the pandas detour.

``pa.array(ndarray)`` imports pandas to check for pandas objects, which costs
a third of a second per process; building arrays from buffers avoids it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["to_arrow", "to_numpy", "str_array", "eq_mask", "isin_mask", "take_or_null", "Strings",
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


def to_numpy(arr: pa.Array | pa.ChunkedArray, fill: int | float = -1) -> np.ndarray:
    """numpy values of a primitive Arrow array, nulls replaced by ``fill``, read from its buffers."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(arr.buffers()[1], np.uint8)
        out = np.unpackbits(bits, bitorder="little")[arr.offset: arr.offset + len(arr)].astype(bool)
    else:
        dtype = np.dtype(arr.type.to_pandas_dtype())
        out = np.frombuffer(arr.buffers()[1], dtype)[arr.offset: arr.offset + len(arr)].copy()
    valid = _valid(arr)
    if valid is not None:
        out[~valid] = fill
    return out


@dataclass(frozen=True)
class Strings:
    """UTF-8 strings as plain buffers (offsets, bytes, validity), built without pyarrow.

    Decoding workers produce these so that they never touch Arrow; the parent
    wraps the same buffers into an Arrow array without copying.
    """

    offsets: np.ndarray  # int64, len n+1
    data: bytes
    valid: np.ndarray | None  # bool, None when there is no null

    def __len__(self) -> int:
        return len(self.offsets) - 1


def encode_strings(values: list[str | None] | list[str]) -> Strings:
    """Encode Python strings (None for null) into buffers."""
    n = len(values)
    has_null = None in values
    parts = [b"" if v is None else v.encode() for v in values] if has_null else [v.encode() for v in values]  # type: ignore[union-attr]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, parts), np.int64, n), out=offsets[1:])
    valid = np.fromiter((v is not None for v in values), bool, n) if has_null else None
    return Strings(offsets, b"".join(parts), valid)


def raw_json_strings(raws: list[Any]) -> Strings:
    """Strings from raw JSON string literals (``b'"abc"'``), without making Python str objects.

    The quotes are cut away in one vectorized pass; literals with escapes, or
    values that are not strings, go through a real JSON decode instead.
    """
    import msgspec

    n = len(raws)
    joined = b"".join(raws)
    lens = np.fromiter(map(len, raws), np.int64, n)
    starts = np.cumsum(lens) - lens
    buf = np.frombuffer(joined, np.uint8)
    plain = b"\\" not in joined and (n == 0 or (bool((buf[starts] == 34).all()) and bool((lens >= 2).all())))
    if not plain:
        values = msgspec.json.decode(b"[" + b",".join(raws) + b"]")
        return encode_strings([v if isinstance(v, str) else (None if v is None else str(v)) for v in values])
    keep = np.ones(len(buf), bool)
    keep[starts] = False
    keep[starts + lens - 1] = False
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens - 2, out=offsets[1:])
    return Strings(offsets, buf[keep].tobytes(), None)


def concat_strings(parts: list[Strings]) -> Strings:
    """One Strings from several, in order."""
    if len(parts) == 1:
        return parts[0]
    shifts = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
    offsets = np.concatenate([parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, shifts)])
    valid = None
    if any(p.valid is not None for p in parts):
        valid = np.concatenate([p.valid if p.valid is not None else np.ones(len(p), bool) for p in parts])
    return Strings(offsets, b"".join(p.data for p in parts), valid)


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


def take_or_null(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    """``arr[idx]`` with null wherever ``idx`` is negative."""
    valid = idx >= 0
    safe = np.where(valid, idx, 0).astype(np.int64)
    bits = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    indices = pa.Array.from_buffers(pa.int64(), len(idx), [bits, pa.py_buffer(safe)])
    if len(arr) == 0:
        return pa.nulls(len(idx), arr.type)
    return arr.take(indices)


def _codes(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary codes (-1 for null) and the distinct values of a string array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = arr.dictionary_encode()
    return to_numpy(enc.indices).astype(np.int64), enc.dictionary.to_pylist()


def isin_mask(arr: pa.Array | pa.ChunkedArray, values: list[str]) -> np.ndarray:
    """Boolean numpy mask of ``arr in values`` (nulls are False), without going through pandas."""
    codes, uniq = _codes(arr)
    wanted = [i for i, u in enumerate(uniq) if u in values]
    return np.isin(codes, wanted) if wanted else np.zeros(len(codes), bool)


def eq_mask(arr: pa.Array | pa.ChunkedArray, value: str) -> np.ndarray:
    """Boolean numpy mask of ``arr == value`` (nulls are False)."""
    return isin_mask(arr, [value])
