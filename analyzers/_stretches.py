"""The replay's vectorized path: the model of ``_replay.simulate``'s per-call loop, computed a
stretch of calls at a time.

Between two blocking calls the host never waits for the device, so
  - each thread's calls follow one another by fixed (scaled) costs: a running sum per thread;
  - each stream runs its activities first in, first out, which is a running maximum:
        end_i = max(ready_i + len_i, end_(i-1) + gap_i + len_i)
              = c_i + max(carry, max_(k<=i)(ready_k + len_k - c_k)),   c_i = sum_(k<=i)(gap_k + len_k)
A stretch then costs a few numpy calls per stream instead of a Python step per call. A blocking
call ends the stretch: it returns once the work it waited for in the trace has ended, work the
stretches before it have placed, and is replayed alone as the loop replays it.

The loop stays the reference: both give the same Timeline, field by field (tests/test_properties.py
on generated traces, tests/test_conformance.py on the real ones under every fix's knobs), and the
loop runs where stretches are short (a sync every few calls), where numpy's fixed cost per call
would exceed Python's per-call step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._replay import NONE, sync_end

if TYPE_CHECKING:
    from ._replay import _Graph, _Run

__all__ = ["EDGES", "Static", "worth_it", "run_stretches"]

#: Edge kinds, coded: the Timeline's names for them.
EDGES = ("", "host", "launch", "stream", "sync", "measured")
_HOST, _LAUNCH, _STREAM, _SYNC, _MEASURED = 1, 2, 3, 4, 5
#: Fewer calls than this per stretch on average, and the loop is faster.
MIN_STRETCH = 48
# How an activity's earliest start is found (see _Graph and _launch_activities in _replay).
_LEAD, _BOUND, _MEMBER, _AFTER_CALL, _ORPHAN = 0, 1, 2, 3, 4


def stops(g: _Graph, run: _Run) -> np.ndarray:
    """The calls that end a stretch: blocking ones, unless made asynchronous."""
    n = len(g.l_ts)
    stop = g.blocking[:n].copy()
    if run.async_calls:
        stop[list(run.async_calls)] = False
    return stop


def worth_it(g: _Graph, run: _Run) -> bool:
    """Whether the stretches are long enough on average for the vectorized path to pay."""
    n = len(g.l_ts)
    return n >= MIN_STRETCH * (int(stops(g, run).sum()) + 1)


class Static:
    """What the stretches read of a replay graph, whatever the knobs (built once per graph:
    _Graph.stretch_static)."""

    def __init__(self, g: _Graph) -> None:
        n = len(g.l_ts)
        self.order = g.order
        self.pos = np.empty(n, np.int64)
        self.pos[self.order] = np.arange(n)
        # Calls grouped by thread, in replay order within each: running sums per thread.
        by_thread = np.argsort(g.thread_code[self.order], kind="stable")
        self.thread_calls = self.order[by_thread]
        self.sorted_thread = code = g.thread_code[self.thread_calls]
        self.thread_first = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if n else np.zeros(0, np.int64)
        self.threads = int(g.thread_code.max()) + 1 if n else 0
        self.stream = np.unique(g.k_key, return_inverse=True)[1].reshape(-1).astype(np.int64) if len(g.k_key) \
            else np.zeros(0, np.int64)
        self.streams = int(self.stream.max()) + 1 if len(self.stream) else 0
        self._sequence(g)

    def _sequence(self, g: _Graph) -> None:
        """Activities in the order the loop places them: by call in replay order, each call's in
        time order, each after the orphans attached to it; with each one's call and, for an orphan,
        the activity it precedes."""
        linked = np.flatnonzero(g.k_call >= 0)
        rows = linked[np.lexsort((linked, g.k_ts[linked], g.k_call[linked]))]
        rows = rows[np.argsort(self.pos[g.k_call[rows]], kind="stable")]
        act, parent = rows, rows
        orphan = np.zeros(len(rows), bool)
        if g.attached:
            at = np.empty(len(g.k_ts), np.int64)
            at[rows] = np.arange(len(rows))
            extra = [(int(at[r]), q, o, r) for r, os in g.attached.items() for q, o in enumerate(os)]
            idx = np.concatenate([np.arange(len(rows)), np.array([e[0] for e in extra], np.int64)])
            flag = np.concatenate([np.ones(len(rows), np.int64), np.zeros(len(extra), np.int64)])
            sub = np.concatenate([np.zeros(len(rows), np.int64), np.array([e[1] for e in extra], np.int64)])
            sort = np.lexsort((sub, flag, idx))
            act = np.concatenate([rows, np.array([e[2] for e in extra], np.int64)])[sort]
            parent = np.concatenate([rows, np.array([e[3] for e in extra], np.int64)])[sort]
            orphan = np.concatenate([orphan, np.ones(len(extra), bool)])[sort]
        self.act, self.parent, self.orphan = act, parent, orphan
        self.call = g.k_call[parent]
        self.at = self.pos[self.call] if len(self.call) else np.zeros(0, np.int64)


class _State:
    """One replay's arrays while the stretches are placed."""

    def __init__(self, g: _Graph, st: Static, kdur: np.ndarray) -> None:
        n, m = len(g.l_ts), len(g.k_ts)
        self.g, self.st, self.n = g, st, n
        self.cs, self.ce = np.full(n, NONE, np.int64), np.full(n, NONE, np.int64)
        self.as_, self.ae = np.full(m, NONE, np.int64), np.full(m, NONE, np.int64)
        self.pred = np.full(n + m, -1, np.int64)
        self.edge = np.zeros(n + m, np.int8)
        self.length = kdur
        self.left = g.k_call < 0  # orphans not placed yet
        self.s_end = np.zeros(st.streams, np.int64)
        self.s_act = np.full(st.streams, -1, np.int64)  # -1: nothing on the stream yet

    def place_orphan(self, r: int) -> None:
        """An orphan at its measured start, or behind its stream (the loop's _Run.place)."""
        if not self.left[r]:
            return
        self.left[r] = False
        code = int(self.st.stream[r])
        s, p, e = int(self.g.k_ts[r]), -1, _MEASURED
        if self.s_act[code] >= 0 and int(self.s_end[code]) > s:
            s, p, e = int(self.s_end[code]), self.n + int(self.s_act[code]), _STREAM
        end = s + int(self.length[r])
        self.as_[r], self.ae[r] = s, end
        self.pred[self.n + r], self.edge[self.n + r] = p, e
        self.s_end[code], self.s_act[code] = end, r

    def place(self, act: np.ndarray, ready: np.ndarray, gap: np.ndarray, pred: np.ndarray, edge: np.ndarray) -> None:
        """Place a stretch's activities, in order, each stream first in, first out behind what it ran before."""
        code = self.st.stream[act]
        if len(code) and (code == code[0]).all():
            groups = [np.arange(len(act))]
        else:
            by = np.argsort(code, kind="stable")
            cut = np.flatnonzero(np.r_[True, code[by][1:] != code[by][:-1], True])
            groups = [by[a:b] for a, b in zip(cut[:-1], cut[1:])]
        for rows in groups:
            self._one_stream(act[rows], ready[rows], gap[rows], pred[rows], edge[rows], int(code[rows[0]]))

    def _one_stream(self, act: np.ndarray, ready: np.ndarray, gap: np.ndarray, pred: np.ndarray,
                    edge: np.ndarray, code: int) -> None:
        """Place one stream's share of a stretch behind what the stream ran before (its carry)."""
        length = self.length[act]
        c = np.cumsum(gap + length)
        w = ready + length - c
        carried = self.s_act[code] >= 0
        if carried:
            w[0] = max(int(w[0]), int(self.s_end[code]))
        end = c + np.maximum.accumulate(w)
        start = end - length
        before = np.empty(len(act), np.int64)
        before[1:] = end[:-1]
        before_act = np.empty(len(act), np.int64)
        before_act[1:] = act[:-1]
        behind = np.empty(len(act), bool)
        behind[1:] = before[1:] + gap[1:] > ready[1:]
        # As the loop decides: behind the stream only where its end plus the gap is strictly later.
        if carried:
            before[0], before_act[0] = self.s_end[code], self.s_act[code]
            behind[0] = before[0] + gap[0] > ready[0]
        else:
            behind[0] = False
        self.as_[act], self.ae[act] = start, end
        node = self.n + act
        self.pred[node] = np.where(behind, self.n + before_act, pred)
        self.edge[node] = np.where(behind, _STREAM, edge)
        self.s_end[code], self.s_act[code] = end[-1], act[-1]
        self.left[act] = False


