"""Invariants that must hold for every trace, checked on generated ones (hypothesis).

- linking does not depend on the order of events in the file;
- every device activity is linked to its launch call or carries an orphan reason;
- the phases add up to the scope exactly, and their idle is a wait boundness shows too;
- a boundness label never contradicts the figures beside it;
- the replay without knobs reproduces the measurement exactly;
- the replay computed a stretch between blocking calls at a time equals the per-call loop;
- under any knobs the replay keeps each stream first in, first out and never overlaps two
  activities on it, returns a blocking call only after the work it waited for, never predicts an
  IL or GPU busy time below the busiest stream's (scaled) work, and cheaper launches never
  predict a slower run;
- export then import gives back the same tables.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skiprof
from gen_traces import traces
from kineto import write_trace

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])
TABLES = ("ops", "launches", "kernels", "regions", "counters", "memory")


def _import(tmp: Path, events: list[dict], name: str) -> skiprof.Trace:
    from skiprof.commands.import_ import run_import

    src = write_trace(tmp / f"{name}.json", events)
    run_import([src], tmp / name, force=True)
    return skiprof.load(tmp / name)


def _view(t: skiprof.Trace):
    from skiprof.analyzers import select

    return select(t)


@SETTINGS
@given(events=traces(), seed=st.integers(0, 2**16))
def test_linking_does_not_depend_on_event_order(tmp_path: Path, events: list[dict], seed: int) -> None:
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    a, b = _import(tmp_path, events, "a"), _import(tmp_path, shuffled, "b")
    for name in TABLES:
        assert a.table(name).equals(b.table(name)), name


@SETTINGS
@given(events=traces())
def test_every_activity_linked_or_explained(tmp_path: Path, events: list[dict]) -> None:
    t = _import(tmp_path, events, "t")
    k = t.kernels
    assert ((k["launch_id"] >= 0) == k["orphan_reason"].isna()).all()
    early = k["name"].str.startswith("early")
    # Queued before recording: older correlation ids than any call (when there is a call to compare with).
    expected = "before_window" if len(t.launches) else "no_launch_record"
    assert (k.loc[early, "orphan_reason"] == expected).all()
    assert (k.loc[~early, "launch_id"] >= 0).all()


@SETTINGS
@given(events=traces())
def test_phases_add_up_and_labels_match_their_evidence(tmp_path: Path, events: list[dict]) -> None:
    from skiprof.analyzers import boundness, breakdown

    v = _view(_import(tmp_path, events, "t"))
    p = breakdown.phases(v)
    assert sum(p.ns) == p.span_ns == v.il_ns
    st = v.steps()  # steps lie within the records: together never longer than the run
    assert int(st["dur"].sum()) <= v.il_ns and (st["dur"] > 0).all()
    assert all(ns >= 0 for ns in p.ns)
    # Phase "idle" never claims a wait that boundness does not show: without CPU samples (and no
    # Python wait frames in these traces) it is time the host was blocked or launched work was held back.
    o = boundness.overall_columns(v)
    if v.has_device and not p.cpu_sampled:
        held_or_blocked = (o["idle_sync_share"][0] + o["idle_dependency_share"][0]) * v.il_ns
        assert p.ns[p.names.index("idle")] <= held_or_blocked + 1
    for cols in (boundness.window_columns(v), boundness.step_columns(v), o):
        for i, lab in enumerate(cols["label"]):
            idle = cols["gpu_idle_share"][i]
            cpu = cols["idle_host_share"][i] + cols["idle_launch_share"][i]
            sync, dep = cols["idle_sync_share"][i], cols["idle_dependency_share"][i]
            assert cpu + sync + dep == pytest.approx(idle, abs=1e-9)
            assert min(cols["idle_host_share"][i], cols["idle_launch_share"][i], sync, dep) >= 0
            if lab == "gpu-bound":
                assert idle <= 1 - boundness.GPU_BOUND_BUSY + 1e-9
            elif lab != "no-gpu-work":  # the label names the largest cause of an idle over 30%
                assert idle > 0.3 - 1e-9
                largest = {"cpu-bound": cpu, "sync-bound": sync, "dependency-bound": dep}[lab]
                assert largest >= max(cpu, sync, dep) - 1e-9


@SETTINGS
@given(events=traces())
def test_launch_parts_add_up_and_waiting_time_is_bounded(tmp_path: Path, events: list[dict]) -> None:
    """TKLQT = launch + queue; the wall time with a kernel waiting is at most TKLQT and at most IL,
    for the whole trace and for each step (waits that overlap count once per kernel in TKLQT only)."""
    from skiprof.analyzers import launch, select

    t = _import(tmp_path, events, "t")
    whole = launch.summary(select(t))
    if whole.tklqt_ns > 0:
        assert whole.waiting_ns > 0 and whole.waiting_concurrency >= 1
    views = [select(t)] + [select(t, step=int(s)) for s in select(t).steps()["step"]]
    for v in views:
        s = launch.summary(v)
        assert s.launch_ns + s.queue_ns == s.tklqt_ns
        assert 0 <= s.launch_held_ns <= s.launch_ns
        assert 0 <= s.waiting_ns <= min(s.tklqt_ns, s.il_ns)
        assert s.waiting_concurrency == (s.tklqt_ns / s.waiting_ns if s.waiting_ns else 0.0)


@SETTINGS
@given(events=traces())
def test_identity_replay_is_exact(tmp_path: Path, events: list[dict]) -> None:
    from skiprof.analyzers import whatif

    v = _view(_import(tmp_path, events, "t"))
    p = whatif.replay(v)
    assert (p.il_ns, p.gpu_busy_ns) == (p.measured_il_ns, p.measured_gpu_busy_ns)
    tl = whatif.simulate(v)
    assert (tl.act_start == v.kernels["ts"]).all()
    assert (tl.call_end == v.launches["ts"] + v.launches["dur"]).all()


def _check_timeline(v, tl, knobs) -> None:
    ok = tl.placed()
    busiest = 0
    for key in np.unique(tl.act_stream[ok]):
        rows = np.flatnonzero(ok & (tl.act_stream == key))
        measured = rows[np.lexsort((v.kernels["kernel_id"][rows], v.kernels["ts"][rows]))]
        s, e = tl.act_start[measured], tl.act_end[measured]
        assert (s[1:] >= e[:-1]).all(), "overlap or reordering on a stream"
        busiest = max(busiest, int((e - s).sum()))
    for j in np.flatnonzero(tl.blocking):
        from skiprof.analyzers._replay import _Graph

        rows = _Graph(v).waits_for(int(j))
        rows = rows[ok[rows]]
        if len(rows):
            assert tl.call_end[j] >= tl.act_end[rows].max(), "a blocking call returned before its work ended"
    return busiest


@SETTINGS
@given(events=traces(), launch=st.sampled_from([0.0, 0.25, 0.5, 2.0]), host=st.sampled_from([0.5, 1.0, 3.0]),
       device=st.sampled_from([0.5, 1.0, 2.0]))
def test_replay_obeys_the_hardware(tmp_path: Path, events: list[dict], launch: float, host: float, device: float) -> None:
    from skiprof.analyzers import whatif

    v = _view(_import(tmp_path, events, "t"))
    knobs = whatif.Knobs(launch, host, device)
    tl = whatif.simulate(v, knobs)
    busiest = _check_timeline(v, tl, knobs)
    p = whatif.replay(v, knobs)
    assert p.gpu_busy_ns >= busiest and p.il_ns >= busiest
    cheaper = whatif.replay(v, whatif.Knobs(launch / 2, host, device))
    assert cheaper.il_ns <= p.il_ns


@SETTINGS
@given(events=traces(), launch=st.sampled_from([0.0, 0.5, 1.0, 2.0]), host=st.sampled_from([0.5, 1.0, 3.0]),
       device=st.sampled_from([0.5, 1.0, 2.0]), fuse=st.booleans(), graph=st.booleans(), offload=st.booleans(),
       copies=st.booleans())
def test_replay_paths_agree(tmp_path: Path, events: list[dict], launch: float, host: float, device: float,
                            fuse: bool, graph: bool, offload: bool, copies: bool) -> None:
    """The stretch-at-a-time replay equals the per-call loop, field by field, under any knobs: scaled
    costs, fused chains, the first step as one CUDA graph, the compute region off the critical path,
    asynchronous copies."""
    from conftest import assert_same_timeline
    from skiprof.analyzers import fusion, whatif

    v = _view(_import(tmp_path, events, "t"))
    chains = tuple(tuple(c) for c in fusion.chain_columns(v, min_count=1)["chain"][:2]) if fuse else ()
    # The first step as one graph: every launch in it after the first becomes a graph member.
    knobs = whatif.Knobs(launch, host, device, fuse=chains, cuda_graph="ProfilerStep#0" if graph else None,
                         async_copies=copies, offload=("compute",) if offload else ())
    assert_same_timeline(whatif.simulate(v, knobs, path="loop"), whatif.simulate(v, knobs, path="stretches"), knobs)


@SETTINGS
@given(events=traces())
def test_export_import_round_trip(tmp_path: Path, events: list[dict]) -> None:
    from skiprof.commands.export import export_chrome
    from skiprof.commands.import_ import run_import

    a = _import(tmp_path, events, "a")
    export_chrome(tmp_path / "a", tmp_path / "x.json.gz", force=True)
    run_import([tmp_path / "x.json.gz"], tmp_path / "b", force=True)
    b = skiprof.load(tmp_path / "b")
    for name in TABLES:
        assert a.table(name).equals(b.table(name)), name


@st.composite
def _rank_figures(draw: st.DrawFn) -> list[dict]:
    """Per-rank figures as ranks.figures_for returns them, with collectives in a shared order."""
    n = draw(st.integers(2, 6))
    colls = draw(st.lists(st.sampled_from(["nccl:all_reduce", "nccl:broadcast", "gloo:all_gather"]), max_size=6))
    out = []
    for r in range(n):
        t, mine = 0, []
        for i, name in enumerate(colls):
            t += draw(st.integers(0, 10_000))
            mine.append({"name": name, "process_group": "default", "seq": i, "start_ns": t,
                         "end_ns": t + draw(st.integers(0, 5_000))})
        keys = ("il_ns", "gpu_busy_ns", "comm_ns", "compute_ns", "step_ns")
        out.append({"rank": r, **{k: draw(st.integers(0, 10**6)) for k in keys}, "comm_overlap_share": 0.0,
                    "collectives": mine})
    return out


@settings(max_examples=200, deadline=None)
@given(per_rank=_rank_figures())
def test_ranks_invariants(per_rank: list[dict]) -> None:
    """The cross-rank reduce never contradicts its evidence: every rank once; skew = the longest wait
    >= 0 and the last rank waits for nobody; every straggler satisfies the rule that names it."""
    import statistics

    from skiprof.analyzers import ranks

    rows, stragglers, matched = ranks.reduce(per_rank)
    assert [r["rank"] for r in rows] == sorted(f["rank"] for f in per_rank)
    starts = {(f["rank"], c["name"], c["seq"]): c["start_ns"] for f in per_rank for c in f["collectives"]}
    for c in matched:
        arrive = [starts[(r["rank"], c["name"], c["seq"])] for r in rows]
        assert c["skew_ns"] == c["max_wait_ns"] == max(arrive) - min(arrive) >= 0
        assert c["total_wait_ns"] == sum(max(arrive) - a for a in arrive)
        assert starts[(c["last_rank"], c["name"], c["seq"])] == max(arrive)
    total_wait = sum(c["total_wait_ns"] for c in matched)
    for s in stragglers:
        if "wait_share" in s:
            assert s["wait_share"] >= ranks.LATE_SHARE and s["others_waited_ns"] <= total_wait
            continue
        key = {"step time outlier": "step_ns", "compute time outlier": "compute_ns",
               "least time in collectives": "comm_ns"}[s["rule"]]
        values = [float(f[key]) for f in per_rank]
        med = statistics.median(values)
        margin = max(ranks.STRAGGLER_MAD * statistics.median(abs(v - med) for v in values), ranks.STRAGGLER_MIN * med)
        assert s["median_ns"] == med and len(per_rank) >= 3
        assert (s["value_ns"] < med - margin) if key == "comm_ns" else (s["value_ns"] > med + margin)
    assert sum(s.get("wait_share", 0) for s in stragglers) <= 1 + 1e-9
    # The verdict names exactly the stragglers (up to 3), and points at one of them, or else at the
    # rank with the longest IL; its IL range is the table's.
    labels = ["cpu-bound", "gpu-bound", "dependency-bound", "sync-bound"]
    rows = [{**r, "boundness": labels[r["rank"] % 4]} for r in rows]
    verdict = ranks.RanksResult(None, tuple(rows), tuple(stragglers), tuple(matched), "D").verdict()
    named = [int(x.split()[1]) for x in verdict if x.startswith("Rank ") and " is a straggler" in x]
    flagged = list(dict.fromkeys(s["rank"] for s in stragglers))
    assert named == flagged[:3]
    nxt = int(verdict[-1].split("--rank ")[1].split()[0])
    il = {r["rank"]: r["il_ns"] for r in rows}
    assert nxt in flagged if flagged else il[nxt] == max(il.values())
    assert f"{min(il.values()) / 1e6:,.2f} ms" in verdict[0] and f"{max(il.values()) / 1e6:,.2f} ms" in verdict[0]


@SETTINGS
@given(events=traces())
def test_verdict_quotes_match_the_report(tmp_path: Path, events: list[dict]) -> None:
    """Every number the verdict quotes is the report's own, the fixes are sorted by their prediction,
    and the faster-CPU fix's evidence is the boundness share the verdict quotes beside it."""
    from skiprof.analyzers.verdict import resolve

    doc = skiprof.report(_import(tmp_path, events, "t")).to_dict()
    for q in doc["verdict"]["quotes"]:
        assert resolve(doc, q["path"]) == q["value"], q
    scored = [f["predicted_il_ns"] for f in doc["fixes"]["fixes"] if f["predicted_il_ns"] is not None]
    assert scored == sorted(scored)
    for fix in doc["fixes"]["fixes"]:
        if fix["key"] == "host":
            waited = 100 * doc["boundness"]["evidence"]["idle_host_share"]
            assert fix["evidence"].startswith(f"the GPU idled {waited:.1f}% of the latency waiting for the host"), fix


