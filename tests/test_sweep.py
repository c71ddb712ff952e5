"""Sweep and transition: the grid, failures, resume, and the transition criteria on known curves."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from skiprof.analyzers import transition
from skiprof.commands.sweep import parse_param, plan


def test_plan_is_the_product_with_warmups() -> None:
    runs = plan([parse_param("batch_size=1,2"), parse_param("prompt-len=8,16")], repeat=2, warmup=1)
    assert len(runs) == 2 * 2 * 3
    assert runs[0]["config"] == {"batch_size": "1", "prompt_len": "8"} and runs[0]["repeat"] == -1
    assert [r["run"] for r in runs] == list(range(12))
    with pytest.raises(Exception, match="NAME=V1,V2"):
        parse_param("batch_size")


def _figs(l_ns: float, q_ns: float, n: int = 10) -> dict[str, float]:
    lq = (l_ns + q_ns) * n
    return {"tklqt_ns": lq, "il_ns": 1000.0, "akd_ns": 5.0, "gpu_idle_share": 0.5,
            "queue_share": q_ns * n / lq if lq else 0.0, "launch_share": l_ns * n / lq if lq else 0.0,
            "launch_ns_per_kernel": l_ns, "queue_ns_per_kernel": q_ns, "kernels": n}


def test_transition_on_a_known_curve() -> None:
    # Launch 10 per kernel throughout; queue 0,0,0,30,60 at batch 1..16. TKLQT = 10*(10+q):
    # 100, 100, 100, 400, 700 -> flat then straight in log2(batch): the knee is at 4. Queue first
    # exceeds launch at 8, the neighbour of 4, so the criteria agree.
    rows = [(float(b), _figs(10, q)) for b, q in zip((1, 2, 4, 8, 16), (0, 0, 0, 30, 60))]
    rows.append((8.0, _figs(10, 30)))  # a repeat averages in
    cfg = transition.per_config(rows)
    assert cfg["value"] == [1, 2, 4, 8, 16] and cfg["runs"] == [1, 1, 1, 2, 1]
    assert cfg["tklqt_ns"] == [100, 100, 100, 400, 700]
    t = transition.locate(cfg)
    assert (t.queue_over_launch, t.knee, t.confidence) == (8.0, 4.0, "high")


def test_transition_without_device_work_or_without_queueing() -> None:
    cfg = transition.per_config([(1.0, _figs(0, 0, 0)), (2.0, _figs(0, 0, 0))])
    assert transition.locate(cfg).confidence == "none"
    flat = transition.per_config([(float(b), _figs(10, 0)) for b in (1, 2, 4, 8)])
    t = transition.locate(flat)
    assert (t.queue_over_launch, t.knee, t.confidence) == (None, None, "low")


def test_sweep_end_to_end(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import argparse, sys, torch, skiprof\n"
        "ap = argparse.ArgumentParser(); ap.add_argument('--batch-size', type=int); ap.add_argument('--extra')\n"
        "a = ap.parse_args()\n"
        "if a.batch_size == 3: sys.exit('batch 3 is not supported')\n"
        "with skiprof.region('compute'):\n"
        "    torch.ones(a.batch_size, 8).sum()\n"
        "skiprof.record_metrics('job', {'batch': a.batch_size, 'extra': float(a.extra == 'x')})\n"
    )
    out = tmp_path / "sw"
    r = run_cli("sweep", str(script), "--param", "batch_size=1,2,3", "-o", str(out), "--", "--extra", "x")
    assert r.returncode == 4, r.stderr  # one run of three failed: the exit code says so (docs/cli.md)
    rec = json.loads((out / "sweep.json").read_text())
    assert [x["status"] for x in rec["runs"]] == ["ok", "ok", "failed"]
    assert "batch 3 is not supported" in rec["runs"][2]["error"]
    assert (out / "runs" / "run=001" / "meta.json").exists()
    rows = list(csv.reader((out / "transition.csv").open()))
    assert rows[0][0] == "batch_size" and [row[0] for row in rows[1:]] == ["1.0", "2.0"]
    assert (out / "transition.png").stat().st_size > 1000
    assert "no device activity" in r.stdout
    import skiprof

    m = skiprof.load(out / "runs" / "run=000").metrics
    assert dict(zip(m["name"], m["value"])) == {"batch": 1.0, "extra": 1.0}
    # --resume reruns only what did not succeed; without it an existing folder is refused.
    again = run_cli("sweep", str(script), "--param", "batch_size=1,2,3", "-o", str(out), "--resume", "--", "--extra", "x")
    assert again.returncode == 4  # run 3 fails again
    rec2 = json.loads((out / "sweep.json").read_text())
    assert [x["seconds"] for x in rec2["runs"][:2]] == [x["seconds"] for x in rec["runs"][:2]]
    refused = run_cli("sweep", str(script), "--param", "batch_size=1", "-o", str(out))
    assert refused.returncode == 2 and "already exists" in refused.stderr


def test_sweep_of_the_serving_workload(tmp_path: Path) -> None:
    out = tmp_path / "serve"
    r = run_cli("sweep", str(ROOT / "workloads" / "serving.py"), "--param", "batch_size=1,2", "-o", str(out),
                "--", "--requests", "2", "--gen-len", "3")
    assert r.returncode == 0, r.stderr
    assert (out / "transition.csv").exists() and (out / "transition.png").exists()
    t = run_cli("transition", str(out))
    assert t.returncode == 0 and "Sweep over batch_size" in t.stdout
    page = run_cli("report", str(out), "-o", str(tmp_path / "sweep.html"))
    assert page.returncode == 0, page.stderr
    assert "Sweep over batch_size" in (tmp_path / "sweep.html").read_text()
