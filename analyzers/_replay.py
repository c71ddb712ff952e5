"""The replay engine behind ``skiprof whatif`` (and the critical path): one rank's host and device
timeline re-run with changed costs.

The dependency graph, all costs from the trace (docs/whatif.md):
  host order    each host thread issues its runtime calls in measured order, separated by the host
                work measured between them (x host_scale); a call nested in the previous one keeps
                its offset; a thread that only polls keeps pace with the working threads;
  launch        an activity starts no earlier than its launch call's start plus its measured
                launch-to-start time (x launch_scale);
  stream order  activities on one stream run first in, first out, each after the previous one's
                end plus the measured gap when the stream was the binding constraint;
  sync          a blocking call (docs: skiprof._domain.is_blocking) returns only after every
                device activity it was seen waiting for has ended, linked to a launch or not, then
                takes its own remaining time (x launch_scale).
Activities with no launch call in the trace (orphans) keep their measured start as their
earliest start but still occupy their stream in measured order, so nothing ever overlaps on a
stream. Every node records the predecessor that bound its start: following those links back from
the node that ends last gives the critical path.
"""
from __future__ import annotations

import bisect
from functools import cached_property
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from skiprof._domain import API_KINDS, LAUNCH_KINDS, is_blocking, stream_key
from skiprof.ingest._link import thread_index

from . import _intervals as iv
from ._activity import held_from, rows_of, segment_prev_max
from ._view import View

if TYPE_CHECKING:
    from ._stretches import Static

__all__ = ["Knobs", "Timeline", "simulate", "NONE"]

NONE = -(1 << 62)  # "not placed yet" / "no constraint"
Times = list[int] | np.ndarray  # replayed times or node ids, one per call or activity


class Knobs(msgspec.Struct, frozen=True):
    """What to change. Scales multiply costs; fuse lists kernel-name chains; cuda_graph names a region.

    ``async_copies``: copies from or to pageable memory, and synchronous memcpy calls, become
    asynchronous (pinned memory, ``non_blocking=True``): the call costs what the trace's median
    kernel launch call costs and returns without waiting; the copy itself keeps its measured time.
    ``offload``: region names whose host time leaves the critical path (preprocessing done ahead
    by a DataLoader worker or on the device); calls inside them keep their cost.
    """

    launch_scale: float = 1.0
    host_scale: float = 1.0
    device_scale: float = 1.0
    fuse: tuple[tuple[str, ...], ...] = msgspec.field(default_factory=tuple)
    cuda_graph: str | None = None
    async_copies: bool = False
    offload: tuple[str, ...] = msgspec.field(default_factory=tuple)


class Timeline(msgspec.Struct, dict=True):
    """Replayed start and end of every call (rows of view.launches) and activity (rows of view.kernels).

    Node ids: call j is j, activity r is n_calls + r. ``pred`` holds the node that bound each
    node's start (-1: the scope's origin or its own measured time), ``edge`` what kind of link it was.
    """

    origin: int
    call_start: np.ndarray
    call_end: np.ndarray
    act_start: np.ndarray
    act_end: np.ndarray
    act_stream: np.ndarray
    blocking: np.ndarray
    removed_calls: set[int]
    removed_acts: set[int]
    pred: np.ndarray
    edge: list[str]
    host_end: int = 0
    host_end_call: int = -1  # the call after which the host's last work ends (-1: none)

    @property
    def n_calls(self) -> int:
        return len(self.call_start)

    def placed(self) -> np.ndarray:
        """Activities that ran in the replay (fusion removes some)."""
        return self.act_end > NONE

    @cached_property
    def busy(self) -> iv.Intervals:
        """Replayed device busy time: the union of the placed activities (the scope and the idle
        causes of a prediction both read it)."""
        ok = self.placed()
        return iv.union(self.act_start[ok], self.act_end[ok])


class _AsList:
    """A numpy attribute of the replay graph as a Python list, made on first read and kept."""

    def __init__(self, array: str) -> None:
        self.array = array

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, graph: object, owner: type | None = None) -> Any:
        value = getattr(graph, self.array).tolist()
        graph.__dict__[self.name] = value  # found in the instance from now on, before this descriptor
        return value


