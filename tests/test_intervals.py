"""Interval helpers, on cases small enough to check by eye."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _cells(ivs: tuple[np.ndarray, np.ndarray]) -> set[int]:
    """The unit cells [t, t+1) an interval set covers: the reference the vectorized helpers must match."""
    return {t for s, e in zip(ivs[0].tolist(), ivs[1].tolist()) for t in range(s, e)}


def _disjoint(ivs: tuple[np.ndarray, np.ndarray]) -> bool:
    s, e = ivs
    return bool(np.all(e > s) and np.all(s[1:] > e[:-1]))  # sorted, non-empty, neither overlapping nor touching


_pairs = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 12)), max_size=12)


@settings(max_examples=400, deadline=None)
@given(_pairs, _pairs, st.lists(st.integers(-5, 80), max_size=8))
def test_helpers_agree_with_unit_cells(xs: list[tuple[int, int]], ys: list[tuple[int, int]], points: list[int]) -> None:
    """union, subtract, intersect_total, total and covered_before against sets of unit cells, on
    any intervals (overlapping, nested, touching, empty): results come out sorted, disjoint and
    merged where they touch."""
    a_ = iv.union(np.array([x[0] for x in xs], np.int64), np.array([x[0] + x[1] for x in xs], np.int64))
    b_ = iv.union(np.array([y[0] for y in ys], np.int64), np.array([y[0] + y[1] for y in ys], np.int64))
    a_ = (a_[0][a_[1] > a_[0]], a_[1][a_[1] > a_[0]])  # zero-length intervals cover nothing
    b_ = (b_[0][b_[1] > b_[0]], b_[1][b_[1] > b_[0]])
    ca, cb = {t for s, d in xs for t in range(s, s + d)}, {t for s, d in ys for t in range(s, s + d)}
    assert _cells(a_) == ca and _disjoint(a_) and iv.total(a_) == len(ca)
    diff = iv.subtract(a_, b_)
    assert _cells(diff) == ca - cb and _disjoint(diff)
    assert iv.intersect_total(a_, b_) == len(ca & cb)
    before = iv.covered_before(a_, np.array(points, np.int64))
    assert before.tolist() == [len([t for t in ca if t < p]) for p in points]