@SETTINGS
@given(a=traces(), b=traces())
def test_diff_splits_sum_to_the_change(tmp_path: Path, a: list[dict], b: list[dict]) -> None:
    """For any two runs: the IL change split by phase and by top-level op sums exactly to it, and a
    run against itself changes nothing."""
    from skiprof.analyzers import diff

    va, vb = _view(_import(tmp_path, a, "a")), _view(_import(tmp_path, b, "b"))
    d = diff.diff(va, vb).to_dict()
    assert sum(p["delta_ns"] for p in d["phases"]) == d["il_delta_ns"] == sum(p["delta_ns"] for p in d["top_ops_wall"])
    assert 0.0 <= d["device_matched_share"] <= 1.0 and 0.0 <= d["host_matched_share"] <= 1.0
    same = diff.diff(va, va).to_dict()
    assert same["il_delta_ns"] == 0 and all(r["device_ns_delta"] == 0 for r in same["kernels"])


@SETTINGS
@given(events=traces())
def test_critical_path_spans_the_replay(tmp_path: Path, events: list[dict]) -> None:
    """The critical path is contiguous from the scope's start to its end, and as long as the identity
    replay's IL; a step's part of it covers the step's window exactly."""
    from skiprof.analyzers import Options, critical, select

    t = _import(tmp_path, events, "t")
    r = critical.run(_view(t), Options())
    segs = r.segments
    assert r.length_ns == r.replay_il_ns == sum(s.end - s.start for s in segs)
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
    assert all(s.end > s.start for s in segs)
    d = r.to_dict()
    assert d["gpu_ns"] + d["cpu_ns"] + d["dependency_ns"] == r.length_ns and min(d["cpu_ns"], d["dependency_ns"]) >= 0
    # Per step: the run's path cut to the step's window covers that window exactly, in order, and the
    # steps' parts are parts of the run's path.
    whole = {(sg.start, sg.end, sg.kind) for sg in segs}
    for step in (int(x) for x in _view(t).steps()["step"]):
        v = select(t, step=step)
        part = critical.run(v, Options())
        (lo, hi), = v.windows
        assert part.length_ns == hi - lo == sum(sg.end - sg.start for sg in part.segments) and part.run_length_ns == r.length_ns
        assert [(sg.start, sg.end) for sg in part.segments][:1] in ([], [(lo, part.segments[0].end)])
        assert all(a.end == b.start for a, b in zip(part.segments, part.segments[1:]))
        assert all(any(a <= sg.start and sg.end <= b and k == sg.kind for a, b, k in whole) for sg in part.segments)


