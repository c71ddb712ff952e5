"""What-if replay: re-run the trace's host and device timeline with changed costs.

A discrete-event replay of one rank (docs/metrics.md, "What-if"). Each host thread issues its
runtime calls in order, separated by the host work measured between them; streams run device
work first in, first out; synchronization calls block their thread until the device work
launched before them is done. Every cost comes from the trace. Knobs scale launch calls, host
work and device work, fuse kernel chains into one launch, or turn a region's launches into one
CUDA-graph launch. With no knob the replay reproduces the measured timeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _intervals as iv
from ._view import View
from .boundness import label
from .launch import activity_columns, summary

__all__ = ["Knobs", "Prediction", "replay"]

_API = ("launch", "graph", "memcpy", "memset")


@dataclass(frozen=True)
class Knobs:
    """What to change. Scales multiply costs; fuse lists kernel-name chains; cuda_graph names a region."""

    launch_scale: float = 1.0
    host_scale: float = 1.0
    device_scale: float = 1.0
    fuse: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    cuda_graph: str | None = None


@dataclass(frozen=True)
class Prediction:
    """Predicted latency, GPU busy/idle and boundness next to the measured ones (ns)."""

    il_ns: int
    gpu_busy_ns: int
    gpu_idle_ns: int
    boundness: str
    measured_il_ns: int
    measured_gpu_idle_ns: int
    measured_boundness: str
    removed_launches: int

    @property
    def il_change(self) -> float:
        """Predicted / measured latency - 1."""
        return self.il_ns / self.measured_il_ns - 1 if self.measured_il_ns else 0.0


def _fused_members(per: dict[str, Any], chains: tuple[tuple[str, ...], ...]) -> tuple[set[int], dict[int, int]]:
    """Activities whose launch disappears, and extra duration for each chain head (kernel_id -> ns)."""
    removed: set[int] = set()
    extra: dict[int, int] = {}
    if not chains:
        return removed, extra
    names = per["name"].tolist()
    ids, dur = per["kernel_id"], per["dur"]
    key = per["device"].astype(np.int64) * (1 << 32) + per["stream"].astype(np.int64)
    i, n = 0, len(names)
    while i < n:  # per_activity is sorted by device, stream, ts: chains are runs of neighbours
        for chain in chains:
            L = len(chain)
            if i + L <= n and tuple(names[i:i + L]) == chain and (key[i:i + L] == key[i]).all() \
                    and all(int(ids[j]) not in removed for j in range(i, i + L)):
                extra[int(ids[i])] = int(dur[i + 1:i + L].sum())
                removed.update(int(ids[j]) for j in range(i + 1, i + L))
                i += L - 1
                break
        i += 1
    return removed, extra


def replay(view: View, knobs: Knobs = Knobs()) -> Prediction:
    """Replay ``view`` with ``knobs``; the measured figures come from launch.summary."""
    per = activity_columns(view)
    measured = summary(view, per)
    la = view.launches
    k = view.kernels
    origin = measured.il_start_ns
    # Device activities by launch, in their order on the device.
    by_launch: dict[int, list[int]] = {}
    for row, lid in enumerate(per["launch_id"]):
        by_launch.setdefault(int(lid), []).append(row)
    kid, ts, dur = per["kernel_id"], per["ts"], per["dur"]
    stream_key = per["device"].astype(np.int64) * (1 << 32) + per["stream"].astype(np.int64)
    launch_end_m = per["launch_end"]
    prev_m = per["prev_end_on_stream"]
    stream_bound = prev_m > launch_end_m
    # Offsets that make the identity replay exact: from the launch's end when the launch was the
    # later constraint, from the previous activity's end on the stream otherwise.
    after_launch = np.where(stream_bound, 0, ts - launch_end_m)
    after_prev = np.where(stream_bound, ts - prev_m, 0)
    removed_k, extra_dur = _fused_members(per, knobs.fuse)
    # CUDA graph: every launch call inside a region occurrence after its first becomes part of it.
    graph_of: dict[int, int] = {}
    if knobs.cuda_graph:
        r = view.regions
        sel = r["name"].eq(knobs.cuda_graph) & ~r["kind"].eq("gpu_annotation")
        for lo, d in zip(r["ts"][sel], r["dur"][sel]):
            inside = np.flatnonzero(la["kind"].isin(("launch", "graph")) & (la["ts"] >= lo) & (la["ts"] < lo + d))
            for j in inside[1:]:
                graph_of[int(la["launch_id"][j])] = int(la["launch_id"][inside[0]])
    removed_launch = set(graph_of)
    for row in range(len(kid)):
        if int(kid[row]) in removed_k:
            removed_launch.add(int(per["launch_id"][row]))
    # Sync calls: split into the wait for device work launched before them and the rest.
    l_ts, l_dur, l_kind = la["ts"], la["dur"], la["kind"]
    kinds = l_kind.tolist()
    names = la["name"].tolist()
    # Calls that block their thread until the device catches up; cudaStreamWaitEvent does not.
    blocking = np.array([("synchroniz" in n.lower() or n in ("cudaMemcpy", "hipMemcpy")) for n in names], bool)
    # A blocking call waited for the last device activity that was launched before it and had
    # finished by the time it returned (on its own stream, or everything, the trace does not say).
    end_m = ts + dur
    waits_for: dict[int, tuple[int, int]] = {}  # call -> (activity row or -1, time after that activity)
    for j in np.flatnonzero(blocking):
        t0, t1 = int(l_ts[j]), int(l_ts[j] + l_dur[j])
        cand = np.flatnonzero((per["launch_ts"] < t0) & (end_m <= t1))
        row = int(cand[np.argmax(end_m[cand])]) if len(cand) else -1
        waits_for[int(j)] = (row, t1 - max(t0, int(end_m[row])) if row >= 0 else t1 - t0)

    host_end: dict[tuple[int, int], tuple[int, int, int]] = {}  # thread -> (measured start, measured end, replayed end)
    new_launch_end: dict[int, int] = {}
    stream_end: dict[int, int] = {}
    dev_done = -(1 << 62)
    starts_r: dict[int, int] = {}
    ends_r: dict[int, int] = {}
    q_total = lq_total = 0
    for j in np.argsort(l_ts, kind="stable"):  # all threads, in measured time order
        j = int(j)
        thread = (int(la["pid"][j]), int(la["tid"][j]))
        t0, d = int(l_ts[j]), int(l_dur[j])
        lid = int(la["launch_id"][j])
        kind = kinds[j]
        prev = host_end.get(thread)
        if prev is None:
            start = origin + round((t0 - origin) * knobs.host_scale)
        elif t0 >= prev[1]:
            start = prev[2] + round((t0 - prev[1]) * knobs.host_scale)
        else:  # nested in the previous call (a driver call inside a runtime call)
            start = prev[2] - (prev[1] - t0)
        if blocking[j]:
            row, rest = waits_for[j]
            waited = ends_r.get(row, dev_done) if row >= 0 else start
            end = max(start, waited) + round(rest * knobs.launch_scale)
        elif lid in removed_launch:
            end = start  # folded into a fused kernel or a graph launch: the call disappears
        elif kind in _API:
            end = start + round(d * knobs.launch_scale)
        else:
            end = start + round(d * knobs.host_scale)
        host_end[thread] = (t0, t0 + d, end)
        new_launch_end[lid] = end
        for row in by_launch.get(lid, []):
            if int(kid[row]) in removed_k:
                continue
            anchor = new_launch_end[graph_of[lid]] if lid in graph_of else end
            s_key = int(stream_key[row])
            a = 0 if lid in graph_of else int(after_launch[row]) * knobs.launch_scale
            b = 0 if lid in graph_of else int(after_prev[row])
            ready = anchor + round(a)
            s = max(ready, stream_end.get(s_key, -(1 << 62)) + b) if s_key in stream_end else ready
            length = round((int(dur[row]) + extra_dur.get(int(kid[row]), 0)) * knobs.device_scale)
            starts_r[row], ends_r[row] = s, s + length
            stream_end[s_key] = s + length
            dev_done = max(dev_done, s + length)
            lq = max(0, s - start)
            lq_total += lq
            q_total += 0 if s <= ready else min(s - ready, lq)
    # Activities without a launch stay where they were.
    orphan = k["launch_id"] < 0
    seg_s = np.concatenate([np.array(list(starts_r.values()), np.int64), k["ts"][orphan]])
    seg_e = np.concatenate([np.array(list(ends_r.values()), np.int64), (k["ts"] + k["dur"])[orphan]])
    if len(seg_e):
        il_end = int(seg_e.max())
        il = il_end - origin
    else:  # CPU-only: all of the latency is host work
        il = round(measured.il_ns * knobs.host_scale)
        il_end = origin + il
    busy = iv.total(iv.clip(iv.union(seg_s, seg_e), origin, il_end))
    qs = q_total / lq_total if lq_total else 0.0
    m_qs = measured.queue_ns / measured.tklqt_ns if measured.tklqt_ns else 0.0
    return Prediction(
        il_ns=il, gpu_busy_ns=busy, gpu_idle_ns=il - busy,
        boundness=label(qs, (il - busy) / il if il else 0.0, measured.kernels - len(removed_k)),
        measured_il_ns=measured.il_ns, measured_gpu_idle_ns=measured.gpu_idle_ns,
        measured_boundness=label(m_qs, measured.gpu_idle_ns / measured.il_ns if measured.il_ns else 0.0, measured.kernels),
        removed_launches=len(removed_launch),
    )
