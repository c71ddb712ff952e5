"""skiprof diff: known answers on hand-built pairs, exact sums, a run against itself, and real pairs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, TRACES, needs_shared, run_cli
from kineto import kernel, op, runtime, write_trace


def _run(tmp: Path, name: str, tile: int, reps: int, dur: int) -> Path:
    """``reps`` iterations of aten::mm (launching gemm<TILE, 64> of ``dur`` µs) and aten::relu."""
    ev, t, corr = [], 0, 1
    for _ in range(reps):
        ev += [op("aten::mm", t, 20), runtime("cudaLaunchKernel", t + 5, 5, corr),
               kernel(f"void gemm_kernel<{tile}, 64>(float*, int)", t + 12, dur, corr)]
        ev += [op("aten::relu", t + 25, 10), runtime("cudaLaunchKernel", t + 27, 5, corr + 1),
               kernel("void relu_kernel<float>(float*)", t + 12 + dur, 3, corr + 1)]
        ev.append(op("skiprof:decode", t, 40, cat="user_annotation"))
        t += 40 + dur
        corr += 2
    src = write_trace(tmp / f"{name}.json", ev)
    assert run_cli("import", str(src), "-o", str(tmp / name), "--no-report").returncode == 0
    return tmp / name


def _diff(a: Path, b: Path) -> dict:
    res = run_cli("diff", str(a), str(b), "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["diff"]


def test_known_answers(tmp_path: Path) -> None:
    """A: 2 iterations of gemm<128, 64> 10 µs; B: 3 iterations of gemm<256, 64> 12 µs. The tile size
    is normalised away, so the gemms match; worked by hand below."""
    d = _diff(_run(tmp_path, "a", 128, 2, 10), _run(tmp_path, "b", 256, 3, 12))
    k = {r["name"]: r for r in d["kernels"]}
    g = k["gemm_kernel<>"]
    assert (g["count_a"], g["count_b"], g["device_ns_a"], g["device_ns_b"], g["device_ns_delta"]) == (2, 3, 20_000, 36_000, 16_000)
    assert k["relu_kernel<>"]["count_delta"] == 1
    ops = {r["name"]: r for r in d["ops"]}
    assert (ops["aten::mm"]["host_ns_a"], ops["aten::mm"]["host_ns_b"]) == (40_000, 60_000)
    assert ops["aten::mm"]["launches_delta"] == 1 and ops["aten::mm"]["device_ns_delta"] == 16_000
    # IL: from 0 to the end of the last 'decode' region, which outlasts its kernels: A's second
    # iteration starts at 50 µs and ends at 90; B's third starts at 2 x 52 = 104 and ends at 144.
    assert (d["il_ns_a"], d["il_ns_b"], d["il_delta_ns"]) == (90_000, 144_000, 54_000)
    assert sum(p["delta_ns"] for p in d["phases"]) == d["il_delta_ns"]
    assert sum(p["delta_ns"] for p in d["top_ops_wall"]) == d["il_delta_ns"]
    assert d["device_matched_share"] == 1.0 and not any(d["added"].values()) and not any(d["removed"].values())
    (region,) = d["regions"]
    assert region["name"] == "decode" and region["il_ns_b"] > region["il_ns_a"]


def test_a_region_of_both_runs(tmp_path: Path) -> None:
    """--region compares that region of A with the same region of B: each side's latency is the one
    the report gives for that region, and the kernels launched inside it are all matched."""
    a, b = _run(tmp_path, "a", 128, 2, 10), _run(tmp_path, "b", 256, 3, 12)
    res = run_cli("diff", str(a), str(b), "--region", "decode", "--format", "json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)["diff"]
    il = [json.loads(run_cli("report", str(x), "--region", "decode", "--format", "json").stdout)["launch"]["il_ns"]
          for x in (a, b)]
    assert [d["il_ns_a"], d["il_ns_b"]] == il and d["il_delta_ns"] == il[1] - il[0]
    g = {r["name"]: r for r in d["kernels"]}["gemm_kernel<>"]
    assert (g["count_a"], g["count_b"]) == (2, 3)
    bad = run_cli("diff", str(a), str(b), "--step", "3")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no step 3" in bad.stderr


def test_a_run_against_itself_changes_nothing(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", 128, 3, 10)
    d = _diff(a, a)
    assert d["il_delta_ns"] == 0
    for kind in ("kernels", "ops", "regions"):
        assert all(r[k] == 0 for r in d[kind] for k in r if k.endswith("_delta")), kind
    assert all(p["delta_ns"] == 0 for p in d["phases"] + d["top_ops_wall"])


def test_unmatched_kernels_are_added_or_removed(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", 128, 2, 10)
    ev = [op("aten::softmax", 0, 20), runtime("cudaLaunchKernel", 5, 5, 1), kernel("softmax_kernel", 12, 8, 1)]
    src = write_trace(tmp_path / "c.json", ev)
    run_cli("import", str(src), "-o", str(tmp_path / "c"), "--no-report")
    d = _diff(a, tmp_path / "c")
    assert "by op: aten::softmax" in d["added"]["kernels"] and "by op: aten::mm" in d["removed"]["kernels"]
    assert d["device_matched_share"] == 0.0
    assert "aten::softmax" in d["added"]["ops"]


@needs_shared
def test_h100_against_mi300_matches_the_device_time() -> None:
    """The same Qwen model on an H100 and an MI300X: cuBLAS and rocBLAS kernels line up through the
    op that launched them; >= 95% of the device time is matched and the splits sum exactly."""
    d = _diff(TRACES / "tl_h100_qwen05b_chat_inference.json.gz", TRACES / "tl_mi300_qwen05b_chat_inference.json.gz")
    assert d["device_matched_share"] >= 0.95
    assert sum(p["delta_ns"] for p in d["phases"]) == d["il_delta_ns"] == sum(p["delta_ns"] for p in d["top_ops_wall"])


@pytest.fixture(scope="module")
def serving_sweep(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("sw") / "sw"
    res = run_cli("sweep", str(ROOT / "workloads" / "serving.py"), "--param", "batch_size=1,4", "-o", str(out),
                  "--", "--preset", "cpu-tiny")
    assert res.returncode == 0, res.stderr[-2000:]
    return sorted((out / "runs").iterdir())


def test_two_batch_sizes_of_one_workload(serving_sweep: list[Path]) -> None:
    """Two CPU runs of the serving workload (batch 1 and 4): >= 95% of the host op time matches, the
    splits sum exactly, and the larger batch takes longer."""
    d = _diff(*serving_sweep)
    assert d["host_matched_share"] >= 0.95 and d["device_matched_share"] == 1.0
    assert sum(p["delta_ns"] for p in d["phases"]) == d["il_delta_ns"] == sum(p["delta_ns"] for p in d["top_ops_wall"])
    assert d["regions"], "the workload's regions (prefill, decode) are compared"
    text = run_cli("diff", *map(str, serving_sweep)).stdout
    assert "sums to the change" in text


@needs_shared
def test_host_event_counts_agree_with_hta_tracediff() -> None:
    """HTA 0.5.0's TraceDiff.compare_traces (tests/oracles/hta_tracediff.json, written by
    bench/hta_tracediff_oracle.py) on two pairs of real traces, first iteration of each, host events:
    skiprof's per-name counts are the same, except that HTA also counts GPU annotations recorded
    without a stream argument as host events (the A100 DDP trace's), which skiprof keeps apart."""
    import skiprof
    from skiprof.analyzers import diff, select

    oracle = json.loads((ROOT / "tests" / "oracles" / "hta_tracediff.json").read_text())
    assert oracle["hta_version"].startswith("0.5") and len(oracle["pairs"]) == 2
    for pair in oracle["pairs"]:
        for side, (f, step) in enumerate(((pair["control"], pair["control_iteration"]), (pair["test"], pair["test_iteration"]))):
            v = select(skiprof.load(TRACES / f), step=step)
            ours = diff.host_events(v)
            r = v.regions
            gpu_ann: dict[str, int] = {}
            for n in r["name"].take(r["kind"].eq("gpu_annotation")).tolist():
                gpu_ann[n] = gpu_ann.get(n, 0) + 1
            for name, counts in pair["counts"].items():
                assert ours.get(name, {}).get("count", 0) + gpu_ann.get(name, 0) == counts[side], (pair["label"], side, name)
            assert set(ours) <= set(pair["counts"]), (pair["label"], side)