class _Graph:
    """Static facts of the view the replay needs, computed once."""

    def __init__(self, view: View) -> None:
        la, k = view.launches, view.kernels
        self.view = view
        self.l_ts, self.l_dur = la["ts"], la["dur"]
        self.l_end = self.l_ts + self.l_dur
        kinds = np.array(la["kind"].values + [None], dtype=object)[la["kind"].codes]
        self.l_kind = kinds
        names = la["name"].values
        self.blocking = np.array([is_blocking(n) if n else False for n in names] + [False])[la["name"].codes]
        self.l_id = la["launch_id"]
        self.k_ts, self.k_dur = k["ts"], k["dur"]
        self.k_end = self.k_ts + self.k_dur
        self.k_lid = k["launch_id"]
        self.k_call = rows_of(self.l_id, self.k_lid)
        self.k_lts = np.where(self.k_call >= 0, self.l_ts[np.maximum(self.k_call, 0)] if len(self.l_ts) else 0, -1)
        self.k_key = stream_key(k["device"], k["stream"])
        order = np.lexsort((k["kernel_id"], self.k_ts, self.k_key))
        prev = segment_prev_max(self.k_end[order], self.k_key[order])
        self.k_prev = np.full(len(order), -1, np.int64)
        self.k_prev[order] = np.where(np.isnan(prev), -1, np.nan_to_num(prev)).astype(np.int64)
        self.stream_order = order
        ops = view.ops
        # Threads that run ops do host work between their calls; a thread with calls only (a poller,
        # say) spends its gaps waiting, which a faster or slower CPU does not change.
        self.working = _threads(ops["pid"], ops["tid"])
        self.attached, self.tail_orphans = self._attach_orphans()
        self.order = np.argsort(self.l_ts, kind="stable")  # replay order: by measured start
        self.api = np.isin(self.l_kind, API_KINDS)  # calls whose cost scales with launch_scale
        self._chain_calls()
        self._pollers()
        self._lead_times()
        self.copy_calls = self._copy_calls()
        launches = np.isin(self.l_kind, LAUNCH_KINDS)
        self.launch_cost = int(np.median(self.l_dur[launches])) if launches.any() else None

    # Python lists of the columns the per-call loop reads, made on first use: indexing a list is
    # several times cheaper than indexing a numpy array one element at a time, and the stretches
    # (the usual path) read none of them.
    ts_l, dur_l, end_l, kind_l = _AsList("l_ts"), _AsList("l_dur"), _AsList("l_end"), _AsList("l_kind")
    kts_l, kdur_l, kprev_l, kkey_l = _AsList("k_ts"), _AsList("k_dur"), _AsList("k_prev"), _AsList("k_key")
    order_l, blocking_l, chained_l, prev_call_l = _AsList("order"), _AsList("blocking"), _AsList("chained"), _AsList("prev_call")
    stream_bound_l, stream_gap_l = _AsList("stream_bound"), _AsList("stream_gap")
    lead_l, lead_fixed_l = _AsList("lead"), _AsList("lead_fixed")

    def thread_of(self, j: int) -> tuple[int, int]:
        """Call j's thread, as (pid, tid)."""
        la = self.view.launches
        return int(la["pid"][j]), int(la["tid"][j])

    @cached_property
    def plain_l(self) -> list[bool]:
        """Calls the loop replays inline: not blocking, of a known kind."""
        return [not (b or kk is None) for b, kk in zip(self.blocking_l, self.kind_l)]

    @cached_property
    def stretch_static(self) -> Static:
        """What the stretches read of this graph."""
        from ._stretches import Static

        return Static(self)

    @cached_property
    def by_call(self) -> dict[int, list[int]]:
        """Each call's activities in time order (ties in row order): runs of one call after sorting."""
        linked = np.flatnonzero(self.k_call >= 0)
        rows = linked[np.lexsort((linked, self.k_ts[linked], self.k_call[linked]))]
        calls = self.k_call[rows]
        cut = np.flatnonzero(np.r_[True, calls[1:] != calls[:-1], True]) if len(calls) else np.zeros(1, np.int64)
        rows_l = rows.tolist()
        return {c: rows_l[a:b] for c, a, b in zip(calls[cut[:-1]].tolist(), cut[:-1].tolist(), cut[1:].tolist())}

    def _chain_calls(self) -> None:
        """Each call's predecessor on its thread in replay order (-1: none), and whether it starts after
        that one's measured end (the common case the replay loop takes without looking further)."""
        n = len(self.l_ts)
        prev = np.full(n, -1, np.int64)
        last: dict[tuple[int, int], int] = {}
        self.thread_code = np.zeros(n, np.int64)  # each call's thread, numbered
        if n:
            la = self.view.launches
            self.thread_code = thread_index(la["pid"], la["tid"])
            order = self.order
            seq = self.thread_code[order]
            grouped = np.argsort(seq, kind="stable")  # by thread, in replay order within each
            calls, seq = order[grouped], seq[grouped]
            same = np.flatnonzero(seq[1:] == seq[:-1]) + 1
            prev[calls[same]] = calls[same - 1]
            for j in calls[np.flatnonzero(np.r_[seq[1:] != seq[:-1], True])].tolist():
                last[self.thread_of(j)] = j
        self.prev_call = prev
        self.last_call = last  # each thread's last call
        self.chained = (prev >= 0) & (self.l_ts >= self.l_end[np.maximum(prev, 0)])
        # Asked once per thread (a call of each), then spread over its calls.
        first = np.unique(self.thread_code, return_index=True)[1].tolist()
        self.on_working = np.array([self.thread_of(j) in self.working for j in first], bool)[self.thread_code] if n \
            else np.zeros(0, bool)

    def _pollers(self) -> None:
        """Calls of polling threads, and each working thread's calls by measured end.

        A poller (NCCL's watchdog querying its events, say) runs no ops, launches nothing and never
        blocks: its calls come at times set by a clock, not by work. Replayed on their own they
        would keep their measured times and hold the replayed end at the last poll, whatever a knob
        does to the threads that work; instead they keep pace with the working threads."""
        code, n = self.thread_code, len(self.thread_code)
        self.poll_threads: set[tuple[int, int]] = set()
        self.work_index: list[tuple[list[int], list[int], tuple[int, int]]] = []
        self.poll_calls: list[int] = []
        if not n:
            return
        threads = int(code.max()) + 1
        busy = self.blocking[:n].copy()
        busy[self.k_call[self.k_call >= 0]] = True  # calls that launched something
        working = np.zeros(threads, bool)
        working[code[self.on_working]] = True
        quiet = np.ones(threads, bool)
        quiet[code[busy]] = False
        poll = (~working & quiet)[code]
        if not poll.any() or not working.any():  # no poller, or nothing to keep pace with
            return
        calls = np.arange(n)
        self.poll_threads = {self.thread_of(j) for j in np.flatnonzero(poll).tolist()}
        first = np.full(threads, n)
        np.minimum.at(first, code, calls)
        for t in sorted(np.flatnonzero(working).tolist(), key=lambda t: first[t]):  # threads in order of first call
            mine = calls[code == t]
            by_end = mine[np.lexsort((mine, self.l_end[mine]))].tolist()
            self.work_index.append(([self.end_l[j] for j in by_end], by_end, self.thread_of(by_end[0])))
        polls = np.flatnonzero(poll)
        self.poll_calls = polls[np.lexsort((polls, self.l_ts[polls]))].tolist()

    def _lead_times(self) -> None:
        """For each linked activity: whether it waited behind its stream after its call returned (then
        the measured gap behind the previous activity counts), else its launch-to-start lead."""
        call = np.maximum(self.k_call, 0)
        linked = self.k_call >= 0
        ends = self.l_end[call] if len(self.l_end) else np.zeros(len(call), np.int64)
        self.stream_bound = linked & (self.k_prev > ends)
        self.stream_gap = np.where(self.stream_bound, np.maximum(self.k_ts - self.k_prev, 0), 0)
        self.lead = np.where(linked, self.k_ts - (self.l_ts[call] if len(self.l_ts) else 0), 0)
        # What the activity waited beyond STALL_NS after its call returned (its stream was free) was a
        # dependency, not the launch path (boundness calls that idle dependency-bound): a cheaper
        # launch does not shorten it, so launch-scale scales only the rest of the lead.
        self.lead_fixed = np.where(self.stream_bound | (self.lead < 0), 0, np.maximum(self.k_ts - held_from(ends, self.k_prev), 0))

    def _copy_calls(self) -> set[int]:
        """Calls that copy from or to pageable host memory, or that block until their copy is done."""
        k = self.view.kernels
        pageable = k["host_mem"].eq("pageable") if "host_mem" in k.data else np.zeros(len(self.k_call), bool)
        rows = np.flatnonzero(pageable & (self.k_call >= 0))
        out = set(self.k_call[rows].tolist())
        names = self.view.launches["name"]
        # Once per distinct name, then spread over the calls by their codes.
        sync = np.array([bool(n) and n.lower() in _SYNC_COPIES for n in names.values] + [False])[names.codes]
        out |= set(np.flatnonzero(sync).tolist())
        return out

    def _attach_orphans(self) -> tuple[dict[int, list[int]], list[int]]:
        """Each orphan goes into its stream's queue right before the next linked activity there;
        those with none after them on their stream (the tail) in stream order."""
        attached: dict[int, list[int]] = {}
        order = self.stream_order
        orphan = self.k_call[order] < 0
        if not orphan.any():  # the usual trace: every activity has its launch call
            return attached, []
        linked_at = np.flatnonzero(~orphan)  # positions in stream order
        at = np.flatnonzero(orphan)
        nxt = np.searchsorted(linked_at, at)  # the next linked position after each orphan
        q = linked_at[np.minimum(nxt, max(len(linked_at) - 1, 0))] if len(linked_at) else np.zeros(len(at), np.int64)
        key = self.k_key[order]
        found = (nxt < len(linked_at)) & (key[q] == key[at])
        tail: list[int] = order[at[~found]].tolist()
        for r, o in zip(order[q[found]].tolist(), order[at[found]].tolist()):
            attached.setdefault(r, []).append(o)
        return attached, tail

    def waits_for(self, j: int) -> np.ndarray:
        """Activities a blocking call was seen waiting for: queued before it returned and done by then."""
        t0, t1 = self.l_ts[j], self.l_end[j]
        before = np.where(self.k_call >= 0, self.k_lts < t0, self.k_ts < t1)
        return np.flatnonzero(before & (self.k_end <= t1))


