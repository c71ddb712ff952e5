"""The committed sample traces (traces/) load, re-import to the same tables, and report."""
from __future__ import annotations

from pathlib import Path

import pytest

import skiprof
from conftest import ROOT
from skiprof.commands.import_ import run_import

SAMPLES = sorted(p for p in (ROOT / "traces").iterdir() if (p / "meta.json").exists())


def test_there_is_a_sample_per_workload() -> None:
    names = {p.name for p in SAMPLES}
    assert {"serving", "moe", "diffusion", "cxl_offload", "vision_pipeline", "serving-llama", "moe-mixtral", "diffusion-sd"} <= names
    for p in SAMPLES:
        assert sum(f.stat().st_size for f in p.iterdir()) < 2_000_000


@pytest.mark.parametrize("folder", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_reimports_identically(tmp_path: Path, folder: Path) -> None:
    t = skiprof.load(folder)
    run_import([folder / "trace.json.gz"], tmp_path / "again", force=False)
    again = skiprof.load(tmp_path / "again")
    for name in ("ops", "launches", "kernels", "regions"):
        assert t.table(name).equals(again.table(name)), name
    d = skiprof.report(t).to_dict()
    assert d["launch"]["has_device_activity"] is False
    if folder.name != "example":
        assert len(d["scenario"]["metrics"]) > 0


GPU = sorted((ROOT / "traces" / "gpu").glob("*.json.gz"))


@pytest.mark.parametrize("path", GPU, ids=[p.name for p in GPU])
def test_gpu_traces_link(tmp_path: Path, path: Path) -> None:
    """The traces skiprof captured on a GPU machine: every device activity linked to its launch and op."""
    s = run_import([path], tmp_path / "o", force=False).ranks[0]
    assert s.activities > 100
    assert s.launch_link_rate == 1.0 and s.op_link_rate == 1.0
    assert set(skiprof.report(tmp_path / "o").to_dict()) >= {"launch", "boundness", "phases"}


def test_real_model_samples_carry_their_scenario_metrics() -> None:
    for name, metric in (("serving-llama", "ttft_ms_mean"), ("moe-mixtral", "stall_ms"), ("diffusion-sd", "lora_share")):
        m = skiprof.load(ROOT / "traces" / name).metrics
        assert metric in set(m["name"]), name
