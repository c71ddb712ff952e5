"""Import speed, memory and re-open time, against a json.loads baseline measured in the same run.

    python bench/bench_import.py [--trace FILE] [--repeat 5] [--scale] [--compare CHECKOUT]

Targets (the Core issue): import wall time <= 0.8x a process that only gunzips the file
and runs json.loads on it; peak RSS <= 250 MB; skiprof.load + reading every table <= 0.15 s;
on the 10x trace (bench/make_scaled.py) import <= 6 s with peak RSS <= 800 MB. Later targets:
<= 0.7x the baseline and <= 3 s on the 10x trace. --compare CHECKOUT also times another checkout of
skiprof (say, the commit before a change) in the same interleaved runs. Last, it prints how much
two processes gain on this machine at all (bench/_util.py two_at_once): the import decodes on both
cores, so its ratio moves with that.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from _util import BASELINE, OUT, PY, ROOT, common_args, med, median_runs, two_at_once

REOPEN = """
import sys, time
import pandas, pyarrow, skiprof
t = time.perf_counter()
tr = skiprof.load(sys.argv[1])
for name in ("ops", "launches", "kernels", "regions", "counters"):
    tr.frame(name)
print(time.perf_counter() - t)
"""


def bench(trace: Path, repeat: int, compare: Path | None = None) -> None:
    out = OUT / f"{trace.name}.skiprof"
    cmds = {
        "json.loads baseline": BASELINE + [str(trace)],
        "skiprof import": [PY, "-m", "skiprof", "import", str(trace), "-o", str(out), "-f", "--no-report"],
    }
    if compare is not None:  # the other checkout's package first on the path
        cmds["import (--compare)"] = [PY, "-c", f"import sys; sys.path.insert(0, {str(compare)!r}); sys.argv[0] = 'skiprof'; "
                                      "from skiprof._entry import main; main()", "import", str(trace), "-o", str(out) + ".cmp",
                                      "-f", "--no-report"]
    res = {k: med(v) for k, v in median_runs(cmds, repeat).items()}
    base, ours = res["json.loads baseline"], res["skiprof import"]
    print(f"trace: {trace} ({trace.stat().st_size / 1e6:.1f} MB on disk), median of {repeat} interleaved runs")
    for name, r in res.items():
        print(f"  {name:22s} {r.wall_s:6.3f} s   peak RSS {r.peak_rss_mb:7.1f} MB")
    print(f"  import / baseline wall ratio: {ours.wall_s / base.wall_s:.2f}  (targets <= 0.80, later <= 0.70)")
    if compare is not None:
        other = res["import (--compare)"]
        print(f"  --compare / baseline wall ratio: {other.wall_s / base.wall_s:.2f}; this checkout / --compare: "
              f"{ours.wall_s / other.wall_s:.2f}")
    times = []
    for _ in range(repeat):
        r = subprocess.run([PY, "-c", REOPEN, str(out)], capture_output=True, text=True, check=True,
                           env={"PYTHONPATH": str(ROOT), "PATH": ""})
        times.append(float(r.stdout.strip()))
    times.sort()
    print(f"  re-open (skiprof.load + every table as pandas): {times[len(times) // 2]:.3f} s  (target <= 0.15)")


def main() -> None:
    a = common_args(__doc__ or "", "also run on the 10x trace (built on first use)",
                    extra=[("--compare", {"type": Path, "default": None, "help": "another skiprof checkout to time beside"})])
    bench(a.trace, a.repeat, a.compare)
    if a.scale:
        from make_scaled import scaled_path

        big = scaled_path(a.trace, 10)
        bench(big, max(1, a.repeat // 2), a.compare)
    # The import decodes on both cores; how much two cores give at all drifts with the host.
    print(f"this machine, two json.loads processes started together / twice one alone: "
          f"{two_at_once(BASELINE + [str(a.trace)], max(1, a.repeat // 2)):.2f} (0.50 on two independent cores)")
    shutil.rmtree(OUT / f"{a.trace.name}.skiprof", ignore_errors=True)


if __name__ == "__main__":
    main()
