"""Capture pieces that need no GPU to test: NVML sampling (with a stand-in NVML), export failures, names."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import skiprof
from skiprof._errors import UsageError
from skiprof.capture import _nvml, _session
from skiprof.capture._output import expand_output


class FakeNvml:
    """The slice of pynvml the sampler uses, with fixed readings."""

    NVML_CLOCK_SM = 1
    NVML_PCIE_UTIL_TX_BYTES = 0
    NVML_PCIE_UTIL_RX_BYTES = 1

    def __init__(self) -> None:
        self.shut = False

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"h{i}"

    def nvmlDeviceGetUtilizationRates(self, h: str) -> SimpleNamespace:
        return SimpleNamespace(gpu=50, memory=20)

    def nvmlDeviceGetMemoryInfo(self, h: str) -> SimpleNamespace:
        return SimpleNamespace(used=1 << 30)

    def nvmlDeviceGetClockInfo(self, h: str, kind: int) -> int:
        return 1410

    def nvmlDeviceGetPowerUsage(self, h: str) -> int:
        return 150_000  # mW

    def nvmlDeviceGetPcieThroughput(self, h: str, kind: int) -> int:
        return 100 if kind == 0 else 300  # KB/s


def test_sampler_reads_and_converts_units() -> None:
    fake = FakeNvml()
    s = _nvml.NvmlSampler(period=0.01, nvml=fake)
    s.start()
    time.sleep(0.08)
    s.stop()
    assert s.available and fake.shut
    assert len(s.samples) >= 2
    _, dev, values = s.samples[0]
    assert dev == 0
    assert values == {"gpu_util_pct": 50.0, "mem_util_pct": 20.0, "mem_used_bytes": float(1 << 30),
                      "sm_clock_mhz": 1410.0, "power_w": 150.0, "pcie_tx_bytes_s": 102400.0,
                      "pcie_rx_bytes_s": 307200.0}


def test_sampler_without_driver_is_quiet() -> None:
    class Broken:
        def nvmlInit(self) -> None:
            raise RuntimeError("NVML Shared Library Not Found")

    s = _nvml.NvmlSampler(nvml=Broken())
    s.start()
    s.stop()
    assert not s.available and s.samples == []


def test_counter_events_use_the_trace_clock() -> None:
    ev = _nvml.counter_events([(1_000_000_500_000, 0, {"power_w": 100.0})], base_ns=1_000_000_000_000)
    assert ev == [{"ph": "C", "name": "skiprof.nvml", "pid": "GPU 0", "tid": 0, "ts": 500.0,
                   "args": {"device": 0, "power_w": 100.0}}]


def test_capture_merges_nvml_counters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(_session, "NvmlSampler", lambda: _nvml.NvmlSampler(period=0.01, nvml=FakeNvml()))
    with skiprof.trace(tmp_path / "o"):
        for _ in range(5):
            torch.ones(16).sum()
            time.sleep(0.02)
    t = skiprof.load(tmp_path / "o")
    c = t.counters
    assert set(c["name"]) >= {"gpu_util_pct", "power_w"}
    assert (c.loc[c["name"] == "power_w", "value"] == 150.0).all()
    # Samples land inside the traced span: same clock as the ops.
    lo, hi = t.ops["ts"].min(), (t.ops["ts"] + t.ops["dur"]).max()
    inside = c["ts"].between(lo - 200_000_000, hi + 200_000_000)
    assert inside.mean() > 0.5
    assert t.meta.capture.nvml is True


def test_export_failure_is_reported(tmp_path: Path) -> None:
    sess = _session.Session(tmp_path, _session.CaptureOptions())

    class Prof:
        def export_chrome_trace(self, path: str) -> None:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    sess._export(Prof())
    assert not sess.exported
    assert "UnicodeDecodeError" in (sess.export_error or "") and "--with-stack" in (sess.export_error or "")


def test_output_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("RANK", "3")
    assert expand_output("out/%q{RANK}/r%%") == Path("out/3/r%")
    assert expand_output("p%p") == Path(f"p{os.getpid()}")
    monkeypatch.delenv("RANK")
    with pytest.raises(UsageError, match="RANK"):
        expand_output("out/%q{RANK}")


def test_region_decorator_and_step_without_trace() -> None:
    calls = []

    @skiprof.region("work")
    def work(x: int) -> int:
        calls.append(x)
        return x * 2

    assert work(3) == 6 and calls == [3]
    skiprof.step()  # no active trace: a no-op


def test_record_metrics_lands_in_the_folder(tmp_path: Path) -> None:
    import torch

    with skiprof.trace(tmp_path / "o"):
        torch.ones(3).sum()
        out = skiprof.record_metrics("demo", {"ttft_ms": 12.5, "tokens": 7}, units={"ttft_ms": "ms"})
    assert out == {"ttft_ms": 12.5, "tokens": 7}
    m = skiprof.load(tmp_path / "o").metrics.sort_values("name")
    assert m[["scenario", "name", "value", "unit"]].values.tolist() == [["demo", "tokens", 7.0, ""], ["demo", "ttft_ms", 12.5, "ms"]]
    assert not (tmp_path / "o" / "scenario.json").exists()


def test_record_metrics_refuses_nan_and_works_untraced() -> None:
    assert skiprof.record_metrics("demo", {"x": 1.0}) == {"x": 1.0}
    with pytest.raises(ValueError, match="finite"):
        skiprof.record_metrics("demo", {"x": float("nan")})


def test_schema_1_folders_still_load(tmp_path: Path) -> None:
    import json

    import torch

    with skiprof.trace(tmp_path / "o"):
        torch.ones(3).sum()
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    meta["schema_version"] = 1
    (tmp_path / "o" / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "o" / "metrics.parquet").unlink()
    t = skiprof.load(tmp_path / "o")
    assert len(t.metrics) == 0 and list(t.metrics.columns) == ["rank", "scenario", "name", "value", "unit"]
