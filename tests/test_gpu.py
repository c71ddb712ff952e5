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