def run_stretches(run: _Run, gap_s: np.ndarray, dur_s: np.ndarray, lead_s: np.ndarray, kdur_s: np.ndarray) -> None:
    """Replay every call and activity of ``run`` stretch by stretch. Leaves run's cs, ce, as_, ae,
    pred, edge, orphans_left and stream_end as the loop would, before the tail orphans and the
    pollers (which the caller places, as after the loop)."""
    g, k = run.g, run.k
    st = g.stretch_static
    n = len(g.l_ts)
    stop = stops(g, run)
    length = kdur_s.copy()
    for r, more in run.extra.items():
        length[r] = round((int(g.k_dur[r]) + more) * k.device_scale)  # as _Run.place rounds it
    s = _State(g, st, length)
    cum, own = _host_sums(g, run, st, stop, gap_s, dur_s)
    # Each call's host predecessor; a blocking call may replace it by the activity it waited for.
    s.pred[:n] = g.prev_call
    s.edge[:n] = np.where(g.prev_call >= 0, _HOST, 0)
    jump = np.zeros(st.threads, np.int64)  # per thread: what blocking calls added to its running sum
    kinds = _activity_kinds(g, run, st)
    lo, after_stop = 0, False
    for hi in [*np.sort(st.pos[stop]).tolist(), n]:
        calls = st.order[lo + after_stop:hi]
        if len(calls):
            s.ce[calls] = cum[calls] + jump[g.thread_code[calls]]
            s.cs[calls] = s.ce[calls] - own[calls]
        a, b = np.searchsorted(st.at, [lo, hi])  # this stretch's activities, and the stop's before it
        if b > a:
            _place_stretch(s, g, lead_s, *(x[a:b] for x in kinds))
        if hi < n:
            j = int(st.order[hi])
            t = int(g.thread_code[j])
            start = int(cum[j] + jump[t])
            end, pred = _blocking_end(s, k.launch_scale, j, start)
            s.cs[j], s.ce[j] = start, end
            if pred >= 0:
                s.pred[j], s.edge[j] = pred, _SYNC
            jump[t] = end - cum[j]
        lo, after_stop = hi, True
    run.cs, run.ce, run.as_, run.ae, run.pred = s.cs, s.ce, s.as_, s.ae, s.pred
    run.edge = np.array(EDGES, object)[s.edge].tolist()
    run.orphans_left = set(np.flatnonzero(s.left).tolist())
    run.stream_end = {int(g.k_key[a]): (e, a) for e, a in zip(s.s_end.tolist(), s.s_act.tolist()) if a >= 0}


