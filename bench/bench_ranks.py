"""Many ranks: parallel import, its memory, and the cross-rank report, locally and on a local Dask cluster.

    python bench/bench_ranks.py [--repeat 3] [--quick]

1. 16 copies of the V100 trace (bench/make_ranks.py): ``skiprof import -j 1`` against ``-j 2``, and
   the peak RSS of any process of the import (wait4 reports the largest of the process tree)
   against a single-rank import of one copy. Baseline in the same run: a process that only
   gunzips and json.loads one copy. Targets: -j 2 <= 0.6x the time of -j 1; peak RSS <= 1.5x the
   single-rank import's. Beside the ratio, for context: two json.loads processes started together
   against twice one alone (0.5 on two independent cores), and each import's CPU time over its wall
   time (-j 1 already uses more than one core: Parquet files are encoded in threads).
2. 8, 64 and 256 ranks of a small trace (tl_h100_bert_small_inference): import and cross-rank
   report with the local pool (-j 2) and with a local Dask cluster of 2 worker processes; for
   Dask, the peak RSS of each worker (asked of the workers themselves) and of the client.
   Target: 256 ranks through Dask imported and reported with no process over 1 GB.

--quick runs only 8 and 64 ranks in part 2 and one repeat.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from make_ranks import DEFAULT

from _util import BASELINE, OUT, PY, ROOT, SHARED, med, median_runs, precompile, two_at_once


def make_ranks(trace: Path, n: int) -> Path:
    """bench/make_ranks.py in its own process: this one stays small, and the processes it starts
    inherit its size until they exec (Linux counts that in their peak RSS)."""
    r = subprocess.run([PY, str(ROOT / "bench" / "make_ranks.py"), "--trace", str(trace), "--ranks", str(n)],
                       capture_output=True, text=True, check=True)
    return Path(r.stdout.strip().splitlines()[-1])

SMALL = SHARED / "traces" / "tl_h100_bert_small_inference.json.gz"

#: Run in a child process: the Dask engine end to end (with the library settings of the command line;
#: its workers inherit them), then every process's peak RSS.
DASK_CHILD = """
import json, os, resource, sys, time
from skiprof._entry import tune_libraries
tune_libraries(["skiprof", "import"], os.environ)  # as `skiprof import --engine dask` does, before pyarrow loads
from pathlib import Path
from skiprof._spread import spread
from skiprof.commands.import_ import run_import
from skiprof._analysis import report

src, out = Path(sys.argv[1]), Path(sys.argv[2])
def peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with spread("dask", jobs=2) as sp:
    t = time.perf_counter()
    run_import([src], out, force=True, spread=sp)
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    doc = report(out, spread=sp).to_dict()
    t_report = time.perf_counter() - t
    workers = sp.client.run(peak_mb)
print(json.dumps({"import_s": t_import, "report_s": t_report, "ranks": len(doc["ranks"]),
                  "stragglers": sorted({s["rank"] for s in doc["stragglers"]}),
                  "worker_peak_mb": sorted(workers.values()), "client_peak_mb": peak_mb()}))
