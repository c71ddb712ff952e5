"""Interval arithmetic on numpy arrays of [start, end) pairs, in ns."""
from __future__ import annotations

import numpy as np

__all__ = ["union", "total", "subtract", "clip", "intersect_total", "covered_before", "Intervals"]

Intervals = tuple[np.ndarray, np.ndarray]


def union(starts: np.ndarray, ends: np.ndarray) -> Intervals:
    """Merge overlapping or touching intervals into disjoint sorted ones."""
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(starts, kind="stable")
    s, e = np.asarray(starts)[order], np.asarray(ends)[order]
    return _blocks(s, np.maximum.accumulate(e))


def _blocks(s: np.ndarray, e: np.ndarray) -> Intervals:
    """Merge intervals in order of start whose ends never decrease (each ends no earlier than those
    before it): a new block begins where an interval starts after everything before it has ended."""
    if len(s) == 0:
        return s, e
    new = np.ones(len(s), bool)
    new[1:] = s[1:] > e[:-1]
    idx = np.flatnonzero(new)
    block_end = np.append(idx[1:] - 1, len(s) - 1)
    return s[idx], e[block_end]


def total(iv: Intervals) -> int:
    """Summed length of disjoint intervals."""
    return int((iv[1] - iv[0]).sum())


def clip(iv: Intervals, lo: int, hi: int) -> Intervals:
    """Disjoint intervals cut to [lo, hi)."""
    s, e = np.maximum(iv[0], lo), np.minimum(iv[1], hi)
    keep = e > s
    return s[keep], e[keep]


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """Parts of disjoint intervals ``a`` not covered by disjoint intervals ``b``."""
    if len(a[0]) == 0 or len(b[0]) == 0:
        return a
    # Sweep all boundaries: +1/-1 for a, +2/-2 for b; keep stretches where the level is exactly 1.
    # At equal instants b's ends come first, then a's ends, a's starts, b's starts: concatenated in
    # that order, a stable sort keeps it (and merges the four sorted runs faster than a lexsort).
    na, nb = len(a[0]), len(b[0])
    pts = np.concatenate([b[1], a[1], a[0], b[0]])
    delta = np.concatenate([np.full(nb, -2, np.int8), np.full(na, -1, np.int8), np.ones(na, np.int8),
                            np.full(nb, 2, np.int8)])
    order = np.argsort(pts, kind="stable")
    pts, level = pts[order], np.cumsum(delta[order], dtype=np.int64)
    seg_s, seg_e, seg_l = pts[:-1], pts[1:], level[:-1]
    keep = (seg_l == 1) & (seg_e > seg_s)
    # The kept segments come out of the sweep in order and never overlap: only touching ones merge.
    return _blocks(seg_s[keep], seg_e[keep])


def intersect_total(a: Intervals, b: Intervals) -> int:
    """Length of the overlap between two sets of disjoint intervals."""
    if _sorted_disjoint(a) and _sorted_disjoint(b):
        # Each interval of a overlaps b by what b covers before its end less what b covers before
        # its start: two binary searches instead of a sweep over every boundary of both sets (the
        # per-step and per-window evidence asks this once per stretch of a long trace).
        return int((covered_before(b, a[1]) - covered_before(b, a[0])).sum())
    return total(a) - total(subtract(a, b))


def _sorted_disjoint(iv: Intervals) -> bool:
    """True when the intervals are in order, each non-empty and none overlapping the next."""
    s, e = iv
    return bool(np.all(e > s) and np.all(s[1:] >= e[:-1]))


def covered_before(iv: Intervals, points: np.ndarray) -> np.ndarray:
    """Length of disjoint sorted intervals ``iv`` that lies before each point (vectorized)."""
    s, e = iv
    if not len(s):
        return np.zeros(len(points), np.int64)
    done = np.concatenate([[0], np.cumsum(e - s)])  # length of the first i intervals
    i = np.searchsorted(s, points, side="right")  # intervals that started before the point
    j = np.maximum(i - 1, 0)
    partial = np.where(i > 0, np.clip(points - s[j], 0, e[j] - s[j]), 0)
    return np.where(i > 0, done[j] + partial, 0)
