"""Vectorized linking: op nesting, launch -> op, device activity -> launch.

Everything here works on numpy arrays sorted once; loops run over nesting
levels or threads, never over events.
"""
from __future__ import annotations

import numpy as np

__all__ = ["thread_index", "dense_ids", "distinct", "nest", "top_of", "innermost_op", "match_ids", "match_flows"]


def thread_index(pid: np.ndarray, tid: np.ndarray) -> np.ndarray:
    """A dense int id per distinct (pid, tid) pair."""
    if len(pid) == 0:
        return np.zeros(0, np.int64)
    small = (np.abs(pid).max() < 2**31) and tid.min() >= -(2**31) and tid.max() < 2**32
    if small:
        # One int64 key per pair: a 1-D unique is many times faster than a row-wise one.
        key = (pid.astype(np.int64) << 32) | (tid.astype(np.int64) & 0xFFFFFFFF)
        return dense_ids(key)
    else:
        _, inverse = np.unique(np.stack([pid, tid], axis=1), axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def dense_ids(key: np.ndarray) -> np.ndarray:
    """Each row's position among the sorted distinct values of ``key`` (np.unique's inverse).

    A trace has a handful of threads over a million events: the distinct values of a sample are
    found first, every row is looked up among them by binary search, and only the rows the sample
    missed (a thread with few events) are added; sorting the whole column costs several times more."""
    if len(key) == 0:
        return np.zeros(0, np.int64)
    uniq = distinct(key[::97])
    pos = np.minimum(np.searchsorted(uniq, key), len(uniq) - 1)
    miss = uniq[pos] != key
    if miss.any():
        uniq = distinct(np.concatenate([uniq, key[miss]]))
        pos = np.searchsorted(uniq, key)
    return pos.astype(np.int64, copy=False)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique without its first call's import of numpy.ma)."""
    s = np.sort(values)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def nest(thread: np.ndarray, ts: np.ndarray, dur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent index and depth of intervals already sorted by (thread, ts, -dur).

    Depth is the number of intervals open on the thread when one starts,
    found by a sweep over start/end boundaries. Ends sort before starts at the
    same instant (back-to-back siblings do not nest), zero-length intervals
    close after the starts they coincide with. The parent is then the latest
    earlier interval one level up on the same thread.
    """
    n = len(ts)
    parent = np.full(n, -1, np.int64)
    if n == 0:
        return parent, np.zeros(0, np.int32)
    depth = _depth(thread, ts, dur)
    for d in range(1, int(depth.max()) + 1):
        upper = np.flatnonzero(depth == d - 1)
        here = np.flatnonzero(depth == d)
        pos = np.searchsorted(upper, here) - 1
        cand = np.where(pos >= 0, upper[np.maximum(pos, 0)], -1)
        same = (cand >= 0) & (thread[np.maximum(cand, 0)] == thread[here])
        parent[here] = np.where(same, cand, -1)
    return parent, depth


def _depth(thread: np.ndarray, ts: np.ndarray, dur: np.ndarray) -> np.ndarray:
    """Intervals open on the thread when each one starts (the sweep of ``nest``), counted without
    sweeping: the starts before one are the rows before it on its thread (they are sorted), the
    ends before it are found by binary search among its thread's ends, where an end at the same
    instant counts unless its interval has zero length."""
    n = len(ts)
    end = ts + dur
    lo, hi = min(int(ts.min()), int(end.min())), max(int(ts.max()), int(end.max()))
    if lo <= -(2**61) or hi >= 2**61:
        return _depth_by_sweep(thread, ts, dur)  # times too large for the doubled keys below
    # Doubled keys order an end at t (2t, or 2t + 1 for a zero-length interval) before or after a
    # start at t (2t + 1, searched on the left).
    end_key = end * 2 + (dur <= 0)
    start_key = ts * 2 + 1
    first = np.flatnonzero(np.r_[True, thread[1:] != thread[:-1]])
    bounds = np.r_[first, n]
    depth = np.empty(n, np.int64)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        ends = np.sort(end_key[lo:hi])
        depth[lo:hi] = np.arange(hi - lo) - np.searchsorted(ends, start_key[lo:hi], side="left")
    return depth.astype(np.int32)


def _depth_by_sweep(thread: np.ndarray, ts: np.ndarray, dur: np.ndarray) -> np.ndarray:
    """The same count by sweeping all starts and ends: +1 at a start, -1 at an end, ends before starts
    at the same instant, zero-length intervals closing after the starts they coincide with."""
    n = len(ts)
    order = np.arange(n, dtype=np.int64)
    b_thread = np.concatenate([thread, thread])
    b_time = np.concatenate([ts, ts + dur])
    b_type = np.concatenate([np.ones(n, np.int8), np.where(dur > 0, 0, 2).astype(np.int8)])
    b_tie = np.concatenate([order, order])
    b_delta = np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)])
    sweep = np.lexsort((b_tie, b_type, b_time, b_thread))
    running = np.cumsum(b_delta[sweep])
    is_start = sweep < n
    depth = np.zeros(n, np.int32)
    depth[sweep[is_start]] = (running[is_start] - 1).astype(np.int32)
    return depth


def top_of(parent: np.ndarray) -> np.ndarray:
    """The root above each node of a parent forest (itself for roots), by pointer jumping."""
    top = np.where(parent >= 0, parent, np.arange(len(parent)))
    while True:
        nxt = np.where(parent[top] >= 0, parent[top], top)
        if np.array_equal(nxt, top):
            return top
        top = nxt


def innermost_op(
    op_thread: np.ndarray,
    op_ts: np.ndarray,
    op_end: np.ndarray,
    op_parent: np.ndarray,
    q_thread: np.ndarray,
    q_ts: np.ndarray,
) -> np.ndarray:
    """Index of the innermost op on the same thread whose span holds each query time; -1 if none.

    Ops must be sorted by (thread, ts, -dur) and ``op_parent`` must follow that order.
    """
    out = np.full(len(q_ts), -1, np.int64)
    if len(op_ts) == 0 or len(q_ts) == 0:
        return out
    bounds = np.searchsorted(op_thread, np.arange(int(op_thread.max()) + 2))
    for t in distinct(q_thread):
        if t < 0 or t > op_thread.max():
            continue
        lo, hi = bounds[t], bounds[t + 1]
        if lo == hi:
            continue
        sel = np.flatnonzero(q_thread == t)
        pos = np.searchsorted(op_ts[lo:hi], q_ts[sel], side="right") - 1
        out[sel] = np.where(pos >= 0, pos + lo, -1)
    # Climb out of ops that ended before the query time.
    while True:
        valid = out >= 0
        stale = np.zeros(len(out), bool)
        stale[valid] = op_end[out[valid]] < q_ts[valid]
        if not stale.any():
            return out
        out[stale] = op_parent[out[stale]]


def match_ids(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the index of a row with an equal key, or -1.

    Returns (match, ambiguous): ambiguous marks queries whose key occurs on
    more than one row; the caller decides between them. Negative keys never match.
    """
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    left = np.searchsorted(sk, queries, side="left")
    right = np.searchsorted(sk, queries, side="right")
    found = (right > left) & (queries >= 0)
    match = np.where(found, order[np.minimum(left, len(sk) - 1)] if len(sk) else -1, -1)
    return match, found & (right - left > 1)


def match_flows(
    flow_pid: np.ndarray, flow_tid: np.ndarray, flow_ts: np.ndarray, flow_id: np.ndarray,
    pid: np.ndarray, tid: np.ndarray, ts: np.ndarray,
) -> np.ndarray:
    """The id of a flow endpoint at the same (pid, tid, ts) as each event; -1 when none."""
    out = np.full(len(ts), -1, np.int64)
    if len(flow_ts) == 0 or len(ts) == 0:
        return out
    order = np.lexsort((flow_tid, flow_pid, flow_ts))
    fts = flow_ts[order]
    left = np.searchsorted(fts, ts, side="left")
    right = np.searchsorted(fts, ts, side="right")
    # Most instants hold one flow endpoint; widen only where several share the time.
    for k in range(int((right - left).max(initial=0))):
        idx = left + k
        ok = idx < right
        cand = order[np.minimum(idx, len(order) - 1)]
        hit = ok & (out < 0) & (flow_pid[cand] == pid) & (flow_tid[cand] == tid)
        out[hit] = flow_id[cand[hit]]
    return out
