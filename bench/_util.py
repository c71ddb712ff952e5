"""Helpers for the benchmarks: run a command as its own process and read its wall time and peak RSS."""
from __future__ import annotations

import argparse
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
    cpu_s: float = 0.0  # user + system time of the process and the children it waited for
    sys_s: float = 0.0  # the system part of cpu_s


#: Marks a command to run as an installed skiprof runs: without this checkout on PYTHONPATH, and
#: outside it (a source tree in the working folder would shadow the installed package).
INSTALLED = "--as-installed--"


def run(cmd: list[str], extra_env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to completion (with ``extra_env`` added to the environment); its own peak RSS
    comes from wait4, not from the parent."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", **(extra_env or {}))
    cwd = None
    if cmd and cmd[0] == INSTALLED:
        cmd, cwd = cmd[1:], "/"
        env.pop("PYTHONPATH")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    return Run(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, usage.ru_stime)


def median_runs(cmds: dict[str, list[str]], repeat: int) -> dict[str, list[Run]]:
    """Run each command ``repeat`` times, interleaved, so that machine noise hits all alike."""
    results: dict[str, list[Run]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            results[name].append(run(cmd))
    return results


def two_at_once(cmd: list[str], repeat: int) -> float:
    """How much two processes on two cores gained on this machine just now: the wall time of two
    copies of ``cmd`` started together over twice the time of one alone (median of ``repeat``
    interleaved tries). 0.5 where the cores are independent; more where they share an SMT core,
    caches or memory bandwidth, or a neighbour on the host takes its share. It is context for a
    parallel ratio measured in the same run, not a bound on it (the machine's load moves between
    the two measurements)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    alone, both = [], []
    for _ in range(repeat):
        alone.append(run(cmd).wall_s)
        start = time.perf_counter()
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit(f"command failed: {' '.join(cmd)}")
        both.append(time.perf_counter() - start)
    return statistics.median(both) / (2 * statistics.median(alone))


def med(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall_s for r in runs), max(r.peak_rss_mb for r in runs),
               statistics.median(r.cpu_s for r in runs), statistics.median(r.sys_s for r in runs))


PY = sys.executable
BASELINE = [PY, "-c", "import gzip, json, sys; json.loads(gzip.open(sys.argv[1]).read())"]


def common_args(doc: str, scale_help: str, extra: list[tuple[str, dict]] | None = None) -> argparse.Namespace:
    """--trace/--repeat/--scale (and ``extra`` options) for a benchmark; checks the trace and
    byte-compiles skiprof first."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", type=Path, default=SHARED / "traces" / "hta_v100_ddp2_df_index_resolver.json.gz")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", action="store_true", help=scale_help)
    for flag, kw in extra or []:
        ap.add_argument(flag, **kw)
    a = ap.parse_args()
    if not a.trace.exists():
        sys.exit(f"{a.trace}: not found (set SKIPROF_SHARED or pass --trace)")
    OUT.mkdir(parents=True, exist_ok=True)
    precompile()
    return a


def precompile() -> None:
    """Byte-compile skiprof once, as pip does at install time (PYTHONDONTWRITEBYTECODE may be set)."""
    import compileall

    compileall.compile_dir(str(ROOT / "skiprof"), quiet=1)
    compileall.compile_dir(str(ROOT / "analyzers"), quiet=1)
