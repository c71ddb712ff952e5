"""Variable-length strings as plain buffers (offsets, bytes, validity), with numpy only.

Decoding runs in a forked helper too, and it never needs pyarrow; the parent
wraps these buffers into Arrow arrays without copying (``_arrow.strings_to_arrow``).
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

__all__ = ["Strings", "encode_strings", "raw_json_strings", "compact_json_texts", "strings_from_codes", "concat_strings"]


class Strings(msgspec.Struct, frozen=True):
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
    nulls = values.count(None)  # type: ignore[arg-type]
    if nulls == n:  # a column no event fills (no shapes recorded, no process groups): no per-value work
        return Strings(np.zeros(n + 1, np.int64), b"", np.zeros(n, bool) if n else None)
    has_null = nulls > 0
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
        # A name that is null or not a string is kept as text ("" for null): names are never null.
        return encode_strings([v if isinstance(v, str) else ("" if v is None else str(v)) for v in values])
    keep = np.ones(len(buf), bool)
    keep[starts] = False
    keep[starts + lens - 1] = False
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens - 2, out=offsets[1:])
    return Strings(offsets, buf[keep].tobytes(), None)


def compact_json_texts(raws: list[Any]) -> Strings | None:
    """Raw JSON values (``b""`` where absent, which becomes null) as compact JSON text, all at once;
    None when a value holds a string literal (its spaces are content: the caller decodes each)."""
    joined = b"\x00".join(raws)
    if b'"' in joined:
        return None
    parts = joined.translate(None, b" \n\t\r").split(b"\x00")
    n = len(parts)
    lens = np.fromiter(map(len, parts), np.int64, n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    valid = lens > 0
    return Strings(offsets, b"".join(parts), None if valid.all() else valid)


def strings_from_codes(codes: np.ndarray, values: list[str]) -> Strings:
    """``values[code]`` for every code, built with numpy (a column of few distinct values, such as
    an event category): the distinct values are laid out once as rows of a byte matrix."""
    enc = [v.encode() for v in values]
    lens = np.fromiter(map(len, enc), np.int64, len(enc))
    n = len(codes)
    offsets = np.zeros(n + 1, np.int64)
    if n == 0 or not len(enc):
        return Strings(offsets, b"", None)
    width = max(int(lens.max()), 1)
    table = np.zeros((len(enc), width), np.uint8)
    for i, b in enumerate(enc):
        table[i, :len(b)] = np.frombuffer(b, np.uint8)
    row_lens = lens[codes]
    np.cumsum(row_lens, out=offsets[1:])
    data = table[codes][np.arange(width) < row_lens[:, None]]
    return Strings(offsets, data.tobytes(), None)


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
