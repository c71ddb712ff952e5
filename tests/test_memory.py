"""The memory analysis: a hand-built trace with a known peak, and a real CPU capture against
torch.profiler's own memory events."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from kineto import op, write_trace


def mem(ts: float, nbytes: int, total: int, reserved: int, device: int = 0, kind: int = 1) -> dict:
    return {"ph": "i", "cat": "cpu_instant_event", "name": "[memory]", "pid": 100, "tid": 100, "ts": ts, "s": "t",
            "args": {"Device Type": kind, "Device Id": device, "Bytes": nbytes, "Total Allocated": total,
                     "Total Reserved": reserved, "Addr": 1}}


def test_known_peak(tmp_path: Path) -> None:
    """GPU 0: +4 MiB (in aten::empty inside aten::linear), +8 MiB (peak 12 MiB, reserved 16 MiB), -4 MiB,
    +2 MiB; the CPU: +1 KiB (inside aten::linear). Peaks by device, the op at the peak, and the allocators by bytes."""
    mib = 1 << 20
    ev = [op("aten::linear", 0, 100), op("aten::empty", 5, 10), mem(6, 4 * mib, 4 * mib, 8 * mib),
          op("aten::mm", 20, 10), mem(21, 8 * mib, 12 * mib, 16 * mib), mem(40, -4 * mib, 8 * mib, 16 * mib),
          op("aten::empty", 50, 5), mem(51, 2 * mib, 10 * mib, 16 * mib), mem(60, 1024, 1024, 0, -1, 0)]
    src = write_trace(tmp_path / "t.json", ev)
    assert run_cli("import", str(src), "-o", str(tmp_path / "t"), "--no-report").returncode == 0
    d = json.loads(run_cli("report", str(tmp_path / "t"), "--format", "json").stdout)["memory"]
    by = {p["device"]: p for p in d["devices"]}
    g = by["device 0"]
    assert (g["peak_allocated_bytes"], g["peak_reserved_bytes"], g["op_at_peak"], g["top_op_at_peak"]) == \
        (12 * mib, 16 * mib, "aten::mm", "aten::linear")
    assert (g["allocated_bytes"], g["freed_bytes"], g["events"]) == (14 * mib, 4 * mib, 4)
    assert by["CPU"]["peak_allocated_bytes"] == 1024
    assert [a["op"] for a in d["allocators"]] == ["aten::mm", "aten::empty", "aten::linear"]  # the CPU KiB at 60 µs
    assert d["allocators"][1]["allocated_bytes"] == 6 * mib
    html = run_cli("report", str(tmp_path / "t"), "--format", "html").stdout
    assert "Allocated memory over time" in html


def test_no_memory_events_is_one_note(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", [op("aten::mm", 0, 10)])
    run_cli("import", str(src), "-o", str(tmp_path / "t"), "--no-report")
    out = run_cli("report", str(tmp_path / "t")).stdout
    assert "no memory events: record them with skiprof trace --profile-memory" in out
    assert json.loads(run_cli("report", str(tmp_path / "t"), "--format", "json").stdout)["memory"]["recorded"] is False


def test_cpu_capture_agrees_with_torch_profiler(tmp_path: Path) -> None:
    """torch.profiler with profile_memory=True around 4 MiB, 8 MiB and 12 MiB tensors: skiprof's peak
    equals the largest 'Total Allocated' of the profiler's own events, and the 20 MiB worked out by hand."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        a = torch.empty(1 << 20)
        b = torch.empty(2 << 20)
        del a
        c = torch.empty(3 << 20)
        del b, c
    raw = tmp_path / "raw.json"
    prof.export_chrome_trace(str(raw))
    theirs = max(e["args"]["Total Allocated"] for e in json.loads(raw.read_text())["traceEvents"] if e.get("name") == "[memory]")
    assert run_cli("import", str(raw), "-o", str(tmp_path / "t"), "--no-report").returncode == 0
    d = json.loads(run_cli("report", str(tmp_path / "t"), "--format", "json").stdout)["memory"]
    (cpu,) = d["devices"]
    assert cpu["peak_allocated_bytes"] == theirs == 20 << 20
