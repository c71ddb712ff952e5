"""Hand-built traces with answers worked out on paper (see tests/kineto.py:linking_trace).

Host thread 100/100, times in µs in the trace, ns in the tables:
  ProfilerStep#1 [0,190) > aten::linear [0,100) > aten::addmm [10,60)
  ProfilerStep#1 > skiprof:preprocess [150,180);  ProfilerStep#1 > aten::empty @185 (no dur)
Launch calls: cudaLaunchKernel@20 (corr 11, inside addmm), cudaMemcpyAsync@70 (corr 12, inside linear
only), cudaLaunchKernel@90 (corr 14 only via flow, inside linear), cudaGraphLaunch@160 (corr 13, inside
the preprocess annotation but no cpu_op).
Device (pid 0): early_kernel@-10 corr 5 (older than any call: before_window), gemm@40 (11),
memcpy@80 (12), tail@95 (14 via flow), graph_k0/1/2 (13, three kernels from one graph launch).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import skiprof
from kineto import HOST_PID, linking_trace, write_trace
from skiprof.commands.import_ import run_import


def _import(tmp_path: Path, events: list[dict], name: str = "t", **kw) -> skiprof.Trace:
    src = write_trace(tmp_path / f"{name}.json.gz", events, **kw)
    run_import([src], tmp_path / f"{name}.out", force=False)
    return skiprof.load(tmp_path / f"{name}.out")


@pytest.fixture
def linked(tmp_path: Path) -> skiprof.Trace:
    return _import(tmp_path, linking_trace())


def test_ops_nesting(linked: skiprof.Trace) -> None:
    ops = linked.ops
    assert ops["name"].tolist() == ["ProfilerStep#1", "aten::linear", "aten::addmm", "skiprof:preprocess", "aten::empty"]
    assert ops["op_id"].tolist() == [0, 1, 2, 3, 4]
    assert ops["parent"].tolist() == [-1, 0, 1, 0, 0]
    assert ops["depth"].tolist() == [0, 1, 2, 1, 1]
    assert ops["cpu_parent"].tolist() == [-1, -1, 1, -1, -1]
    assert ops["ts"].tolist() == [0, 0, 10_000, 150_000, 185_000]
    assert ops["dur"].tolist() == [190_000, 100_000, 50_000, 30_000, 0]
    assert ops["external_id"].tolist() == [-1, 1, 2, -1, -1]
    assert ops["input_dims"].tolist()[2] == "[[16,64],[64,8]]"
    assert ops["pid"].unique().tolist() == [HOST_PID]


def test_launch_to_op(linked: skiprof.Trace) -> None:
    la = linked.launches
    assert la["name"].tolist() == ["cudaLaunchKernel", "cudaMemcpyAsync", "cudaLaunchKernel", "cudaGraphLaunch"]
    assert la["kind"].tolist() == ["launch", "memcpy", "launch", "graph"]
    assert la["correlation"].tolist() == [11, 12, 14, 13]
    assert la["op_id"].tolist() == [2, 1, 1, 3]  # graph launch: no cpu_op, falls back to the annotation
    assert la["top_op_id"].tolist() == [1, 1, 1, 0]


def test_kernel_to_launch_and_ops(linked: skiprof.Trace) -> None:
    k = linked.kernels.set_index("name")
    assert linked.kernels["name"].tolist() == [
        "early_kernel", "gemm_kernel", "Memcpy HtoD (Pageable -> Device)", "tail_kernel",
        "graph_k0", "graph_k1", "graph_k2"]
    assert k.loc["gemm_kernel", "launch_id"] == 0
    assert k.loc["gemm_kernel", "launch_ts"] == 20_000
    assert k.loc["gemm_kernel", "launch_dur"] == 10_000
    assert k.loc["gemm_kernel", "op_name"] == "aten::addmm"
    assert k.loc["gemm_kernel", "top_op_name"] == "aten::linear"
    assert k.loc["gemm_kernel", "host_pid"] == HOST_PID
    memcpy = k.loc["Memcpy HtoD (Pageable -> Device)"]
    assert (memcpy["kind"], memcpy["copy_kind"], memcpy["host_mem"], memcpy["bytes"]) == ("memcpy", "HtoD", "pageable", 4096)
    assert memcpy["op_name"] == "aten::linear"
    assert k.loc["tail_kernel", "correlation"] == 14  # from the flow event
    assert k.loc["tail_kernel", "launch_id"] == 2
    for g in ("graph_k0", "graph_k1", "graph_k2"):
        assert k.loc[g, "launch_name"] == "cudaGraphLaunch"
        assert k.loc[g, "op_name"] == "skiprof:preprocess"
        assert k.loc[g, "top_op_name"] == "ProfilerStep#1"
    assert k.loc["graph_k2", "stream"] == 9
    early = k.loc["early_kernel"]
    assert early["launch_id"] == -1 and early["orphan_reason"] == "before_window"
    assert early["ts"] == -10_000
    assert k["orphan_reason"].isna().sum() == 6


def test_stats_and_regions(linked: skiprof.Trace) -> None:
    s = linked.meta.rank_stats(0)
    assert (s.device_activities, s.linked_to_launch, s.linked_to_op, s.orphans, s.orphans_before_window) == (7, 6, 6, 1, 1)
    assert s.events_without_dur == 1
    assert s.ignored_events == {"i:cpu_instant_event": 1}
    assert s.activities_by_kind == {"kernel": 6, "memcpy": 1}
    assert linked.meta.process_names["0"][str(HOST_PID)] == "python"
    r = linked.regions
    assert r[["name", "kind", "step"]].values.tolist() == [["ProfilerStep#1", "step", 1], ["preprocess", "skiprof", -1]]
    assert r["op_id"].tolist() == [0, 3]


def _shift(events: list[dict], fn) -> list[dict]:
    out = []
    for e in events:
        e = dict(e)
        if "ts" in e:
            e["ts"] = fn(e["ts"])
        out.append(e)
    return out


def test_float_microseconds_keep_nanoseconds(tmp_path: Path) -> None:
    t = _import(tmp_path, _shift(linking_trace(), lambda ts: ts + 0.257))
    assert t.ops["ts"].tolist() == [257, 257, 10_257, 150_257, 185_257]
    assert t.kernels.set_index("name").loc["gemm_kernel", "launch_id"] == 0


def test_epoch_float_timestamps_are_exact(tmp_path: Path) -> None:
    # 1.7e15 µs with a decimal cannot be held exactly by a float64: the exact path must kick in.
    base = 1712195495519695
    t = _import(tmp_path, _shift(linking_trace(), lambda ts: base + ts + 0.8))
    assert t.ops["ts"].tolist()[:3] == [(base + 0) * 1000 + 800, (base + 0) * 1000 + 800, (base + 10) * 1000 + 800]
    assert t.kernels["launch_id"].tolist() == [-1, 0, 1, 2, 3, 3, 3]


def test_string_pids_and_tids(tmp_path: Path) -> None:
    events = []
    for e in linking_trace():
        e = dict(e)
        if e.get("pid") == HOST_PID:
            e["pid"], e["tid"] = str(HOST_PID), str(e["tid"])
        events.append(e)
    t = _import(tmp_path, events)
    assert t.ops["pid"].unique().tolist() == [HOST_PID]
    assert t.kernels["op_id"].tolist() == [-1, 2, 1, 1, 3, 3, 3]


def test_compact_single_line_layout(tmp_path: Path) -> None:
    t = _import(tmp_path, linking_trace(), compact=True)
    assert t.kernels["op_id"].tolist() == [-1, 2, 1, 1, 3, 3, 3]


def test_hip_names_link_like_cuda(tmp_path: Path) -> None:
    events = [
        op("aten::mm", 0, 50),
        runtime("hipExtModuleLaunchKernel", 5, 3, 21),
        runtime("hipModuleLaunchKernel", 10, 3, 22),
        runtime("hipMemcpyWithStream", 20, 3, 23),
        kernel("Cijk_gemm", 30, 5, 21),
        kernel("triton_poi", 36, 5, 22),
        kernel("CopyHostToDevice", 42, 5, 23, cat="gpu_memcpy"),
    ]
    t = _import(tmp_path, events)
    assert t.launches["kind"].tolist() == ["launch", "launch", "memcpy"]
    assert t.kernels["launch_id"].tolist() == [0, 1, 2]
    assert t.kernels["op_name"].tolist() == ["aten::mm"] * 3
    assert t.kernels["copy_kind"].tolist()[2] == "HtoD"


def test_chunked_decoding_matches_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skiprof.ingest import _stream

    events = []
    for i in range(400):  # 400 ops, each launching one kernel
        t0 = i * 100
        events += [op(f"aten::op{i % 7}", t0, 50), runtime("cudaLaunchKernel", t0 + 10, 5, 1000 + i),
                   kernel(f"k{i % 5}", t0 + 30, 10, 1000 + i)]
    whole = _import(tmp_path, events, name="whole")
    monkeypatch.setattr(_stream, "_PIECE", 1500)
    monkeypatch.setattr(_stream, "_READ", 700)
    pieces = _import(tmp_path, events, name="pieces")
    for name in ("ops", "launches", "kernels"):
        assert whole.frame(name).equals(pieces.frame(name)), name
    assert pieces.meta.rank_stats(0).linked_to_op == 400


def test_cpu_only_trace(tmp_path: Path) -> None:
    t = _import(tmp_path, [op("aten::add", 0, 10), op("aten::mul", 20, 10)])
    assert len(t.kernels) == 0 and len(t.launches) == 0
    assert list(t.kernels.columns)[:3] == ["rank", "pid", "tid"]
    assert t.meta.rank_stats(0).device_activities == 0


def test_counter_events_become_counters(tmp_path: Path) -> None:
    events = [op("aten::add", 0, 10),
              {"ph": "C", "name": "skiprof.nvml", "pid": "GPU 0", "tid": 0, "ts": 5,
               "args": {"device": 0, "gpu_util_pct": 50, "power_w": 120.5}}]
    t = _import(tmp_path, events)
    c = t.counters.sort_values("name")
    assert c[["name", "value", "device", "ts"]].values.tolist() == [["gpu_util_pct", 50.0, 0, 5000], ["power_w", 120.5, 0, 5000]]


from kineto import kernel, op, runtime  # noqa: E402


def test_odd_values_are_coerced_not_fatal(tmp_path: Path) -> None:
    # A string timestamp, a numeric name and an escaped name force the lenient paths.
    events = [
        op("aten::mm", 0, 50),
        {"ph": "X", "cat": "cpu_op", "name": 12345, "pid": HOST_PID, "tid": HOST_PID, "ts": "60", "dur": 5},
        op('say "hi"\\n', 70, 5),
        runtime("cudaLaunchKernel", 10, 3, 31),
        kernel("k", 20, 5, 31),
    ]
    t = _import(tmp_path, events)
    assert t.ops["name"].tolist() == ["aten::mm", "12345", 'say "hi"\\n']
    assert t.ops["ts"].tolist() == [0, 60_000, 70_000]
    assert t.kernels["op_name"].tolist() == ["aten::mm"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(0, 10), st.booleans()), min_size=1, max_size=60))
def test_nesting_depth_by_search_equals_the_sweep(rows: list[tuple[int, int, int, bool]]) -> None:
    """The depth nest() computes by binary search equals the boundary sweep it replaced, on intervals
    with ties, back-to-back siblings and zero-length ones (sorted by thread, start, longest first)."""
    import numpy as np

    from skiprof.ingest._link import _depth, _depth_by_sweep

    thread = np.array([r[0] for r in rows], np.int64)
    ts = np.array([r[1] for r in rows], np.int64)
    dur = np.array([r[2] if r[3] else 0 for r in rows], np.int64)
    order = np.lexsort((-dur, ts, thread))
    thread, ts, dur = thread[order], ts[order], dur[order]
    assert np.array_equal(_depth(thread, ts, dur), _depth_by_sweep(thread, ts, dur))


@given(st.lists(st.integers(-(2**40), 2**40), max_size=600), st.integers(1, 4))
@settings(max_examples=80, deadline=None)
def test_dense_ids_are_the_rows_places_among_the_sorted_distinct_values(values: list[int], spread: int) -> None:
    """dense_ids (threads numbered by a sampled search) equals np.unique's inverse, also where a
    value occurs once among hundreds of rows and the sample misses it."""
    import numpy as np

    from skiprof.ingest._link import dense_ids, thread_index

    key = np.array(values * spread, np.int64)
    _, inverse = np.unique(key, return_inverse=True)
    assert dense_ids(key).tolist() == inverse.reshape(-1).tolist()
    pid, tid = key >> 20, key & 0xFFFFF
    _, rows = np.unique(np.stack([pid, tid], axis=1), axis=0, return_inverse=True)
    assert thread_index(pid, tid).tolist() == rows.reshape(-1).tolist()
