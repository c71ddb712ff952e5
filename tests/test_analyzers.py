"""Analyzers on hand-built traces whose answers were worked out on paper (times below in µs).

1. CPU-bound chain: steps [0,200) and [200,400); op i at 100i (50 long) calls cudaLaunchKernel at
   100i+10 (10 long); its kernel runs at 100i+25 for 5. launch_queue = 15, queue = 0 (the stream is
   empty), launch = 15. TKLQT = 4*15 = 60; AKD = 5; IL = 0..350 (the last op ends at 350; steps only
   mark time and do not bound the scope) = 350; busy = 20; idle = 330; HTA delay = 4*5. Step 0 [0,200): kernels at 25 and 125 ran in it, busy 10;
   its idle 190 is 10 of launched work on its way ([20,25) and [120,125)) and 180 with nothing
   launched: cpu-bound at idle share 0.95. Step 1 ends where the records do, at 350: [200,350),
   busy 10, idle 140 (10 launched work on its way, 130 nothing launched).
2. GPU-bound queue: op i at 10i (8 long), launch at 10i+1 (2 long); kernels of 50 run back to back
   from 5. launch_queue = 4, 44, 84, 124 (TKLQT 256); queue = 0, 42, 82, 122 (246); launch = 10.
   IL = 0..205; busy 200.
3. Two streams: op [0,50); launch A at 10 (ends 20) -> stream 7 [100,200); launch B at 30 (ends 40)
   -> stream 9 [150,250). Busy = union = 150, not 200; no queue (different streams); TKLQT 90+120.
4. Pipeline: preprocess region [0,100); aten::to [100,130) with cudaMemcpyAsync at 105 (20 long) ->
   HtoD pinned copy [110,150) of 4e6 bytes; aten::linear [130,160) launches at 135 -> kernel
   [150,200); postprocess region [200,220) with aten::argmax [200,210).
   Phases: preprocessing 100, data_movement 50 ([100,150)), compute 50, postprocessing 20, idle 0.
   Copy speed 4e6 B / 40 µs = 100 GB/s.
5. CUDA graph: op [0,40); cudaGraphLaunch at 5 (ends 15) -> kernels [20,30), [30,40), [40,50) on one
   stream. Only the first carries the call's wait: launch_queue 15, 0, 0 (TKLQT 15); queue 0; launch
   15, 0, 0; the other two are graph members (2 activities, 20 of device time); 1 launch per op.
6. Graph beside ordinary launches: the graph of 5, then op j [40+20j, 48+20j) launching at
   41+20j (4 long) kernel k_j at 50, 70, 90 (5 long) on the same stream. k0 waits 9 from its launch,
   5 of it behind g2 (which ends at 50, 5 after k0's call ended): queue 5, launch 4. k1, k2: 9 each,
   stream empty: launch 9. TKLQT = 15 + 9 + 9 + 9 = 42 (queue 5, launch 37); the per-kernel rule
   applied to the graph's members as well would have added 25 + 35. Busy = [20,55) + 5 + 5 = 45;
   IL = 0..95.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import skiprof
from conftest import reseal
from kineto import kernel, op, runtime, write_trace
from skiprof.analyzers import boundness, breakdown, hta, kernels, launch, select
from skiprof.commands.import_ import run_import

US = 1000  # ns per µs


def _load(tmp_path: Path, events: list[dict], name: str = "t") -> skiprof.Trace:
    src = write_trace(tmp_path / f"{name}.json", events)
    run_import([src], tmp_path / name, force=False)
    return skiprof.load(tmp_path / name)


def cpu_bound() -> list[dict]:
    ev = [op("ProfilerStep#0", 0, 200, cat="user_annotation"), op("ProfilerStep#1", 200, 200, cat="user_annotation")]
    for i in range(4):
        t0 = 100 * i
        ev += [op(f"aten::op{i}", t0, 50), runtime("cudaLaunchKernel", t0 + 10, 10, 10 + i), kernel(f"k{i}", t0 + 25, 5, 10 + i)]
    return ev


def gpu_bound() -> list[dict]:
    ev = []
    for i in range(4):
        ev += [op("aten::mm", 10 * i, 8), runtime("cudaLaunchKernel", 10 * i + 1, 2, 20 + i), kernel("gemm", 5 + 50 * i, 50, 20 + i)]
    return ev


def two_streams() -> list[dict]:
    return [op("aten::add", 0, 50), runtime("cudaLaunchKernel", 10, 10, 31), runtime("cudaLaunchKernel", 30, 10, 32),
            kernel("A", 100, 100, 31, stream=7), kernel("B", 150, 100, 32, stream=9)]


def pipeline() -> list[dict]:
    return [
        op("skiprof:preprocess", 0, 100, cat="user_annotation"),
        op("aten::to", 100, 30), runtime("cudaMemcpyAsync", 105, 20, 41),
        kernel("Memcpy HtoD (Pinned -> Device)", 110, 40, 41, cat="gpu_memcpy", nbytes=4_000_000),
        op("aten::linear", 130, 30), runtime("cudaLaunchKernel", 135, 5, 42), kernel("gemm", 150, 50, 42),
        op("skiprof:postprocess", 200, 20, cat="user_annotation"), op("aten::argmax", 200, 10),
    ]


def graph() -> list[dict]:
    return [op("aten::graph_replay", 0, 40), runtime("cudaGraphLaunch", 5, 10, 51),
            kernel("g0", 20, 10, 51), kernel("g1", 30, 10, 51), kernel("g2", 40, 10, 51)]


def graph_and_launches() -> list[dict]:
    ev = graph()
    for j, start in enumerate((50, 70, 90)):
        t0 = 40 + 20 * j
        ev += [op("aten::add", t0, 8), runtime("cudaLaunchKernel", t0 + 1, 4, 60 + j), kernel(f"k{j}", start, 5, 60 + j)]
    return ev


def test_cpu_bound_chain(tmp_path: Path) -> None:
    v = select(_load(tmp_path, cpu_bound()))
    per = launch.per_activity(v)
    assert per["launch_queue_ns"].tolist() == [15 * US] * 4
    assert per["queue_ns"].tolist() == [0] * 4
    assert per["launch_ns"].tolist() == [15 * US] * 4
    assert per["launch_delay_ns"].tolist() == [5 * US] * 4
    s = launch.summary(v)
    assert (s.tklqt_ns, s.queue_ns, s.launch_ns) == (60 * US, 0, 60 * US)
    assert s.akd_ns == 5 * US
    assert (s.il_ns, s.gpu_busy_ns, s.gpu_idle_ns) == (350 * US, 20 * US, 330 * US)
    assert s.gpu_utilization == pytest.approx(20 / 350)
    assert s.kernels_per_s == pytest.approx(4 / 350e-6)
    assert (s.launch_calls, s.top_level_ops, s.launches_per_top_op) == (4, 4, 1.0)
    assert s.launch_api_ns == 40 * US
    assert s.framework_ns == 4 * 50 * US - 40 * US
    assert s.launch_delay_hta_ns == 20 * US
    steps = boundness.per_step(v)
    assert steps["stretch"].tolist() == ["step 0", "step 1"]
    assert steps["kernels"].tolist() == [2, 2]
    assert steps["label"].tolist() == ["cpu-bound", "cpu-bound"]
    assert steps["duration_ns"].tolist() == [200 * US, 150 * US]  # step 1 ends with the last op, at 350
    assert steps["gpu_idle_share"].tolist() == pytest.approx([1 - 10 / 200, 1 - 10 / 150])
    assert steps["idle_launch_share"].tolist() == pytest.approx([10 / 200, 10 / 150])
    assert steps["idle_host_share"].tolist() == pytest.approx([180 / 200, 130 / 150])
    assert steps["idle_sync_share"].tolist() == [0, 0]
    idle = boundness.idle_attribution(v).set_index("category")["idle_ns"]
    assert idle.to_dict() == {"host_wait": 3 * 95 * US, "kernel_wait": 0, "other": 0}


def test_gpu_bound_queue(tmp_path: Path) -> None:
    v = select(_load(tmp_path, gpu_bound()))
    per = launch.per_activity(v)
    assert (per["launch_queue_ns"] // US).tolist() == [4, 44, 84, 124]
    assert (per["queue_ns"] // US).tolist() == [0, 42, 82, 122]
    assert (per["launch_ns"] // US).tolist() == [4, 2, 2, 2]
    s = launch.summary(v)
    assert (s.tklqt_ns, s.queue_ns, s.launch_ns) == (256 * US, 246 * US, 10 * US)
    # Waits [1,5), [11,55), [21,105), [31,155) µs: their union is 4 + 144 = 148 µs of wall time,
    # while TKLQT counts the overlapping waits once per kernel (256 µs > IL).
    assert (s.waiting_ns, s.waiting_concurrency) == (148 * US, 256 / 148)
    assert any("TKLQT is 1.2x IL" in n and "1.7 at once" in n for n in launch.notes_for(v, s))
    assert (s.il_ns, s.gpu_busy_ns, s.gpu_idle_ns, s.akd_ns) == (205 * US, 200 * US, 5 * US, 50 * US)
    assert boundness.label(200 / 205, 5 * US, 0) == "gpu-bound"
    w = boundness.per_window(v, 1)
    assert w["label"].tolist() == ["gpu-bound"] and w["queue_share"].iloc[0] == pytest.approx(246 / 256)


def dependency_stall() -> list[dict]:
    return [op("aten::add", 0, 30), runtime("cudaLaunchKernel", 2, 3, 71), runtime("cudaLaunchKernel", 10, 3, 72),
            kernel("A", 10, 10, 71, stream=7), kernel("B", 200, 50, 72, stream=9)]


def test_dependency_stall(tmp_path: Path) -> None:
    """dependency_stall(): op [0,30); A's call [2,5) -> stream 7 [10,20); B's call [10,13) -> stream 9
    [200,250), held back long after its call returned with its stream empty (as behind an event of
    another device or rank). Launch parts: A 8, B 190 (no queue: both streams were empty), of which
    B's 200 - (13 + 30) = 157 was held back by a dependency. IL 0..250; busy [10,20) + [200,250) = 60. Idle by cause: host [0,5)
    = 5 (nothing launched); B could run from 13, so [13+30, 200) = 157 is a dependency; the rest
    of the pending time, [5,10) and [20,43), = 28 is launch latency; no sync. cpu 33 < 157:
    dependency-bound (cpu-bound before STALL_NS split the pending time).
    The replay at launch x0: A's call [2,2), A [2,12); B's call follows after the 5 of host time
    between the calls, [7,7). B's 190 lead is 33 of launch path and 157 of dependency, which a
    cheaper launch does not shorten: B [164,214), IL 214 (scaling the whole lead gave 57). Idle
    then: host [0,2), launch [12,37) = 25, dependency [37,164) = 127: dependency-bound.
    The critical path below is worked the same way. Phases: compute [10,20) + [200,250) = 60; host
    events (the op, the calls) hold [0,10) and [20,30) = 20 of host overhead; of the uncovered
    [30,200), B was held back over [43,200): 157 idle (no CPU samples, so the held-back wait is the
    evidence), and [30,43) = 13 more host overhead: 33 in all."""
    from skiprof.analyzers import Options, advice, critical, whatif

    v = select(_load(tmp_path, dependency_stall()))
    per = launch.per_activity(v).set_index("name")
    assert (per["launch_ns"] // US).to_dict() == {"A": 8, "B": 190} and per["queue_ns"].sum() == 0
    assert (per["held_ns"] // US).to_dict() == {"A": 0, "B": 157}
    s = launch.summary(v)
    assert (s.tklqt_ns, s.launch_ns, s.launch_held_ns) == (198 * US, 198 * US, 157 * US)
    o = boundness.overall_columns(v)
    assert (v.il_ns, o["gpu_busy_ns"][0]) == (250 * US, 60 * US)
    shares = [o[k][0] for k in ("idle_host_share", "idle_launch_share", "idle_dependency_share", "idle_sync_share")]
    assert shares == pytest.approx([5 / 250, 28 / 250, 157 / 250, 0])
    assert o["label"] == ["dependency-bound"]
    assert boundness.label(60 / 250, 33 * US, 0, 157 * US) == "dependency-bound"
    assert boundness.label(60 / 250, 157 * US, 0, 157 * US) == "cpu-bound"  # ties go to the host
    assert boundness.label(60 / 250, 33 * US, 157 * US, 157 * US) == "sync-bound"
    same = whatif.replay(v)
    assert (same.il_ns, same.boundness) == (250 * US, "dependency-bound")
    p = whatif.replay(v, whatif.Knobs(launch_scale=0.0))
    assert (p.il_ns, p.gpu_busy_ns, p.boundness) == (214 * US, 60 * US, "dependency-bound")
    # The critical path: B [200,250), held back [43,200), its launch [10,43), host [5,10), A's call
    # [2,5), host [0,2): 250 in all, 157 of it neither host nor device work.
    c = critical.run(v, Options()).to_dict()
    assert c["by_kind"] == {"kernel": 50 * US, "dependency": 157 * US, "launch": 33 * US, "host": 7 * US, "call": 3 * US}
    assert (c["length_ns"], c["gpu_ns"], c["dependency_ns"], c["cpu_ns"]) == (250 * US, 50 * US, 157 * US, 43 * US)
    # The advice follows the label: no larger batch (that is for cpu-bound), a pointer to what holds the work.
    fixes = {f.key: f for f in advice.candidates(v)}
    assert "batch" not in fixes and fixes["dependency"].knobs is None and "62.8%" in fixes["dependency"].evidence
    ph = breakdown.phases(v)
    got = {n: ns // US for n, ns in zip(ph.names, ph.ns) if ns}
    assert got == {"compute": 60, "host_overhead": 33, "idle": 157}


def test_two_streams_count_overlap_once(tmp_path: Path) -> None:
    v = select(_load(tmp_path, two_streams()))
    per = launch.per_activity(v).set_index("name")
    assert per.loc["A", "queue_ns"] == 0 and per.loc["B", "queue_ns"] == 0  # other stream's work is not a queue
    assert per.loc["A", "launch_queue_ns"] == 90 * US and per.loc["B", "launch_queue_ns"] == 120 * US
    s = launch.summary(v)
    assert (s.gpu_busy_ns, s.il_ns, s.gpu_idle_ns, s.tklqt_ns) == (150 * US, 250 * US, 100 * US, 210 * US)
    t = hta.temporal_breakdown(v)
    assert (t.window_ns, t.idle_share, t.compute_share) == (150 * US, 0.0, 1.0)


def test_pipeline_phases_and_copies(tmp_path: Path) -> None:
    v = select(_load(tmp_path, pipeline()))
    p = breakdown.phases(v)
    got = dict(zip(p.table["phase"], p.table["ns"]))
    assert got == {"communication": 0, "compute": 50 * US, "compile": 0, "data_movement": 50 * US,
                   "preprocessing": 100 * US, "postprocessing": 20 * US, "host_overhead": 0, "idle": 0}
    assert p.span_ns == 220 * US
    assert p.table["share"].sum() == pytest.approx(1.0)
    assert p.share("preprocessing") == pytest.approx(100 / 220)
    dev = dict(zip(p.device_table["phase"], p.device_table["ns"]))
    assert dev == {"communication": 0, "compute": 50 * US, "data_movement": 40 * US}
    m = breakdown.memcpy(v)
    assert m[["copy_kind", "host_mem", "count", "bytes", "ns"]].values.tolist() == [["HtoD", "pinned", 1, 4_000_000, 40 * US]]
    assert m["gb_per_s"].iloc[0] == pytest.approx(100.0)


def test_graph_launch(tmp_path: Path) -> None:
    v = select(_load(tmp_path, graph()))
    per = launch.per_activity(v)
    assert (per["launch_queue_ns"] // US).tolist() == [15, 0, 0]
    assert (per["queue_ns"] // US).tolist() == [0, 0, 0]
    assert (per["launch_ns"] // US).tolist() == [15, 0, 0]
    assert per["graph_member"].tolist() == [False, True, True]
    s = launch.summary(v)
    assert (s.tklqt_ns, s.launch_calls, s.launches_per_top_op, s.akd_ns) == (15 * US, 1, 1.0, 10 * US)
    assert (s.graph_launches, s.graph_member_activities, s.graph_member_ns) == (1, 2, 20 * US)
    ops = kernels.top_ops(v)
    assert ops.values.tolist() == [["aten::graph_replay", 1, 40 * US, 3, 30 * US, 15 * US]]


def test_graph_beside_ordinary_launches(tmp_path: Path) -> None:
    v = select(_load(tmp_path, graph_and_launches()))
    per = launch.per_activity(v).set_index("name")
    assert (per["launch_queue_ns"] // US).to_dict() == {"g0": 15, "g1": 0, "g2": 0, "k0": 9, "k1": 9, "k2": 9}
    assert (per["queue_ns"] // US).to_dict() == {"g0": 0, "g1": 0, "g2": 0, "k0": 5, "k1": 0, "k2": 0}
    s = launch.summary(v)
    assert (s.tklqt_ns, s.queue_ns, s.launch_ns) == (42 * US, 5 * US, 37 * US)
    # Waits [5,20), [41,50), [61,70), [81,90) µs do not overlap: the wall time equals TKLQT.
    assert (s.waiting_ns, s.waiting_concurrency) == (42 * US, 1.0)
    assert (s.launch_calls, s.launch_call_ns, s.graph_member_activities, s.graph_member_ns) == (4, 22 * US, 2, 20 * US)
    assert (s.il_ns, s.gpu_busy_ns) == (95 * US, 45 * US)


def test_top_kernels(tmp_path: Path) -> None:
    v = select(_load(tmp_path, cpu_bound() + [kernel("k0", 500, 7, None)]))
    by_time = kernels.top_kernels(v, 2)
    assert by_time[["name", "count", "total_ns"]].values.tolist() == [["k0", 2, 12 * US], ["k1", 1, 5 * US]]
    assert by_time["share"].iloc[0] == pytest.approx(12 / 27)
    assert kernels.top_kernels(v, 1, by="count")["name"].tolist() == ["k0"]


def test_step_and_region_filters(tmp_path: Path) -> None:
    t = _load(tmp_path, cpu_bound())
    v = select(t, step=1)
    assert v.kernels["name"].tolist() == ["k2", "k3"]
    assert launch.summary(v).tklqt_ns == 30 * US
    with pytest.raises(skiprof.SkiprofError, match=r"no step 7 .steps: 0, 1"):
        select(t, step=7)
    t2 = _load(tmp_path, pipeline(), "p")
    assert select(t2, region="preprocess").ops["name"].tolist() == ["skiprof:preprocess"]
    with pytest.raises(skiprof.SkiprofError, match="no region 'nope'"):
        select(t2, region="nope")


def test_steps_lie_within_the_records(tmp_path: Path) -> None:
    """ProfilerStep#0 [0,100) opens 60 µs before the first op (aten::a [60,80)); ProfilerStep#1
    [100,200) stays open after the last (aten::b [110,140)); ProfilerStep#2 [200,250) holds nothing.
    IL = 60..140 = 80; the steps are [60,100) = 40 and [100,140) = 40 (80 in all, not 200), and
    step 2 is left out. --step 0 is the 40 µs of step 0 that were recorded."""
    events = [op("ProfilerStep#0", 0, 100, cat="user_annotation"), op("ProfilerStep#1", 100, 100, cat="user_annotation"),
              op("ProfilerStep#2", 200, 50, cat="user_annotation"), op("aten::a", 60, 20), op("aten::b", 110, 30)]
    t = _load(tmp_path, events)
    v = select(t)
    assert v.il_ns == 80 * US
    st = v.steps()
    assert (st["step"].tolist(), (st["ts"] // US).tolist(), (st["dur"] // US).tolist()) == ([0, 1], [60, 100], [40, 40])
    assert [r["duration_ns"] for r in boundness.run(v, boundness.Options()).steps] == [40 * US, 40 * US]
    s0 = select(t, step=0)
    assert (s0.il_ns, s0.ops["name"].tolist(), len(s0.steps())) == (40 * US, ["ProfilerStep#0", "aten::a"], 1)
    with pytest.raises(skiprof.SkiprofError, match="step 2 holds nothing that was recorded"):
        select(t, step=2)


def test_cpu_only_report(tmp_path: Path) -> None:
    events = [op("skiprof:preprocess", 0, 40, cat="user_annotation"), op("aten::add", 5, 10),
              op("skiprof:compute", 40, 60, cat="user_annotation"), op("aten::mm", 45, 50)]
    d = skiprof.report(_load(tmp_path, events)).to_dict()
    launch_ = d["launch"]
    assert launch_["has_device_activity"] is False and launch_["kernels"] == 0 and launch_["tklqt_ns"] == 0
    assert any("launch/queue metrics need a trace with device activity" in n for n in launch_["notes"])
    phases_ = d["phases"]["by_phase"]
    assert phases_["preprocessing"]["ns"] == 40 * US and phases_["compute"]["ns"] == 60 * US
    assert sum(p["share"] for p in phases_.values()) == pytest.approx(1.0)
    assert d["boundness"]["overall"] == "no-gpu-work"
    # The tables leave out columns of device figures, which would only repeat zeros; the JSON keeps them.
    assert d["ops"]["top_ops"][0]["gpu_ns"] == 0 and d["scenario"]["regions"][0]["tklqt_ns"] == 0
    assert _table_keys(skiprof.report(_load(tmp_path, events, "again"))) == {
        "Top-level ops by CPU time": ["name", "calls", "cpu_ns"], "Named regions": ["region", "occurrences", "time_ns"]}
    gpu = _table_keys(skiprof.report(_load(tmp_path, gpu_bound(), "gpu")))
    assert gpu["Top-level ops by CPU time"][-3:] == ["activities", "gpu_ns", "launch_queue_ns"]


def test_cpu_only_whatif_and_fusion_say_what_does_not_apply(tmp_path: Path) -> None:
    """On a CPU-only trace the what-if shows no GPU figures and names the device knobs that had nothing
    to act on; host x0.5 halves the 100 µs host span; fusion says there are no kernels."""
    from skiprof._result import Figures, Note
    from skiprof.analyzers import Options, fusion, whatif
    from skiprof.analyzers._replay import Knobs

    v = select(_load(tmp_path, [op("aten::add", 0, 40), op("aten::mm", 60, 40)]))
    secs = whatif.run(v, Options(knobs=Knobs(device_scale=0.5, host_scale=0.5))).sections()
    (figs,) = [x for x in secs if isinstance(x, Figures)]
    assert [f.label for f in figs.items] == ["latency (IL), measured", "latency (IL), predicted", "change"]
    assert [f.value for f in figs.items][:2] == [100 * US, 50 * US]
    (note,) = [x for x in secs if isinstance(x, Note)]
    assert note.level == "warning" and "--device-scale had nothing to act on" in note.text
    assert [x.text for x in fusion.run(v, Options()).sections()] == ["no device activity in this scope: no kernels to fuse"]


def _table_keys(doc: Any) -> dict[str, list[str]]:
    """Column keys of the ops and region tables a report shows, by title."""
    from skiprof._result import Table

    return {s.title: [c.key for c in s.cols] for name in ("ops", "scenario") for s in doc[name].sections()
            if isinstance(s, Table) and s.title in ("Top-level ops by CPU time", "Named regions")}


def test_report_reads_what_it_prefetched(tmp_path: Path) -> None:
    """The report reads its tables in the background while the analyzers import; every table it
    starts reading is one an analysis then asks for with the same columns (none read for nothing),
    and the figures are those of a report that read each table when asked."""
    t = _load(tmp_path, gpu_bound())
    d = skiprof.report(t).to_dict()
    assert t._pending == {}
    direct = skiprof.load(t.path)
    direct.prefetch = lambda wanted, **how: None  # type: ignore[method-assign]
    assert skiprof.report(direct).to_dict() == d
    # A trace with reads in flight pickles (to a worker, say), and the copy reads for itself
    import pickle

    inflight = skiprof.load(t.path)
    inflight.prefetch({"kernels": None})
    copy = pickle.loads(pickle.dumps(inflight))
    assert copy._pending == {} and copy.table("kernels").equals(inflight.table("kernels"))
    # A table that fails to read fails where it is asked for, as a direct read does
    broken = skiprof.load(t.path)
    (t.path / "ops.parquet").write_bytes(b"not parquet")
    broken.prefetch({"ops": None})
    with pytest.raises(skiprof.SkiprofError, match=r"ops\.parquet: its Parquet footer is not the one written"):
        broken.table("ops")


def test_report_json_keys(tmp_path: Path) -> None:
    d = skiprof.report(_load(tmp_path, gpu_bound())).to_dict()
    assert d["schema"] == "skiprof.report/2"
    for key in ("launch", "boundness", "phases", "memcpy", "kernels", "ops", "scenario", "hta"):
        assert d[key]["schema"] == f"skiprof.{key}/{3 if key == 'boundness' else 2}", key
    for key in ("tklqt_ns", "akd_ns", "il_ns", "gpu_busy_ns", "gpu_idle_ns", "kernels", "linked_kernels", "orphan_kernels"):
        assert key in d["launch"], key
    la = d["launch"]
    assert (la["tklqt_ns"], la["il_ns"], la["kernels"], la["linked_kernels"], la["orphan_kernels"]) == (256 * US, 205 * US, 4, 4, 0)
    assert d["boundness"]["overall"] == "gpu-bound"
    assert d["kernels"]["by_time"][0] == {"name": "gemm", "count": 4, "total_ns": 200 * US, "mean_ns": 50.0 * US, "share": 1.0}


def test_per_region_tklqt(tmp_path: Path) -> None:
    # The CPU-bound chain with a prefill region [0,150) and a decode region [150,400): launches at
    # 10 and 110 fall in prefill, 210 and 310 in decode; each kernel's launch+queue is 15 µs.
    from skiprof.analyzers import scenario

    events = cpu_bound() + [op("skiprof:prefill", 0, 150, cat="user_annotation"),
                            op("skiprof:decode", 150, 250, cat="user_annotation")]
    v = select(_load(tmp_path, events))
    r = scenario.per_region(v)
    assert r.values.tolist() == [["prefill", 1, 150 * US, 2, 30 * US, 0], ["decode", 1, 250 * US, 2, 30 * US, 0]]
    assert len(scenario.recorded(v)) == 0


def test_launches_per_token_is_derived(tmp_path: Path) -> None:
    # gpu_bound() has 4 launch calls; a workload that recorded tokens=8 gets 0.5 launches per token.
    import skiprof.analyzers.scenario as scenario
    from skiprof._folder import write_rank
    from skiprof.ingest._build import metrics_table

    t = _load(tmp_path, gpu_bound())
    rt = type("R", (), {})()
    rt.rank, rt.tables = 0, {"metrics": metrics_table(0, [{"scenario": "moe", "name": "tokens", "value": 8.0, "unit": ""}])}
    write_rank(t.path, rt, partitioned=False)
    reseal(t.path)
    m = scenario.recorded(select(skiprof.load(t.path)))
    assert m.values.tolist() == [["moe", "tokens", 8.0, ""], ["moe", "launches_per_token", 0.5, "launches/token"]]


def _chain_trace(sync_at: float | None = None) -> list[dict]:
    # Kernels A B C A B C A B D on one stream, op i at 100i launching at 100i+10 (10 long), kernel at
    # 100i+25 for 5: every launch costs 15 µs and every stretch is CPU-bound.
    ev = []
    for i, name in enumerate("ABCABCABD"):
        t0 = 100 * i
        ev += [op(f"aten::op_{name}", t0, 50), runtime("cudaLaunchKernel", t0 + 10, 10, 100 + i), kernel(name, t0 + 25, 5, 100 + i)]
    if sync_at is not None:
        ev.append(runtime("cudaDeviceSynchronize", sync_at, 1, 999))
    return ev


def test_fusion_chains(tmp_path: Path) -> None:
    # Length 2: AB 3 of A's 3 (PS 1), CA 2 of C's 2 (PS 1), BC 2 of 3 (0.67, out). Length 3: CAB 2 of
    # 2 (PS 1); ABC, BCA 2 of 3 (out). Saving = occurrences x (length-1) x 15 µs: CAB 60, AB 45, CA 30.
    from skiprof.analyzers import fusion

    c = fusion.chains(select(_load(tmp_path, _chain_trace())))
    assert c[["chain", "length", "occurrences", "first_kernel_count", "proximity", "saving_ns"]].values.tolist() == [
        [["C", "A", "B"], 3, 2, 2, 1.0, 60 * US], [["A", "B"], 2, 3, 3, 1.0, 45 * US], [["C", "A"], 2, 2, 2, 1.0, 30 * US]]
    assert c["ops"].tolist()[1] == "aten::op_A"


def test_fusion_chains_stop_at_syncs(tmp_path: Path) -> None:
    # A sync at 350, between the launches of the 2nd A (310) and the 2nd B (410), breaks that AB:
    # AB now occurs 2 of 3 times (PS 0.67) and drops out; the first CAB (kernels 2-4) is broken too,
    # leaving one, below min_count. CA (kernels 2-3 and 5-6) keeps 2 of 2.
    from skiprof.analyzers import fusion

    c = fusion.chains(select(_load(tmp_path, _chain_trace(sync_at=350))))
    assert c["chain"].tolist() == [["C", "A"]]


def whatif_chain() -> list[dict]:
    # op i [100i, 100i+20) ends with its launch call [100i+10, 100i+20); kernel [100i+25, 100i+30).
    ev = []
    for i in range(4):
        t0 = 100 * i
        ev += [op(f"aten::op{i}", t0, 20), runtime("cudaLaunchKernel", t0 + 10, 10, 10 + i), kernel(f"k{i}", t0 + 25, 5, 10 + i)]
    return ev


def test_whatif_identity_and_knobs(tmp_path: Path) -> None:
    """Worked on paper from whatif_chain() (calls at 100i+10 lasting 10, 90 of host work between
    calls, kernels 15 after their call starts, 5 long; the host ends at 320, the last kernel at 330:
    measured IL 330):
    launch x0.5 halves the call (10 -> 5) and the call-start-to-kernel time (15 -> 7.5):
    c0 10-15, k0 17.5-22.5; c1 105-110 ... c3 295-300, k3 302.5-307.5; host ends at 300: IL 307.5.
    host x2: gaps double -> c0 20-30 k0 35-40; c1 210-220; c2 400-410; c3 590-600, k3 605-610: IL 610.
    graph over a region [0,400) holding all four launches: c0 10-20, k0 25-30; the host work after
    c0's end, up to the region's end, is what the graph replaces: the other calls vanish and their
    kernels run back to back behind k0 (30-35, 35-40, 40-45): IL 45."""
    from skiprof.analyzers import whatif

    v = select(_load(tmp_path, whatif_chain()))
    same = whatif.replay(v)
    assert (same.il_ns, same.measured_il_ns, same.gpu_busy_ns) == (330 * US, 330 * US, 20 * US)
    assert whatif.replay(v, whatif.Knobs(launch_scale=0.5)).il_ns == 307_500
    assert whatif.replay(v, whatif.Knobs(host_scale=2.0)).il_ns == 610 * US
    g = select(_load(tmp_path, whatif_chain() + [op("skiprof:graph", 0, 400, cat="user_annotation")], "g"))
    p = whatif.replay(g, whatif.Knobs(cuda_graph="graph"))
    assert (p.il_ns, p.removed_launches, p.gpu_busy_ns) == (45 * US, 3, 20 * US)


def test_whatif_poller_keeps_pace_with_the_work(tmp_path: Path) -> None:
    """whatif_chain() plus a thread that only polls (cudaEventQuery at 50, 150, 250 and 350, 2 long;
    no ops, no launches, no waits, as NCCL's watchdog): measured IL 352, ended by the last poll.
    Each poll is re-timed after the latest call of the working thread that ended before it, by the
    measured gap scaled as that thread's host time; the poll itself x host_scale (not a launch call).
    host x0.5: c0 5-15, c1 60-70, c2 115-125, c3 170-180, k3 185-190; the poll at 350 follows c3
    (measured end 320): 180 + 30 x 0.5 = 195, 1 long: IL 196 (replayed on its own clock: 352).
    host x2: c0 20-30, c1 210-220, c2 400-410, c3 590-600, k3 605-610; polls at 30 + 60 = 90,
    220 + 60 = 280, 410 + 60 = 470 and 600 + 60 = 660, 4 long: IL 664."""
    import numpy as np

    from skiprof.analyzers import whatif
    from skiprof.analyzers._replay import simulate

    polls = [runtime("cudaEventQuery", t, 2, 90 + i, tid=999) for i, t in enumerate((50, 150, 250, 350))]
    v = select(_load(tmp_path, whatif_chain() + polls))
    assert whatif.replay(v).il_ns == whatif.replay(v).measured_il_ns == 352 * US
    assert whatif.replay(v, whatif.Knobs(host_scale=0.5)).il_ns == 196 * US
    assert whatif.replay(v, whatif.Knobs(host_scale=2.0)).il_ns == 664 * US
    tl = simulate(v, whatif.Knobs(host_scale=2.0))
    rows = np.flatnonzero(v.launches["tid"] == 999)
    assert (tl.call_start[rows] // US).tolist() == [90, 280, 470, 660]
    calls = np.flatnonzero(v.launches["tid"] != 999)
    assert [tl.edge[j] for j in rows] == ["host"] * 4 and set(tl.pred[rows].tolist()) <= set(calls.tolist())


def test_whatif_device_scale_and_fusion(tmp_path: Path) -> None:
    """GPU-bound queue at device x0.5: K0 starts 5 after its call ends (at 3) and lasts 25 -> 30; the
    others were stream-bound and follow back to back: 55, 80, 105. IL 105.
    Fusing C>A>B in A B C A B C A B D (calls 90 apart, 10 long): the 2nd and 3rd calls of each
    occurrence vanish (host shifts 10 earlier each); C gets 15 long: c2 210-220, C 225-240; c5 490-500,
    C 505-520; c8 770-780, D 785-790; the last op runs 30 past its call (measured to 850): IL 810
    (measured 850)."""
    from skiprof.analyzers import whatif

    v = select(_load(tmp_path, gpu_bound()))
    assert whatif.replay(v, whatif.Knobs(device_scale=0.5)).il_ns == 105 * US
    f = select(_load(tmp_path, _chain_trace(), "f"))
    p = whatif.replay(f, whatif.Knobs(fuse=(("C", "A", "B"),)))
    assert (p.il_ns, p.measured_il_ns, p.removed_launches) == (810 * US, 850 * US, 4)