@SETTINGS
@given(events=traces(), launch=st.sampled_from([0.0, 500.0, 2300.0, 50_000.0]),
       dispatch=st.sampled_from([0.0, 800.0, 2000.0, 1e6]))
def test_host_overhead_parts_add_up(tmp_path: Path, events: list[dict], launch: float, dispatch: float) -> None:
    """The TaxBreak parts are never negative and add up to the orchestration time exactly, under any
    floors; HDBI lies in [0, 1] and is absent without device work; the same holds for every step."""
    from skiprof.analyzers import hostsplit

    v = _view(_import(tmp_path, events, "t"))
    floors = {"null_launch_ns": launch, "python_aten_op_ns": dispatch, "aten_op_ns": dispatch / 2}
    windows = [None] + [[(int(s), int(s) + int(d))] for s, d in zip(v.steps()["ts"].tolist(), v.steps()["dur"].tolist())]
    for w in windows:
        s = hostsplit.split(v, floors, w)
        parts = (s.framework_ns, s.library_ns, s.launch_floor_ns, s.above_floor_ns)
        assert all(p >= 0 for p in parts) and sum(parts) == s.orchestration_ns >= 0
        assert s.launch_floor_ns <= launch * s.launches + 1e-6
        if s.hdbi is None:
            assert not v.has_device or s.device_active_ns + s.orchestration_ns == 0
        else:
            assert 0.0 <= s.hdbi <= 1.0
            assert s.hdbi == s.device_active_ns / (s.device_active_ns + s.orchestration_ns)


