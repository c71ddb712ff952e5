"""Table columns as numpy arrays, strings as dictionary codes: analysis without pandas.

pandas takes a quarter of a second to import; the report reads Arrow columns
straight into these and only the public analyzer functions build DataFrames.
"""
from __future__ import annotations

import re
from typing import Any

import msgspec
import numpy as np

__all__ = ["Codes", "Cols", "from_arrow"]


class Codes(msgspec.Struct, frozen=True):
    """A string column: one code per row (-1 for null) into ``values``."""

    codes: np.ndarray
    values: list[Any]

    def __len__(self) -> int:
        return len(self.codes)

    def _where(self, keep: list[int]) -> np.ndarray:
        """Rows whose code is in ``keep``: a lookup table indexed by code (its last slot, False, is
        what code -1 picks), one pass where np.isin sorts or compares per value."""
        table = np.zeros(len(self.values) + 1, bool)
        table[keep] = True
        return table[self.codes]

    def eq(self, value: str) -> np.ndarray:
        return self._where([i for i, v in enumerate(self.values) if v == value])

    def isin(self, values: tuple[str, ...] | list[str]) -> np.ndarray:
        wanted = set(values)
        return self._where([i for i, v in enumerate(self.values) if v in wanted])

    def search(self, pattern: re.Pattern[str]) -> np.ndarray:
        return self._where([i for i, v in enumerate(self.values) if v is not None and pattern.search(v)])

    def take(self, index: np.ndarray) -> Codes:
        return Codes(self.codes[index], self.values)

    def tolist(self) -> list[Any]:
        vals = self.values + [None]  # code -1 picks the trailing None
        return [vals[c] for c in self.codes]


class Cols:
    """Named columns of equal length: numpy arrays and Codes."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.n = len(next(iter(data.values()))) if data else 0

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def __len__(self) -> int:
        return self.n

    def take(self, index: np.ndarray) -> Cols:
        """Rows by boolean mask or integer index."""
        return Cols({k: v.take(index) if isinstance(v, Codes) else v[index] for k, v in self.data.items()})


def from_arrow(table: Any) -> Cols:
    """Cols from a pyarrow Table: strings become Codes (read dictionary-encoded where the table has
    them so, else encoded here first), everything else numpy."""
    import pyarrow as pa

    from skiprof._arrow import dictionary_encode, to_numpy

    data: dict[str, Any] = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pa.chunked_array([dictionary_encode(col.combine_chunks())])
        if pa.types.is_dictionary(col.type):
            data[name] = _dictionary_codes(col)
        else:
            data[name] = to_numpy(col.combine_chunks(), writable=False)
    return Cols(data)


def _dictionary_codes(col: Any) -> Codes:
    """Codes of a dictionary-encoded column (a ChunkedArray): each chunk's dictionary is mapped into
    one list of distinct values (ranks read from several files have one dictionary each)."""
    from skiprof._arrow import to_numpy

    index: dict[Any, int] = {}
    parts = []
    for chunk in col.chunks:
        remap = [-1 if v is None else index.setdefault(v, len(index)) for v in chunk.dictionary.to_pylist()]
        codes = to_numpy(chunk.indices, fill=-1, writable=False)
        parts.append(np.array(remap + [-1], np.int64)[codes])  # null rows (-1) pick the trailing -1
    return Codes(np.concatenate(parts) if parts else np.zeros(0, np.int64), list(index))
