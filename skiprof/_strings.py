"""Variable-length strings as plain buffers (offsets, bytes, validity), with numpy only.

Decoding runs in a forked helper too, and it never needs pyarrow; the parent
wraps these buffers into Arrow arrays without copying (``_arrow.strings_to_arrow``).
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

__all__ = ["Strings", "Coded", "encode_strings", "raw_json_strings", "raw_json_coded", "compact_json_texts",
           "concat_strings", "strings_list", "bytes_strings"]


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


class Coded(msgspec.Struct, frozen=True):
    """A column of few distinct strings as a code per row into a list of values (a dictionary).

    Decoding workers send names this way: the values travel once per piece instead of once per
    row (kernel names are long), and the parent joins the pieces by their values, not their rows.
    A value may appear twice (two JSON spellings of one string); codes are never negative.
    """

    codes: np.ndarray  # int32, one per row
    values: Strings

    def __len__(self) -> int:
        return len(self.codes)


def encode_strings(values: list[str | None] | list[str]) -> Strings:
    """Encode Python strings (None for null) into buffers."""
    n = len(values)
    nulls = values.count(None)  # type: ignore[arg-type]
    if nulls == n:  # a column no event fills (no shapes recorded, no process groups): no per-value work
        return Strings(np.zeros(n + 1, np.int64), b"", np.zeros(n, bool) if n else None)
    has_null = nulls > 0
    parts = [b"" if v is None else v.encode() for v in values] if has_null else [v.encode() for v in values]  # type: ignore[union-attr]
    return _from_parts(parts, values if has_null else None)


def bytes_strings(values: list[bytes | None]) -> Strings:
    """Strings from UTF-8 bytes (None for null), as encode_strings does from str."""
    return _from_parts([b"" if v is None else v for v in values], values if None in values else None)


def _from_parts(parts: list[bytes], values: list[Any] | None) -> Strings:
    """Strings from each row's bytes; ``values`` (the rows as given, None for null) where some are null."""
    n = len(parts)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, parts), np.int64, n), out=offsets[1:])
    valid = None if values is None else np.fromiter((v is not None for v in values), bool, n)
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
        blob = b"[" + b",".join(raws) + b"]"
        try:
            values = msgspec.json.decode(blob)
        except msgspec.DecodeError:
            # Bytes that are not UTF-8 inside a name: U+FFFD for them, as names without escapes get
            # when the build validates them (anything else still fails, as corrupt JSON).
            values = msgspec.json.decode(blob.decode("utf-8", "replace").encode())
        # A name that is null or not a string is kept as text ("" for null): names are never null.
        return encode_strings([v if isinstance(v, str) else ("" if v is None else str(v)) for v in values])
    keep = np.ones(len(buf), bool)
    keep[starts] = False
    keep[starts + lens - 1] = False
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens - 2, out=offsets[1:])
    return Strings(offsets, buf[keep].tobytes(), None)


def raw_json_coded(raws: list[Any]) -> Coded:
    """Raw JSON string literals (names) as codes into their distinct literals, decoded once each
    (raw_json_strings). Literals are told apart as bytes: each piece is cut out of one joined
    buffer (JSON text holds no raw NUL byte), so no Python str is made per row."""
    n = len(raws)
    parts = b"\x00".join(raws).split(b"\x00")
    if len(parts) != n:  # a NUL inside a literal after all: one bytes object per row instead
        parts = [bytes(r) for r in raws]
    index: dict[bytes, int] = {}
    codes = np.fromiter([index.setdefault(p, len(index)) for p in parts], np.int32, n)
    return Coded(codes, raw_json_strings(list(index)))


def strings_list(s: Strings) -> list[bytes | None]:
    """The values of Strings as bytes (None for null): for the few distinct values of a Coded column."""
    data, offsets = s.data, s.offsets.tolist()
    out: list[bytes | None] = [data[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    if s.valid is not None:
        out = [v if ok else None for v, ok in zip(out, s.valid.tolist())]
    return out


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
