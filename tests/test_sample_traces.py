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
    assert {"serving", "moe", "diffusion", "cxl_offload", "vision_pipeline"} <= names
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