def _threads(pid: np.ndarray, tid: np.ndarray) -> set[tuple[int, int]]:
    """The distinct (pid, tid) pairs, from one row of each."""
    first = np.unique(thread_index(pid, tid), return_index=True)[1]
    return set(zip(pid[first].tolist(), tid[first].tolist()))


def _graph_members(g: _Graph, region: str | None) -> tuple[dict[int, int], iv.Intervals]:
    """With --cuda-graph: every launch call in a region occurrence after its first -> that first call,
    and the host time the graph replaces (from the first launch call's end to the occurrence's end)."""
    out: dict[int, int] = {}
    lo_c: list[int] = []
    hi_c: list[int] = []
    if region:
        r = g.view.regions
        sel = r["name"].eq(region) & ~r["kind"].eq("gpu_annotation")
        launches = np.isin(g.l_kind, LAUNCH_KINDS)
        for lo, d in zip(r["ts"][sel], r["dur"][sel]):
            inside = np.flatnonzero(launches & (g.l_ts >= lo) & (g.l_ts < lo + d))
            if not len(inside):
                continue
            for j in inside[1:]:
                out[int(j)] = int(inside[0])
            lo_c.append(int(g.l_end[inside[0]]))
            hi_c.append(int(lo + d))
    return out, iv.union(np.array(lo_c, np.int64), np.maximum(np.array(hi_c, np.int64), np.array(lo_c, np.int64)))


