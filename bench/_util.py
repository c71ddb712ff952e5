"""Helpers for the benchmarks: run a command as its own process and read its wall time and peak RSS."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKIPROF_SHARED", ROOT.parent / "shared"))
OUT = ROOT / "bench" / "out"


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_mb: float


def run(cmd: list[str]) -> Run:
    """Run ``cmd`` to completion; its own peak RSS comes from wait4, not from the parent."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    return Run(wall, usage.ru_maxrss / 1024)


def median_runs(cmds: dict[str, list[str]], repeat: int) -> dict[str, list[Run]]:
    """Run each command ``repeat`` times, interleaved, so that machine noise hits all alike."""
    results: dict[str, list[Run]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            results[name].append(run(cmd))
    return results


def med(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall_s for r in runs), max(r.peak_rss_mb for r in runs))


PY = sys.executable
BASELINE = [PY, "-c", "import gzip, json, sys; json.loads(gzip.open(sys.argv[1]).read())"]
