"""The critical path: hand-built known answers, and its length equal to the IL on every real trace."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import needs_shared, run_cli
from kineto import kernel, op, runtime, write_trace


def _path(tmp: Path, events: list[dict]) -> dict:
    src = write_trace(tmp / "t.json", events)
    assert run_cli("import", str(src), "-o", str(tmp / "t"), "--no-report").returncode == 0
    res = run_cli("critical", str(tmp / "t"), "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["critical"]


def test_two_streams_and_an_event(tmp_path: Path) -> None:
    """A on stream 7 [10, 110); B on stream 9 waits for A's event and runs [110, 130); the host waits
    in cudaDeviceSynchronize [20, 131). Path: launch of A [0, 10), A, B (across the streams), the
    sync's return [130, 131)."""
    d = _path(tmp_path, [
        runtime("cudaLaunchKernel", 0, 5, 1), kernel("A", 10, 100, 1),
        runtime("cudaStreamWaitEvent", 6, 2, None),
        runtime("cudaLaunchKernel", 10, 5, 2), kernel("B", 110, 20, 2, stream=9),
        runtime("cudaDeviceSynchronize", 20, 111, None)])
    assert d["length_ns"] == d["il_ns"] == d["replay_il_ns"] == 131_000
    assert d["by_kind"] == {"launch": 10_000, "kernel": 120_000, "sync return": 1_000}
    assert {k["name"]: k["ns"] for k in d["kernels"]} == {"A": 100_000, "B": 20_000}
    assert d["gpu_share"] == 120 / 131


def test_graph_launch(tmp_path: Path) -> None:
    """One cudaGraphLaunch [0, 10) runs g0 [20, 30), g1 [30, 45), g2 [45, 50); the host waits in
    cudaStreamSynchronize [12, 51). Every graph kernel is on the path."""
    d = _path(tmp_path, [
        runtime("cudaGraphLaunch", 0, 10, 1), kernel("g0", 20, 10, 1), kernel("g1", 30, 15, 1), kernel("g2", 45, 5, 1),
        runtime("cudaStreamSynchronize", 12, 39, None)])
    assert d["length_ns"] == d["il_ns"] == 51_000
    assert d["by_kind"] == {"launch": 20_000, "kernel": 30_000, "sync return": 1_000}
    assert [k["name"] for k in d["kernels"]] == ["g1", "g0", "g2"]


def test_blocking_memcpy_then_host_tail(tmp_path: Path) -> None:
    """A synchronous cudaMemcpy [0, 100) whose copy runs [60, 100); then 5 µs of host work, a launch
    [105, 110) of K [115, 135), and host work until 140 (an op). The host's tail ends the run."""
    d = _path(tmp_path, [
        op("aten::copy_", 0, 101), runtime("cudaMemcpy", 0, 100, 1),
        kernel("Memcpy HtoD (Pageable -> Device)", 60, 40, 1, cat="gpu_memcpy", nbytes=1 << 20),
        op("aten::relu", 104, 36), runtime("cudaLaunchKernel", 105, 5, 2), kernel("K", 115, 20, 2)])
    assert d["length_ns"] == d["il_ns"] == 140_000
    assert d["by_kind"] == {"launch": 60_000, "memcpy": 40_000, "host": 5_000, "call": 5_000, "host tail": 30_000}
    assert {o["name"] for o in d["ops"]} == {"aten::copy_", "aten::relu"}


def test_a_step_or_region_gets_the_runs_path_within_its_time(tmp_path: Path) -> None:
    """The trace of test_blocking_memcpy_then_host_tail (path: launch [0, 60), memcpy [60, 100), host
    [100, 105), call [105, 110), host tail [110, 140)) with steps [0, 70) and [70, 140) and a region
    'compute' [50, 120). Each gets the run's path cut to its time: step 0 launch 60 + memcpy 10; step
    1 memcpy 30, host 5, call 5, tail 30; the region launch 10, memcpy 40, host 5, call 5, tail 10.
    Step 0's IL is 100: its copy, launched at 0, ran until 100; the region's 85: K, launched at 105,
    ran until 135."""
    events = [op("aten::copy_", 0, 101), runtime("cudaMemcpy", 0, 100, 1),
              kernel("Memcpy HtoD (Pageable -> Device)", 60, 40, 1, cat="gpu_memcpy", nbytes=1 << 20),
              op("aten::relu", 104, 36), runtime("cudaLaunchKernel", 105, 5, 2), kernel("K", 115, 20, 2),
              op("ProfilerStep#0", 0, 70, cat="user_annotation"), op("ProfilerStep#1", 70, 70, cat="user_annotation"),
              op("skiprof:compute", 50, 70, cat="user_annotation")]
    whole = _path(tmp_path, events)
    assert whole["length_ns"] == 140_000 and whole["run_length_ns"] is None
    want = {("--step", "0"): ({"launch": 60, "memcpy": 10}, 100),
            ("--step", "1"): ({"memcpy": 30, "host": 5, "call": 5, "host tail": 30}, 70),
            ("--region", "compute"): ({"launch": 10, "memcpy": 40, "host": 5, "call": 5, "host tail": 10}, 85)}
    for args, (kinds, il) in want.items():
        res = run_cli("critical", str(tmp_path / "t"), *args, "--format", "json")
        assert res.returncode == 0, res.stderr
        d = json.loads(res.stdout)["critical"]
        assert {k: v // 1000 for k, v in d["by_kind"].items()} == kinds, args
        assert (d["length_ns"], d["run_length_ns"], d["il_ns"]) == (70_000, 140_000, il * 1000), args
    text = " ".join(run_cli("critical", str(tmp_path / "t"), "--step", "0").stdout.split())
    assert "the part of the run's critical path (0.14 ms) within rank 0, step 0" in text


@needs_shared
def test_length_equals_the_il_on_every_real_trace(imported_real: dict[str, Path]) -> None:
    import skiprof
    from skiprof.analyzers import Options, critical, select

    for name, folder in imported_real.items():
        v = select(skiprof.load(folder))
        r = critical.run(v, Options())
        segs = r.segments
        assert r.length_ns == r.replay_il_ns == sum(s.end - s.start for s in segs), name
        assert abs(r.length_ns - r.il_ns) <= max(1000, r.il_ns // 1000), name  # the identity replay is within 0.1%
        assert all(a.end == b.start for a, b in zip(segs, segs[1:])), name


def test_export_draws_the_path(tmp_path: Path) -> None:
    import gzip

    _path(tmp_path, [runtime("cudaLaunchKernel", 0, 5, 1), kernel("A", 10, 100, 1),
                     runtime("cudaDeviceSynchronize", 20, 91, None)])
    out = tmp_path / "e.json.gz"
    assert run_cli("export", str(tmp_path / "t"), "-o", str(out)).returncode == 0
    ev = json.loads(gzip.decompress(out.read_bytes()))["traceEvents"]
    track = [e for e in ev if e.get("tid") == "critical path"]
    assert [e["name"] for e in track] == ["launch", "kernel A", "sync return"]
