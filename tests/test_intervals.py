"""Interval helpers, on cases small enough to check by eye."""
from __future__ import annotations

import numpy as np

from skiprof.analyzers import _intervals as iv


def a(*pairs: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def test_union_merges_overlaps_and_nesting() -> None:
    s, e = iv.union(*a((5, 10), (0, 3), (8, 12), (2, 4), (20, 21), (9, 11)))
    assert s.tolist() == [0, 5, 20] and e.tolist() == [4, 12, 21]
    assert iv.total((s, e)) == 4 + 7 + 1


def test_subtract_and_clip() -> None:
    base = iv.union(*a((0, 10), (20, 30)))
    cut = iv.union(*a((5, 25)))
    s, e = iv.subtract(base, cut)
    assert s.tolist() == [0, 25] and e.tolist() == [5, 30]
    assert iv.intersect_total(base, cut) == 10
    s, e = iv.clip(base, 8, 22)
    assert s.tolist() == [8, 20] and e.tolist() == [10, 22]


def test_empty() -> None:
    empty = iv.union(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert iv.total(empty) == 0
    assert iv.total(iv.subtract(empty, iv.union(*a((0, 1))))) == 0
