"""What the idle window machinery costs a server: throughput with and without ``--every``.

    python bench/bench_windows.py [--repeat 5] [--requests 600]

The serving workload (hand-built decoder, CPU preset, requests arriving faster than it serves, so
tokens/s is what it can do) runs as plain ``python`` and under ``skiprof trace --every 300
--duration 2 --delay 600``: the window machinery is armed (the timer thread, the signal handlers,
the profiler warmed up once at start) but no window falls inside the run, which is what a server
pays between windows. The runs alternate so that machine noise hits both alike; the figure is the
ratio of median tokens/s. Target: <= 2% lower.

With --recording, a third command shows what windows cost while they record: --every 2
--duration 0.5 over the same run (for information; no target; slow).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVING = ROOT / "workloads" / "serving.py"


def tokens_per_s(cmd: list[str]) -> float:
    """Run one serving process; its tokens/s from the --json line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    line = [x for x in res.stdout.splitlines() if x.startswith("{")][-1]
    return float(json.loads(line)["tokens_per_s"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--recording", action="store_true", help="also run with windows recording every 2 s")
    args = ap.parse_args()
    work = ["--requests", str(args.requests), "--rate", "100000", "--json"]
    tmp = Path(tempfile.mkdtemp(prefix="skiprof-bench-windows-"))
    plain = [sys.executable, str(SERVING), *work]

    def traced(n: int, *opts: str) -> list[str]:
        return [sys.executable, "-m", "skiprof", "trace", *opts, "-f", "-o", str(tmp / f"run{n}"), "--no-report",
                str(SERVING), *work]

    idle = traced(0, "--every", "300", "--duration", "2", "--delay", "600")
    busy = traced(1, "--every", "2", "--duration", "0.5")
    cmds = {"python": plain, "idle windows": idle, **({"windows recording": busy} if args.recording else {})}
    got: dict[str, list[float]] = {k: [] for k in cmds}
    try:
        tokens_per_s(plain)  # warm the file cache and byte-compile
        for i in range(args.repeat):
            for name, cmd in cmds.items():
                got[name].append(tokens_per_s(cmd))
            print(f"round {i + 1}/{args.repeat}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in got.items()), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(got["python"])
    print(f"\nserving throughput, median of {args.repeat} (tokens/s; baseline: plain python in the same run)")
    for name, values in got.items():
        m = statistics.median(values)
        print(f"  {name:<18} {m:>10,.0f}  ratio {m / base:.3f}  (min {min(values):,.0f}, max {max(values):,.0f})")
    cost = 1 - statistics.median(got["idle windows"]) / base
    print(f"\nidle window machinery costs {100 * cost:.1f}% of throughput (target <= 2%): "
          f"{'met' if cost <= 0.02 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
