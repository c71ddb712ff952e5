"""skiprof's HTA-style temporal breakdown against HTA's own numbers on the real traces."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import skiprof
from conftest import ORACLES, needs_shared, real_traces
from skiprof.analyzers import _view, hta

pytestmark = needs_shared


def _oracle_idle(name: str) -> float | None:
    o = json.loads((ORACLES / f"{name}.hta_summary.json").read_text())
    tb = o.get("temporal_breakdown")
    return tb[0]["idle_time_pctg"] if tb else None


@pytest.mark.parametrize("name", [p.name.removesuffix(".json.gz") for p in real_traces()])
def test_gpu_idle_share_matches_hta(imported_real: dict[str, Path], name: str) -> None:
    expected = _oracle_idle(name)
    if expected is None:
        pytest.skip("HTA's temporal breakdown failed on this trace (see its oracle)")
    b = hta.temporal_breakdown(_view.select(skiprof.load(imported_real[name])))
    assert abs(100 * b.idle_share - expected) <= 1.0, (100 * b.idle_share, expected)


def test_whatif_identity_replay_on_real_traces(imported_real: dict[str, Path]) -> None:
    """With no knob the replay reproduces the measured latency within 5% (docs/whatif.md has the table)."""
    from skiprof.analyzers import whatif

    close = []
    for folder in imported_real.values():
        p = whatif.replay(_view.select(skiprof.load(folder)))
        close.append(abs(p.il_change) <= 0.05)
    assert sum(close) >= 10 and sum(close) >= len(close) - 1
