"""Every workload runs on the CPU in its smallest setting under skiprof trace, with its regions and metrics."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import skiprof
from conftest import ROOT, run_cli

WORKLOADS = {
    # name: (extra args, regions that must appear, metrics that must appear)
    "serving": (["--requests", "4", "--gen-len", "6"], {"prefill", "decode"}, {"ttft_ms_mean", "tpot_ms_mean", "tokens_per_s"}),
    "moe": (["--mode", "prefetch", "--steps", "2"], {"route", "h2d", "compute"}, {"load_imbalance", "expert_bytes_h2d", "stall_ms"}),
    "diffusion": (["--steps", "3", "--controlnet"], {"load", "patch", "denoise", "vae"}, {"addon_load_ms", "denoise_ms", "images_per_s"}),
    "cxl_offload": (["--steps", "2"], {"h2d", "compute", "d2h", "optimizer"}, {"bytes_h2d", "optimizer_share", "h2d_gb_per_s"}),
    "vision_pipeline": (["--images", "8", "--models", "2"], {"preprocess", "decode", "h2d", "compute", "broker", "postprocess"},
                        {"decode_share", "model_share", "images_per_s"}),
}


#: Real model definitions (transformers / diffusers built from configs): id -> (workload, extra args, regions, metrics).
REAL = {
    "serving-llama": ("serving", ["--model", "llama", "--requests", "4", "--gen-len", "6"], {"prefill", "decode"},
                      {"ttft_ms_mean", "tpot_ms_mean", "tokens_per_s"}),
    "serving-qwen2": ("serving", ["--model", "qwen2", "--requests", "2", "--gen-len", "4"], {"prefill", "decode"}, {"ttft_ms_mean"}),
    "serving-gpt2": ("serving", ["--model", "gpt2", "--requests", "2", "--gen-len", "4"], {"prefill", "decode"}, {"tpot_ms_mean"}),
    "moe-mixtral-prefetch": ("moe", ["--model", "mixtral", "--mode", "prefetch", "--steps", "2"], {"route", "h2d", "wait", "compute"},
                             {"expert_bytes_h2d", "stall_ms", "h2d_ms"}),
    "moe-mixtral-offload": ("moe", ["--model", "mixtral", "--mode", "offload", "--steps", "2"], {"route", "h2d", "compute"},
                            {"stall_ms"}),
    "diffusion-sd": ("diffusion", ["--model", "sd", "--steps", "3"], {"load", "patch", "denoise", "vae"},
                     {"addon_load_ms", "addon_patch_ms", "lora_share"}),
}


def _check_under_trace(tmp_path: Path, name: str, extra: list[str], regions: set[str], metrics: set[str]) -> skiprof.Trace:
    out = tmp_path / name
    r = run_cli("trace", "--no-report", "-o", str(out), str(ROOT / "workloads" / f"{name}.py"), *extra, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    t = skiprof.load(out)
    got_regions = set(t.regions.loc[t.regions["kind"] == "skiprof", "name"])
    assert regions <= got_regions, regions - got_regions
    m = t.metrics
    assert metrics <= set(m["name"]), metrics - set(m["name"])
    scenario = m["scenario"].iloc[0]
    assert line["scenario"] == scenario and line["preset"] == "cpu-tiny"
    for key in metrics:
        assert m.loc[m["name"] == key, "value"].iloc[0] == pytest.approx(line[key])
    rep = json.loads(run_cli("report", str(out), "--format", "json").stdout)
    assert sum(p["share"] for p in rep["phases"]["by_phase"].values()) == pytest.approx(1.0)
    assert {x["region"] for x in rep["scenario"]["regions"]} >= regions
    recorded = [x for x in rep["scenario"]["metrics"] if x["name"] != "launches_per_token"]
    assert len(recorded) == len(m)
    if "tokens" in set(m["name"]):  # derived from the trace's launch calls
        assert any(x["name"] == "launches_per_token" for x in rep["scenario"]["metrics"])
    return t


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_under_trace(tmp_path: Path, name: str) -> None:
    _check_under_trace(tmp_path, name, *WORKLOADS[name])


@pytest.mark.parametrize("case", sorted(REAL))
def test_real_model_workload_under_trace(tmp_path: Path, case: str) -> None:
    """transformers/diffusers models from configs, on the CPU, under skiprof trace: regions, metrics,
    every device activity linked (none on a CPU) and the host ops nested under their regions."""
    name, extra, regions, metrics = REAL[case]
    pytest.importorskip("transformers")
    if name == "diffusion":
        pytest.importorskip("diffusers")
    t = _check_under_trace(tmp_path, name, extra, regions, metrics)
    ops = t.ops
    assert (ops["cat"] == "cpu_op").sum() > 50
    s = t.meta.rank_stats(0)
    assert s.linked_to_launch == s.device_activities - s.orphans_before_window


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_help(name: str) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "workloads" / f"{name}.py"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--preset" in r.stdout and "--json" in r.stdout and "--device" in r.stdout


def test_vision_shares_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from skiprof.workloads import vision_pipeline

    seen: dict[str, float] = {}
    monkeypatch.setattr(skiprof, "record_metrics", lambda scenario, metrics, units=None: seen.update(metrics) or metrics)
    vision_pipeline.main(["--images", "4"])
    shares = [v for k, v in seen.items() if k.endswith("_share")]
    assert sum(shares) == pytest.approx(1.0)


def test_percentile_known_answers() -> None:
    # Linear interpolation between order statistics: p50 of 1..4 is 2.5, p90 is 3 + 0.7 = 3.7.
    from skiprof.workloads._common import percentile

    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert percentile([], 50) == 0.0