def _regions(g: _Graph, names: tuple[str, ...]) -> iv.Intervals:
    """The time inside host regions called any of ``names``."""
    r = g.view.regions
    if not names or not len(r):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sel = np.zeros(len(r), bool)
    for n in names:
        sel |= r["name"].eq(n)
    sel &= ~r["kind"].eq("gpu_annotation")
    return iv.union(r["ts"][sel], (r["ts"] + r["dur"])[sel])


def _fused(g: _Graph, chains: tuple[tuple[str, ...], ...]) -> tuple[set[int], dict[int, int]]:
    """Activities whose launch disappears in a fused chain, and the extra duration of each chain head.

    Chains are runs of neighbours on one stream, all linked to a launch call, matched in stream
    order: at each position the first chain (in the given order) that matches there is fused, and
    the search goes on after it."""
    removed: set[int] = set()
    extra: dict[int, int] = {}
    if not chains or not len(g.stream_order):
        return removed, extra
    col = g.view.kernels["name"]
    index = {v: i for i, v in enumerate(col.values)}
    order = g.stream_order
    codes, key, linked = col.codes[order], g.k_key[order], g.k_call[order] >= 0
    n = len(order)
    match = np.full(n, -1, np.int64)  # the first chain (by its index) that matches at each position
    for c, chain in reversed(list(enumerate(chains))):
        if len(chain) > n or any(name not in index for name in chain):
            continue
        span = n - len(chain) + 1
        ok = np.ones(span, bool)
        for q, name in enumerate(chain):
            ok &= (codes[q:q + span] == index[name]) & linked[q:q + span] & (key[q:q + span] == key[:span])
        match[:span][ok] = c
    free = 0  # the first position not inside a chain already fused
    order_l = order.tolist()
    for i in np.flatnonzero(match >= 0).tolist():
        if i < free:
            continue
        rows = order_l[i:i + len(chains[match[i]])]
        extra[rows[0]] = int(g.k_dur[rows[1:]].sum())
        removed.update(rows[1:])
        free = i + len(rows)
    return removed, extra


