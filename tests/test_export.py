"""Chrome/Perfetto export: it round-trips through import, and carries skiprof's findings."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import skiprof
from conftest import TRACES, needs_shared, run_cli
from kineto import linking_trace, write_trace
from skiprof.commands.export import export_chrome
from skiprof.commands.import_ import run_import

TABLES = ("ops", "launches", "kernels", "regions", "counters")


def _roundtrip(tmp_path: Path, src: Path) -> tuple[skiprof.Trace, skiprof.Trace, dict]:
    run_import([src], tmp_path / "a", force=False)
    export_chrome(tmp_path / "a", tmp_path / "x.json.gz")
    run_import([tmp_path / "x.json.gz"], tmp_path / "b", force=False)
    doc = json.loads(gzip.decompress((tmp_path / "x.json.gz").read_bytes()))
    return skiprof.load(tmp_path / "a"), skiprof.load(tmp_path / "b"), doc


def test_roundtrip_hand_built(tmp_path: Path) -> None:
    events = linking_trace() + [{"ph": "C", "name": "skiprof.nvml", "pid": "GPU 0", "tid": 0, "ts": 5,
                                 "args": {"device": 0, "power_w": 100.5}}]
    a, b, doc = _roundtrip(tmp_path, write_trace(tmp_path / "t.json", events))
    for name in TABLES:
        assert a.table(name).equals(b.table(name)), name
    gemm = next(e for e in doc["traceEvents"] if e.get("name") == "gemm_kernel")
    assert gemm["args"]["skiprof launch_queue_ns"] == 20_000 and gemm["args"]["skiprof op"] == "aten::addmm"
    assert {e["ph"] for e in doc["traceEvents"] if e.get("cat") == "ac2g"} == {"s", "f"}
    tracks = {e["tid"] for e in doc["traceEvents"] if e.get("cat") == "skiprof_annotation"}
    assert tracks == {"boundness", "phases", "critical path"}


@needs_shared
@pytest.mark.parametrize("name", ["hta_v100_resnet_ns_resolution", "tl_vllm_decode_cudagraph", "hta_mi250_rocm_minitoy"])
def test_roundtrip_real(tmp_path: Path, name: str) -> None:
    a, b, _ = _roundtrip(tmp_path, TRACES / f"{name}.json.gz")
    for table in TABLES:
        assert a.table(table).equals(b.table(table)), table


def test_export_cli(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    run_cli("import", str(src), "-o", str(tmp_path / "a"))
    r = run_cli("export", str(tmp_path / "a"), "-o", str(tmp_path / "x.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "x.json").read_text())["traceEvents"]
    again = run_cli("export", str(tmp_path / "a"), "-o", str(tmp_path / "x.json"))
    assert again.returncode == 2 and "already exists" in again.stderr