_LABELS = st.sampled_from(["cpu-bound", "gpu-bound", "sync-bound", "dependency-bound", "no-gpu-work"])
_SHARE = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_LABELS, _SHARE, _SHARE, st.integers(0, 10**9)), min_size=0, max_size=12))
def test_window_changes_match_their_rows(rows: list[tuple[str, float, float, int]]) -> None:
    """The report over windows names a change exactly where the label differs, or where the label is
    the same and GPU busy or queue share moved by SHIFT or more; each names the pair it compares, and
    every figure it lists as moved did move by CHANGE of the larger value."""
    from skiprof.analyzers.windows import CHANGE, SHIFT, changes

    table = [{"window": i, "folder": f"window={i}", "label": lab, "gpu_busy_share": busy, "queue_share": queue,
              "tklqt_ns": tk, "metrics": {}} for i, (lab, busy, queue, tk) in enumerate(rows)]
    got = {(c["from_window"], c["to_window"]): c for c in changes(table, "run")}
    for a, b in zip(table, table[1:]):
        relabelled = a["label"] != b["label"]
        shifted = max(abs(a["gpu_busy_share"] - b["gpu_busy_share"]), abs(a["queue_share"] - b["queue_share"])) >= SHIFT
        c = got.get((a["window"], b["window"]))
        assert (c is not None) == (relabelled or shifted)
        if c is not None:
            assert c["kind"] == ("label" if relabelled else "evidence") and (c["from"], c["to"]) == (a["label"], b["label"])
            for m in c["also_changed"]:
                # As a ratio: CHANGE times a subnormal larger value would underflow to 0.
                top = max(abs(m["after"]), abs(m["before"]))
                assert top > 0 and abs(m["after"] - m["before"]) / top >= CHANGE
    assert len(got) == len(changes(table))