class _Cover:
    """Time covered by disjoint sorted intervals before any instant, by bisection: the replay asks
    once per call, so a numpy call each time would cost more than the answer."""

    def __init__(self, ivs: iv.Intervals) -> None:
        self.lo, self.hi = ivs[0].tolist(), ivs[1].tolist()
        self.cum = [0]
        for lo, hi in zip(self.lo, self.hi):
            self.cum.append(self.cum[-1] + hi - lo)

    def before(self, t: int) -> int:
        i = bisect.bisect_right(self.lo, t) - 1
        return 0 if i < 0 else self.cum[i] + min(t, self.hi[i]) - self.lo[i]

    def between(self, a: int, b: int) -> int:
        return self.before(b) - self.before(a) if self.lo else 0

    def between_many(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``between`` for arrays of instants, at once."""
        ivs = (np.array(self.lo, np.int64), np.array(self.hi, np.int64))
        return iv.covered_before(ivs, b) - iv.covered_before(ivs, a)


class _Run:
    """Mutable state of one replay."""

    def __init__(self, g: _Graph, knobs: Knobs, origin: int) -> None:
        self.g, self.k = g, knobs
        n_calls, n_acts = len(g.l_ts), len(g.k_ts)
        self.members, self.captured = _graph_members(g, knobs.cuda_graph)
        self.cover = _Cover(iv.union(np.concatenate([self.captured[0], _regions(g, knobs.offload)[0]]),
                                     np.concatenate([self.captured[1], _regions(g, knobs.offload)[1]])))
        self.async_calls = g.copy_calls if knobs.async_copies and g.launch_cost is not None else set()
        self.removed_acts, self.extra = _fused(g, knobs.fuse)
        self.removed_calls = set(self.members) | {int(g.k_call[r]) for r in self.removed_acts}
        self.origin = origin
        # Python lists while replaying (element writes to numpy arrays cost more); Timeline holds arrays.
        # (the stretches leave arrays of the same values in their place).
        self.cs: Times = [NONE] * n_calls
        self.ce: Times = [NONE] * n_calls
        self.as_: Times = [NONE] * n_acts
        self.ae: Times = [NONE] * n_acts
        self.pred: Times = [-1] * (n_calls + n_acts)
        self.edge = [""] * (n_calls + n_acts)
        self.stream_end: dict[int, tuple[int, int]] = {}  # stream -> (replayed end, activity)
        self.orphans_left = {int(r) for r in np.flatnonzero(g.k_call < 0)}
        self.n_calls = n_calls

    def host_gap(self, a: int, b: int, thread: tuple[int, int] | None = None) -> int:
        """Replayed length of the host time measured in [a, b) on ``thread``: scaled where the thread does
        host work, without what a graph replaces."""
        if b <= a:
            return 0
        gone = self.cover.between(a, b)
        scale = self.k.host_scale if thread is None or thread in self.g.working else 1.0
        return round((b - a - gone) * scale)

    def place(self, r: int, ready: int, pred: int, edge: str, gap: int = 0) -> None:
        """Put activity r on its stream at the earliest time both it and the stream are ready."""
        key = self.g.kkey_l[r]
        s, e_kind, p = ready, edge, pred
        prev = self.stream_end.get(key)
        if prev is not None and prev[0] + gap > s:
            s, e_kind, p = prev[0] + gap, "stream", self.n_calls + prev[1]
        length = round((self.g.kdur_l[r] + self.extra.get(r, 0)) * self.k.device_scale)
        self.as_[r], self.ae[r] = s, s + length
        node = self.n_calls + r
        self.pred[node], self.edge[node] = p, e_kind
        self.stream_end[key] = (s + length, r)

    def timeline(self, host_end: int, host_end_call: int) -> Timeline:
        """The replay's result as arrays."""
        g = self.g
        return Timeline(self.origin, np.asarray(self.cs, np.int64), np.asarray(self.ce, np.int64),
                        np.asarray(self.as_, np.int64), np.asarray(self.ae, np.int64), g.k_key, g.blocking,
                        self.removed_calls, self.removed_acts, np.asarray(self.pred, np.int64), self.edge, host_end,
                        host_end_call)

    def place_orphans(self, rows: list[int]) -> None:
        for r in rows:
            if r in self.orphans_left:
                self.orphans_left.discard(r)
                self.place(r, self.g.kts_l[r], -1, "measured")


def _host_start(run: _Run, j: int) -> tuple[int, int]:
    """Replayed start of call j on its thread, and the call that bound it (-1: the origin)."""
    g = run.g
    t0 = g.ts_l[j]
    call = g.prev_call_l[j]
    if call < 0:
        return run.origin + run.host_gap(run.origin, t0, g.thread_of(j)), -1
    m_end, r_end = g.end_l[call], run.ce[call]
    if t0 >= m_end:
        return r_end + run.host_gap(m_end, t0, g.thread_of(j)), call
    return r_end - (m_end - t0), call  # nested in the previous call (a driver call inside a runtime call)


def _call_end(run: _Run, j: int, start: int) -> tuple[int, int, str]:
    """Replayed end of call j; for a blocking call, the activity it waited for (node id) if that bound it."""
    g, k = run.g, run.k
    d = g.dur_l[j]
    if j in run.async_calls:  # made asynchronous: it costs a launch and never waits
        return start + round(min(d, g.launch_cost or d) * k.launch_scale), -1, ""
    if g.blocking_l[j]:
        rows = g.waits_for(j)
        run.place_orphans([int(r) for r in rows if int(r) in run.orphans_left])
        ae = run.ae
        placed = [r for r in rows.tolist() if ae[r] > NONE]
        end, last = sync_end(g, np.array(placed, np.int64), np.array([ae[r] for r in placed], np.int64), j, start,
                             k.launch_scale)
        return (end, run.n_calls + last, "sync") if last >= 0 else (end, -1, "")
    if j in run.removed_calls:
        return start, -1, ""  # folded into a fused kernel or a graph launch: the call disappears
    scale = k.launch_scale if g.kind_l[j] in API_KINDS else k.host_scale
    return start + round(d * scale), -1, ""


def sync_end(g: _Graph, rows: np.ndarray, ends: np.ndarray, j: int, start: int, launch_scale: float) -> tuple[int, int]:
    """Replayed end of blocking call j, started at ``start``, given the activities it was seen
    waiting for that the replay has placed (``rows``, ending at ``ends``); and the one whose end bound
    it (-1: none did). Both the loop and the stretches end their blocking calls here."""
    if not len(rows):
        return start + round(int(g.l_dur[j]) * launch_scale), -1
    t0, t1 = int(g.l_ts[j]), int(g.l_end[j])
    i = int(np.argmax(ends))  # the first of the latest, in row order
    last, waited = int(rows[i]), int(ends[i])
    rest = t1 - max(t0, int(g.k_end[rows].max()))  # the call's own time once the device was done
    if waited > start:
        return waited + round(rest * launch_scale), last
    return start + round(rest * launch_scale), -1


def _launch_activities(run: _Run, j: int, start: int, end: int) -> None:
    """Place the activities call j started, each after any orphans queued before it on its stream."""
    g = run.g
    head = run.members.get(j)
    for r in g.by_call.get(j, []):
        if r in run.removed_acts:
            continue
        run.place_orphans(g.attached.get(r, []))
        if head is not None:  # a region run as one graph: back to back behind the graph's launch
            run.place(r, run.ce[head], head, "launch")
            continue
        stream_bound = g.kprev_l[r] > g.end_l[j]
        if j in run.async_calls:  # an asynchronous copy can start as soon as its call returns
            ready, gap = end, 0
        elif stream_bound:  # it waited behind its stream: ready once its call returned, then the measured gap
            ready, gap = end, max(g.kts_l[r] - g.kprev_l[r], 0)  # never overlap, even where the trace did
        else:
            lead, fixed = g.lead_l[r], g.lead_fixed_l[r]
            ready, gap = start + (round((lead - fixed) * run.k.launch_scale) + fixed if lead >= 0 else lead), 0
        run.place(r, ready, j, "launch", gap)


_SYNC_COPIES = frozenset({"cudamemcpy", "hipmemcpy", "cumemcpy", "cumemcpydtoh_v2", "cumemcpyhtod_v2"})


def _graph_of(view: View) -> _Graph:
    """The view's static graph, built once per view: a what-if over several knob settings (the fixes
    the report ranks) and the critical path share it."""
    return view.memo("replay_graph", lambda: _Graph(view))


def simulate(view: View, knobs: Knobs | None = None, path: str | None = None) -> Timeline:
    """Replay ``view`` with ``knobs``; with no knob every start and end equals the measured one.

    ``path``: "loop" replays call by call, "stretches" a stretch between blocking calls at a time
    (analyzers/_stretches.py; the same Timeline); by default the stretches where they are long."""
    from . import _stretches

    knobs = knobs or Knobs()
    g = _graph_of(view)
    run = _Run(g, knobs, view.span()[0])
    scaled = _scaled(g, run)
    if path == "stretches" or (path is None and _stretches.worth_it(g, run)):
        _stretches.run_stretches(run, *scaled)
    else:
        _loop(run, *(a.tolist() for a in scaled))
    run.place_orphans(g.tail_orphans + sorted(run.orphans_left))
    _keep_pace(run, scaled[1])
    return run.timeline(*_host_end(run))


def _loop(run: _Run, gap_s: list[int], dur_s: list[int], lead_s: list[int], kdur_s: list[int]) -> None:
    """The replay call by call, in measured order: the reference the stretches must equal."""
    g = run.g
    cs, ce, pred, edge = run.cs, run.ce, run.pred, run.edge
    # The common case inlined (a call after the previous one on its thread, not blocking, not
    # changed by a knob): the loop runs once per runtime call, tens of thousands of times.
    plain, by_call = g.plain_l, g.by_call
    special = run.removed_calls | run.async_calls
    slow_calls = set(run.members) | run.async_calls
    slow_acts = run.removed_acts | set(run.extra) | set(g.attached) | run.orphans_left
    kkey, stream_end, n_calls = g.kkey_l, run.stream_end, run.n_calls
    as_, ae = run.as_, run.ae
    chained, prev_call, bound, sgap = g.chained_l, g.prev_call_l, g.stream_bound_l, g.stream_gap_l
    for j in g.order_l:
        if chained[j]:  # after the previous call on its thread: that one's replayed end plus the scaled gap
            host_pred = prev_call[j]
            start = ce[host_pred] + gap_s[j]
        else:
            start, host_pred = _host_start(run, j)
        if plain[j] and j not in special:
            end, sync_pred, sync_edge = start + dur_s[j], -1, ""
        else:
            end, sync_pred, sync_edge = _call_end(run, j, start)
        cs[j], ce[j] = start, end
        pred[j], edge[j] = (sync_pred, sync_edge) if sync_pred >= 0 else (host_pred, "host" if host_pred >= 0 else "")
        acts = by_call.get(j)
        if acts is None:
            continue
        if j in slow_calls or not slow_acts.isdisjoint(acts):
            _launch_activities(run, j, start, end)
            continue
        for r in acts:  # _launch_activities and _Run.place, inlined for the common case
            if bound[r]:
                ready, gap = end, sgap[r]
            else:
                ready, gap = start + lead_s[r], 0
            key, s, e_kind, p = kkey[r], ready, "launch", j
            last = stream_end.get(key)
            if last is not None and last[0] + gap > s:
                s, e_kind, p = last[0] + gap, "stream", n_calls + last[1]
            e = s + kdur_s[r]
            as_[r], ae[r], pred[n_calls + r], edge[n_calls + r] = s, e, p, e_kind
            stream_end[key] = (e, r)


def _keep_pace(run: _Run, dur_s: np.ndarray) -> None:
    """Re-time each poller call (see _Graph._pollers): as long after the latest call of a working
    thread that had ended before it as measured, with that host time replayed as the working
    thread's (scaled); before any such call, that long after the origin. With no knob every time
    is the measured one."""
    g = run.g
    for j in g.poll_calls:
        t = g.ts_l[j]
        best, anchor = NONE, -1
        for ends, calls, thread in g.work_index:
            i = bisect.bisect_right(ends, t) - 1
            if i < 0:
                continue
            a = calls[i]
            at = run.ce[a] + run.host_gap(ends[i], t, thread)
            if at > best:  # the latest of the working threads sets the pace
                best, anchor = at, a
        if anchor < 0:
            best = run.origin + run.host_gap(run.origin, t)
        run.cs[j], run.ce[j] = best, best + int(dur_s[j])  # the call itself, scaled as any call's
        run.pred[j], run.edge[j] = anchor, "host" if anchor >= 0 else ""


def _scaled(g: _Graph, run: _Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This replay's costs, scaled once for all rows (the loop then only adds): each chained call's
    host gap before it, each call's duration, each activity's launch lead and duration. Rounded as
    Python's round() rounds (half to even), so the inlined path equals _host_start/_call_end/place."""
    k = run.k
    prev = np.maximum(g.prev_call, 0)
    m_end = g.l_end[prev] if len(prev) else np.zeros(0, np.int64)
    raw_gap = g.l_ts - m_end - run.cover.between_many(m_end, g.l_ts)
    gap = np.where(g.chained, np.round(raw_gap * np.where(g.on_working, k.host_scale, 1.0)), 0).astype(np.int64)
    dur = np.round(g.l_dur * np.where(g.api, k.launch_scale, k.host_scale)).astype(np.int64)
    lead = np.where(g.lead >= 0, np.round((g.lead - g.lead_fixed) * k.launch_scale) + g.lead_fixed, g.lead).astype(np.int64)
    kdur = np.round(g.k_dur * k.device_scale).astype(np.int64)
    return gap, dur, lead, kdur


def _host_end(run: _Run) -> tuple[int, int]:
    """Replayed end of the host side (the measured host tail after each thread's last call, scaled),
    and the call it follows (-1: no call)."""
    ops, origin = run.g.view.ops, run.origin
    host = run.g.view.bounding_ops()
    m_end = int((ops["ts"] + ops["dur"])[host].max()) if host.any() else origin
    g = run.g
    # A poller's last call ends where it was re-timed: the tail after it belongs to the working threads.
    ends = [(run.ce[call] + (0 if thread in g.poll_threads else run.host_gap(g.end_l[call], m_end, thread)), call)
            for thread, call in g.last_call.items()]
    end, call = max(ends, key=lambda e: (e[0], -e[1])) if ends else (origin + run.host_gap(origin, m_end), -1)
    return int(end), call


def host_map(tl: Timeline, g_ts: np.ndarray, g_end: np.ndarray, t: np.ndarray, host_scale: float,
             order: np.ndarray | None = None) -> np.ndarray:
    """Replayed time of measured host instants ``t``: after the latest call that ended before, shifted as it was.
    ``order``: the calls by measured end (np.argsort(g_end, kind="stable")), where the caller has it."""
    if not len(g_end):
        return tl.origin + np.round((t - tl.origin) * host_scale).astype(np.int64)
    if order is None:
        order = np.argsort(g_end, kind="stable")
    shift = np.maximum.accumulate(tl.call_end[order] - np.round(g_end[order] * host_scale))
    i = np.searchsorted(g_end[order], t, side="right") - 1
    base = tl.origin + np.round((t - tl.origin) * host_scale)
    return np.where(i >= 0, np.maximum(shift[np.maximum(i, 0)] + np.round(t * host_scale), base), base).astype(np.int64)
