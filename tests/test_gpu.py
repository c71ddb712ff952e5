"""Checks that need a CUDA device (pytest -m gpu; bench/gpu_check.sh runs them on a lent GPU).

Skipped on machines without one, which is where CI runs: the GPU path is otherwise checked on
every CI run through the real GPU traces in ../shared/traces.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import skiprof
from conftest import run_cli

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

SCRIPT = """
import torch, skiprof
x = torch.randn(2048, 2048, device="cuda")
small = torch.randn(64, device="cuda")
host = torch.randn(1 << 20).pin_memory()
g = torch.cuda.CUDAGraph()
static = torch.randn(256, device="cuda")
for _ in range(2):
    static = static * 2 + 1  # warm-up before capture
x = (x @ x).tanh()  # cuBLAS sets itself up here (100 ms on an H200), outside the regions
torch.cuda.synchronize()
with torch.cuda.graph(g):
    out = static * 2 + 1
    out = out.relu() + 1
for step in range(4):
    with skiprof.region("launch_bound"):
        for _ in range(200):
            small = small + 1          # tiny kernels: the GPU waits for launches
    with skiprof.region("gpu_bound"):
        for _ in range(20):
            x = (x @ x).tanh()         # long kernels: the host runs ahead
    dev = host.to("cuda", non_blocking=True)
    g.replay()
    torch.cuda.synchronize()
    skiprof.step()
print("done", float(x[0, 0]))
"""


@pytest.fixture(scope="module")
def gpu_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gpu")
    (tmp / "w.py").write_text(SCRIPT)
    r = run_cli("trace", "--no-report", "-o", str(tmp / "run"), str(tmp / "w.py"))
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "run"


def test_every_activity_linked_on_a_real_gpu(gpu_trace: Path) -> None:
    t = skiprof.load(gpu_trace)
    s = t.meta.rank_stats(0)
    assert s.device_activities > 900
    assert s.linked_to_launch >= 0.99 * (s.device_activities - s.orphans_before_window)
    assert s.linked_to_op >= 0.99 * (s.device_activities - s.orphans_before_window)
    assert t.meta.capture.nvml and set(t.counters["name"]) >= {"gpu_util_pct", "main_thread_cpu_ns"}


def test_graph_launch_accounting_on_a_real_graph(gpu_trace: Path) -> None:
    d = skiprof.report(gpu_trace).to_dict()["launch"]
    assert d["graph_launches"] >= 4 and d["graph_member_activities"] >= 4
    assert d["launch_ns"] <= d["tklqt_ns"]


def test_regions_labelled_by_their_evidence(gpu_trace: Path) -> None:
    # First run on an H200: with cuBLAS's set-up inside the gpu_bound region its first occurrence was
    # 100 ms of host time with the GPU idle, and the label said cpu-bound, as the evidence did.
    bound = skiprof.report(gpu_trace, region="gpu_bound").to_dict()["boundness"]
    assert bound["overall"] == "gpu-bound", bound["evidence"]
    launch = skiprof.report(gpu_trace, region="launch_bound").to_dict()["boundness"]
    assert launch["overall"] in ("cpu-bound", "gpu-bound") and launch["evidence"]["queue_share"] < bound["evidence"]["queue_share"]


def test_identity_replay_on_a_captured_gpu_trace(gpu_trace: Path) -> None:
    from skiprof.analyzers import select, whatif

    p = whatif.replay(select(skiprof.load(gpu_trace)))
    assert abs(p.il_change) <= 0.001


def test_calibrate_measures_gpu_floors(tmp_path: Path) -> None:
    """On a GPU, calibrate measures the null-kernel launch, the synchronize round trip and H2D/D2H
    bandwidth, each with a spread; the launch floor is in the microseconds the SKIP paper reports."""
    import json

    res = run_cli("calibrate", "--json", "--dry-run", "-o", str(tmp_path / "cal.json"))
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((tmp_path / "cal.json").read_text())
    figs = doc["figures"]
    for key in ("null_launch_ns", "sync_round_trip_ns", "h2d_pinned_gbps", "d2h_pinned_gbps", "h2d_pageable_gbps",
                "d2h_pageable_gbps"):
        assert figs[key]["min"] <= figs[key]["median"] <= figs[key]["max"], key
    assert 300 <= figs["null_launch_ns"]["median"] <= 50_000
    assert doc["device"]


WINDOW_SCRIPT = """
import time, torch, skiprof
x = torch.randn(4096, 4096, device="cuda")
small = torch.randn(64, device="cuda")
end = time.time() + 5
while time.time() < end:
    for _ in range(100):
        small = small + 1
    x = (x @ x).tanh()
    torch.cuda.synchronize()
    skiprof.step()
"""


def test_windows_on_a_gpu(tmp_path: Path) -> None:
    """Periodic windows of a GPU loop link their kernels like a whole-run capture, and the report over
    windows gives each a boundness label from device evidence and an HDBI."""
    import json

    (tmp_path / "w.py").write_text(WINDOW_SCRIPT)
    r = run_cli("trace", "--every", "1.5", "--duration", "0.4", "--keep", "2", "-o", str(tmp_path / "run"),
                str(tmp_path / "w.py"))
    assert r.returncode == 0, r.stderr[-3000:]
    rep = run_cli("report", str(tmp_path / "run"), "--format", "json")
    assert rep.returncode == 0, rep.stderr
    rows = json.loads(rep.stdout)["windows"]["windows"]
    assert len(rows) == 2
    for row in rows:
        assert row["kernels"] > 0 and row["label"] != "no-gpu-work" and 0 < row["hdbi"] <= 1
        s = skiprof.load(tmp_path / "run" / row["folder"]).meta.rank_stats(0)
        assert s.linked_to_launch >= 0.99 * (s.device_activities - s.orphans_before_window)