"""


def part1(repeat: int) -> None:
    src = make_ranks(DEFAULT, 16)
    one = src / "rank0.json.gz"
    out = OUT / "bench-ranks"
    imp = [PY, "-m", "skiprof", "import", "-f", "--no-report"]
    cmds = {
        "json.loads of one rank": BASELINE + [str(one)],
        "import 1 rank": [*imp, str(one), "-o", str(out / "one")],
        "import 16 ranks -j 1": [*imp, str(src), "-o", str(out / "j1"), "-j", "1"],
        "import 16 ranks -j 2": [*imp, str(src), "-o", str(out / "j2"), "-j", "2"],
    }
    res = {k: med(v) for k, v in median_runs(cmds, repeat).items()}
    print(f"16 copies of {DEFAULT.name} ({sum(p.stat().st_size for p in src.glob('*.gz')) / 1e6:.0f} MB gz), "
          f"median of {repeat} interleaved runs")
    for name, r in res.items():
        print(f"  {name:24s} {r.wall_s:7.2f} s   peak RSS (largest process) {r.peak_rss_mb:7.1f} MB")
    j1, j2, single = res["import 16 ranks -j 1"], res["import 16 ranks -j 2"], res["import 1 rank"]
    together = two_at_once(BASELINE + [str(one)], repeat)
    print(f"  -j 2 / -j 1 time: {j2.wall_s / j1.wall_s:.2f}  (target <= 0.60; two json.loads started together / twice "
          f"one alone: {together:.2f})")
    # -j 1 is not one core's work: each rank's Parquet files are encoded in threads while the next
    # table is built. Spread perfectly over two cores, its CPU time could take no less than this.
    print(f"  -j 1 CPU time / wall time: {j1.cpu_s / j1.wall_s:.2f} cores; -j 2: {j2.cpu_s / j2.wall_s:.2f} cores "
          f"(-j 1's CPU time on two cores would be {j1.cpu_s / 2 / j1.wall_s:.2f}x its wall time)")
    print(f"  -j 2 peak RSS / single-rank import: {j2.peak_rss_mb / single.peak_rss_mb:.2f}  (target <= 1.50)")
    print(f"  one rank: import / json.loads = {single.wall_s / res['json.loads of one rank'].wall_s:.2f}")
    rep = med(median_runs({"report": [PY, "-m", "skiprof", "report", str(out / "j2"), "--format", "json",
                                      "-o", str(out / "r.json"), "-f"]}, repeat)["report"])
    print(f"  cross-rank report of the 16 ranks (-j default): {rep.wall_s:.2f} s, peak RSS {rep.peak_rss_mb:.1f} MB")
    flagged = sorted({s["rank"] for s in json.loads((out / "r.json").read_text())["stragglers"]})
    print(f"  stragglers named: {flagged} (the injected one: 8)")


def part2(sizes: list[int]) -> None:
    out = OUT / "bench-ranks"
    print(f"\n{SMALL.name} as N ranks: local pool (-j 2) and local Dask cluster (2 workers)")
    print(f"  {'ranks':>5}  {'pool import':>11}  {'pool report':>11}  {'pool peak':>9}  {'dask import':>11}  "
          f"{'dask report':>11}  {'worker peak':>11}  {'client peak':>11}")
    for n in sizes:
        src = make_ranks(SMALL, n)
        from _util import run

        imp = run([PY, "-m", "skiprof", "import", str(src), "-o", str(out / f"s{n}"), "-f", "--no-report", "-j", "2"])
        rep = run([PY, "-m", "skiprof", "report", str(out / f"s{n}"), "--format", "json", "-o", str(out / "s.json"), "-f",
                   "-j", "2"])
        r = subprocess.run([PY, "-c", DASK_CHILD, str(src), str(out / f"d{n}")], capture_output=True, text=True,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
        if r.returncode != 0:
            sys.exit(f"dask run failed:\n{r.stderr[-3000:]}")
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  {n:5d}  {imp.wall_s:9.2f} s  {rep.wall_s:9.2f} s  {max(imp.peak_rss_mb, rep.peak_rss_mb):6.0f} MB  "
              f"{d['import_s']:9.2f} s  {d['report_s']:9.2f} s  {max(d['worker_peak_mb']):8.0f} MB  "
              f"{d['client_peak_mb']:8.0f} MB")
        assert d["ranks"] == n
    print("  target: 256 ranks through Dask with no process over 1,024 MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    for t in (DEFAULT, SMALL):
        if not t.exists():
            sys.exit(f"{t}: not found (set SKIPROF_SHARED)")
    OUT.mkdir(parents=True, exist_ok=True)
    precompile()
    part1(1 if a.quick else a.repeat)
    part2([8, 64] if a.quick else [8, 64, 256])
    shutil.rmtree(OUT / "bench-ranks", ignore_errors=True)


if __name__ == "__main__":
    main()
