"""Module rollup: a hand-built tree with known answers, a real CPU capture with --with-modules, and
device time that adds up on a real GPU trace."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import TRACES, needs_shared, run_cli
from kineto import kernel, op, runtime, write_trace


def _mod(name: str, ts: float, dur: float) -> dict:
    return op(f"nn.Module: {name}", ts, dur, cat="python_function")


def _report(tmp: Path, events: list[dict]) -> dict:
    src = write_trace(tmp / "t.json", events)
    assert run_cli("import", str(src), "-o", str(tmp / "t"), "--no-report").returncode == 0
    return json.loads(run_cli("report", str(tmp / "t"), "--format", "json").stdout)["modules"]


def test_known_tree(tmp_path: Path) -> None:
    """Model_0 [0, 100) holds Linear_0 [10, 40) and Block_0 [50, 90), which holds Linear_1 [55, 80).
    Launches: one in Linear_0 (kernel 20 µs), one in Block_0 outside Linear_1 (5 µs), one in Linear_1
    (7 µs), one outside every module at 120 (11 µs)."""
    d = _report(tmp_path, [
        _mod("Model_0", 0, 100), _mod("Linear_0", 10, 30), _mod("Block_0", 50, 40), _mod("Linear_1", 55, 25),
        runtime("cudaLaunchKernel", 12, 3, 1), kernel("k1", 20, 20, 1),
        runtime("cudaLaunchKernel", 51, 2, 2), kernel("k2", 60, 5, 2),
        runtime("cudaLaunchKernel", 60, 2, 3), kernel("k3", 70, 7, 3),
        runtime("cudaLaunchKernel", 120, 2, 4), kernel("k4", 130, 11, 4)])
    m = {r["module"]: r for r in d["modules"]}
    assert set(m) == {"Model_0", "Model_0/Linear_0", "Model_0/Block_0", "Model_0/Block_0/Linear_1"}
    assert (m["Model_0"]["device_ns"], m["Model_0"]["self_device_ns"], m["Model_0"]["launches"]) == (32_000, 0, 3)
    assert (m["Model_0/Block_0"]["device_ns"], m["Model_0/Block_0"]["self_device_ns"]) == (12_000, 5_000)
    assert m["Model_0"]["self_host_ns"] == 100_000 - 30_000 - 40_000
    assert d["outside_device_ns"] == 11_000
    assert sum(r["self_device_ns"] for r in d["modules"]) + d["outside_device_ns"] == 20_000 + 5_000 + 7_000 + 11_000
    t = {r["type"]: r for r in d["types"]}
    assert (t["Linear"]["instances"], t["Linear"]["self_device_ns"]) == (2, 27_000)


def test_cpu_capture_with_modules(tmp_path: Path) -> None:
    script = tmp_path / "m.py"
    script.write_text("import torch\n"
                      "m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),\n"
                      "                        torch.nn.Sequential(torch.nn.Linear(16, 4), torch.nn.Tanh()))\n"
                      "for _ in range(3):\n"
                      "    m(torch.randn(2, 8))\n")
    res = run_cli("trace", "--with-modules", "--no-report", "-o", str(tmp_path / "run2"), str(script))
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(run_cli("report", str(tmp_path / "run2"), "--format", "json").stdout)["modules"]
    m = {r["module"]: r for r in d["modules"]}
    assert set(m) == {"Sequential_0", "Sequential_0/Linear_0", "Sequential_0/ReLU_0", "Sequential_0/Sequential_1",
                      "Sequential_0/Sequential_1/Linear_1", "Sequential_0/Sequential_1/Tanh_0"}
    assert all(r["calls"] == 3 for r in m.values())
    kids = [m[k]["host_ns"] for k in ("Sequential_0/Linear_0", "Sequential_0/ReLU_0", "Sequential_0/Sequential_1")]
    assert m["Sequential_0"]["host_ns"] >= sum(kids) and m["Sequential_0"]["self_host_ns"] >= 0
    assert sum(r["self_device_ns"] for r in d["modules"]) + d["outside_device_ns"] == 0  # a CPU run: no device work


def test_no_module_events_is_one_note(tmp_path: Path) -> None:
    d = _report(tmp_path, [op("aten::mm", 0, 10)])
    assert d["recorded"] is False
    assert "no nn.Module events" in run_cli("report", str(tmp_path / "t")).stdout


@needs_shared
def test_device_time_adds_up_on_qwen() -> None:
    """Per-module self device time plus the time launched outside any module is the linked device time (within 1%)."""
    import skiprof
    from skiprof.analyzers import Options, modules, select

    v = select(skiprof.load(TRACES / "tl_h100_qwen05b_chat_inference.json.gz"))
    r = modules.run(v, Options())
    total = int(v.per["dur"][v.per["launch_id"] >= 0].sum()) + int(v.per["dur"][v.per["launch_id"] < 0].sum())
    assert abs(sum(m["self_device_ns"] for m in r.modules) + r.outside_device_ns - total) <= total // 100
    assert any(m["type"] == "Qwen2Attention" for m in r.types)
