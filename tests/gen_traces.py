"""Hypothesis strategies for whole Kineto traces that are consistent the way a real one is.

A generated trace is simulated forward: host threads run ops (some nested) that make runtime calls
(kernel launches, graph launches of several kernels, async copies, blocking synchronizations; some
activities held back well after their call, as by a dependency on another device), a
thread may only poll (event queries, as NCCL's watchdog),
and the device runs each stream first in, first out, an activity starting no earlier than its
call. Some activities were queued before recording began (orphans with older correlation ids).
Times are whole µs, as Kineto writes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from kineto import HOST_PID, kernel, op, runtime

CALLS = ("launch", "launch", "launch", "graph", "copy", "sync", "stream_sync")


@dataclass
class _State:
    events: list[dict[str, Any]] = field(default_factory=list)
    stream_end: dict[int, int] = field(default_factory=dict)
    corr: int = 1000
    device_done: int = 0
    memory: int = 0


def _place(s: _State, name: str, stream: int, ready: int, dur: int, corr: int | None, cat: str = "kernel") -> int:
    start = max(ready, s.stream_end.get(stream, 0))
    s.stream_end[stream] = start + dur
    s.device_done = max(s.device_done, start + dur)
    extra = {"nbytes": dur * 1000} if cat == "gpu_memcpy" else {}
    s.events.append(kernel(name, start, dur, corr, cat=cat, stream=stream, **extra))
    return start + dur


def _call(s: _State, draw: Any, kind: str, t: int, tid: int, streams: list[int]) -> int:
    """One runtime call at host time t on thread tid; returns when the call returns."""
    stream = draw(st.sampled_from(streams))
    s.corr += 1
    dur = draw(st.integers(2, 12))
    if kind in ("sync", "stream_sync"):
        name = "cudaDeviceSynchronize" if kind == "sync" else "cudaStreamSynchronize"
        end = max(t + dur, s.device_done + 1)
        s.events.append(runtime(name, t, end - t, s.corr, tid=tid))
        return end
    # Mostly the launch path's few µs; sometimes held back far longer, as behind another device's event.
    lead = draw(st.integers(1, 40) | st.integers(60, 300))
    if kind == "graph":
        s.events.append(runtime("cudaGraphLaunch", t, dur, s.corr, tid=tid))
        ready = t + dur + lead
        for i in range(draw(st.integers(2, 4))):
            ready = _place(s, f"graph_k{i}", stream, ready, draw(st.integers(1, 30)), s.corr)
    elif kind == "copy":
        s.events.append(runtime("cudaMemcpyAsync", t, dur, s.corr, tid=tid))
        source = draw(st.sampled_from(["Pinned", "Pageable"]))  # pageable copies are what --async-copies changes
        _place(s, f"Memcpy HtoD ({source} -> Device)", stream, t + lead, draw(st.integers(1, 30)), s.corr, "gpu_memcpy")
    else:
        s.events.append(runtime("cudaLaunchKernel", t, dur, s.corr, tid=tid))
        _place(s, draw(st.sampled_from(["gemm", "relu", "add", "softmax"])), stream, t + lead, draw(st.integers(1, 60)), s.corr)
    return t + dur


def _thread(s: _State, draw: Any, tid: int, streams: list[int], start: int, calls: bool = True) -> None:
    t = start
    for i in range(draw(st.integers(1, 8))):
        op_start = t + draw(st.integers(0, 30))
        inner = op_start + draw(st.integers(1, 5))
        nested = draw(st.booleans())
        child_start = inner
        for _ in range(draw(st.integers(0, 3)) if calls else 0):
            inner = _call(s, draw, draw(st.sampled_from(CALLS)), inner + draw(st.integers(0, 5)), tid, streams)
        end = inner + draw(st.integers(1, 10))
        s.events.append(op(f"aten::op{draw(st.integers(0, 3))}", op_start, end - op_start, tid=tid))
        if nested and end - child_start > 2:
            s.events.append(op("aten::inner", child_start - 1 if child_start > op_start else op_start, 1, tid=tid))
        t = end
        if i == 0 and draw(st.booleans()):
            s.events.append(op("skiprof:compute", op_start, end - op_start, cat="user_annotation", tid=tid))
        if draw(st.booleans()):  # an allocation inside the op, as profile_memory records it
            size = draw(st.integers(1, 1 << 20))
            s.memory += size
            s.events.append({"ph": "i", "cat": "cpu_instant_event", "name": "[memory]", "s": "t", "pid": HOST_PID,
                             "tid": tid, "ts": op_start, "args": {"Bytes": size, "Total Allocated": s.memory,
                                                                   "Total Reserved": 0, "Device Id": -1, "Device Type": 0}})


@st.composite
def traces(draw: Any) -> list[dict[str, Any]]:
    """A consistent Kineto event list (host threads, streams, graphs, copies, syncs, orphans, a poller)."""
    s = _State()
    streams = draw(st.lists(st.sampled_from([7, 9, 11]), min_size=1, max_size=3, unique=True))
    for i in range(draw(st.integers(0, 3))):  # queued before recording began: older correlation ids
        _place(s, f"early{i}", streams[0], draw(st.integers(0, 20)), draw(st.integers(1, 50)), 10 + i)
    # One thread launches (a stream's order is then its launch order, as on a real GPU); a second,
    # when drawn, only runs host ops, as a data-loading thread does.
    _thread(s, draw, HOST_PID, streams, draw(st.integers(0, 50)))
    if draw(st.booleans()):
        _thread(s, draw, HOST_PID + 1, streams, draw(st.integers(0, 50)), calls=False)
    if draw(st.booleans()):  # a poller, as NCCL's watchdog: event queries on a clock, no ops, no work
        end = max([e["ts"] + e.get("dur", 0) for e in s.events] + [1])
        for t in sorted(draw(st.lists(st.integers(0, end + 50), min_size=1, max_size=6, unique=True))):
            s.corr += 1
            s.events.append(runtime("cudaEventQuery", t, 1, s.corr, tid=HOST_PID + 2))
    if draw(st.booleans()):
        end = max([e["ts"] + e.get("dur", 0) for e in s.events] + [1])
        s.events.append(op("ProfilerStep#0", 0, end // 2 + 1, cat="user_annotation"))
        s.events.append(op("ProfilerStep#1", end // 2 + 1, end - end // 2, cat="user_annotation"))
    return s.events