def _host_sums(g: _Graph, run: _Run, st: Static, stop: np.ndarray, gap_s: np.ndarray,
               dur_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each call's replayed end were no blocking call to wait (a running sum over its thread), and
    its own replayed cost (0 for a blocking call, whose end the stretches find)."""
    k, n = run.k, len(g.l_ts)
    prev = g.prev_call
    own = dur_s.copy()
    if run.removed_calls:
        own[list(run.removed_calls)] = 0  # folded into a fused kernel or a graph launch
    own[stop] = 0
    if run.async_calls:
        idx = np.array(sorted(run.async_calls), np.int64)
        d = g.l_dur[idx]  # as the loop's _call_end: a launch's median cost, or the call's own where that is 0
        own[idx] = np.round((np.minimum(d, g.launch_cost) if g.launch_cost else d) * k.launch_scale).astype(np.int64)
    # After the previous call on the thread: the scaled host gap, or (nested in it) the measured offset.
    off = np.where(g.chained, gap_s, g.l_ts - g.l_end[np.maximum(prev, 0)]) if n else np.zeros(0, np.int64)
    firsts = np.flatnonzero(prev < 0)
    first_off = np.array([run.origin + run.host_gap(run.origin, int(g.l_ts[j]), g.thread_of(j)) for j in firsts.tolist()],
                         np.int64)
    # Running sums of small costs per thread; each thread's absolute start added after.
    off[firsts] = 0
    step = (off + own)[st.thread_calls]
    total = np.cumsum(step)
    base = np.zeros(st.threads, np.int64)  # per thread (codes are dense, in thread_first's order)
    base[g.thread_code[firsts]] = first_off
    if n:
        base -= total[st.thread_first] - step[st.thread_first]  # the running sum before its first call
    cum = np.empty(n, np.int64)
    cum[st.thread_calls] = total + base[st.sorted_thread]
    return cum, own


def _activity_kinds(g: _Graph, run: _Run, st: Static) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For this replay's knobs, each entry of the placement sequence: how its earliest start is
    found, the activity, the call whose time sets it, and whether it runs at all."""
    n, m = len(g.l_ts), len(g.k_ts)
    act, call = st.act, st.call
    removed = np.zeros(m, bool)
    if run.removed_acts:
        removed[list(run.removed_acts)] = True
    # An orphan queued before a fused-away activity is not placed there (the loop skips both).
    keep = ~removed[act] & ~removed[st.parent]
    head = np.full(n, -1, np.int64)
    if run.members:
        head[list(run.members)] = list(run.members.values())
    asynchronous = np.zeros(n, bool)
    if run.async_calls:
        asynchronous[list(run.async_calls)] = True
    kind = np.where(st.orphan, _ORPHAN, np.where(head[call] >= 0, _MEMBER, np.where(
        asynchronous[call], _AFTER_CALL, np.where(g.stream_bound[act], _BOUND, _LEAD))))
    return kind, act, np.where(kind == _MEMBER, head[call], call), keep


def _place_stretch(s: _State, g: _Graph, lead_s: np.ndarray, kind: np.ndarray, act: np.ndarray,
                   call: np.ndarray, keep: np.ndarray) -> None:
    """Each activity's earliest start from its call's replayed times (_launch_activities's rules),
    then its place on its stream."""
    keep = keep & ((kind != _ORPHAN) | s.left[act])  # a blocking call may have placed an orphan already
    if not keep.all():
        kind, act, call = kind[keep], act[keep], call[keep]
    if not len(act):
        return
    orphan = kind == _ORPHAN
    ready = np.where(kind == _LEAD, s.cs[call] + lead_s[act], np.where(orphan, g.k_ts[act], s.ce[call]))
    gap = np.where(kind == _BOUND, g.stream_gap[act], 0)
    s.place(act, ready, gap, np.where(orphan, -1, call), np.where(orphan, _MEASURED, _LAUNCH))


def _blocking_end(s: _State, launch_scale: float, j: int, start: int) -> tuple[int, int]:
    """A blocking call's replayed end, and the activity that bound it (node id; -1: none), as the
    loop's _call_end finds them."""
    g = s.g
    rows = g.waits_for(j)
    for r in rows[s.left[rows]].tolist():  # orphans it waited for run at their measured time first
        s.place_orphan(r)
    ends = s.ae[rows]
    placed = ends > NONE
    end, last = sync_end(g, rows[placed], ends[placed], j, start, launch_scale)
    return end, (s.n + last if last >= 0 else -1)
