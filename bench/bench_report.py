"""Report time: a whole `skiprof report --format json` process on the imported V100 trace.

    python bench/bench_report.py [--trace FILE] [--repeat 5] [--scale] [--compare CHECKOUT] [--installed PYTHON]

Targets: the report (the Analyzers issue) at most 0.5 s for the whole process, with per-op
attribution for every top-level op, growing linearly (--scale runs the 10x trace of
bench/make_scaled.py); `skiprof advise` (the verdict and the ranked fixes, five or so what-if
replays) at most 1 s. Since the report opens with the verdict and the fixes, it runs the same
replays as advise.
The baseline, measured in the same run, is a process that only reads the same folder's tables
with pyarrow; the ratio shows what the analysis adds on top of reading. --compare CHECKOUT also
times report and advise of another checkout of skiprof (say, the commit before a change) in the
same interleaved runs, on the same folder. --installed PYTHON also times the skiprof installed in
that interpreter's environment the way a user installs it (`pip install .`, into a fresh virtual
environment), run as a user runs it: this checkout is an editable install on PYTHONPATH, whose
import hook costs every process some milliseconds that an installed package does not pay.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from _util import INSTALLED, OUT, PY, ROOT, common_args, med, median_runs, run

READ_ONLY = ("import sys, pyarrow.parquet as pq\n"
             "for n in ('ops', 'launches', 'kernels', 'regions'):\n"
             "    pq.ParquetFile(f'{sys.argv[1]}/{n}.parquet').read()\n")


def _other(checkout: Path) -> list[str]:
    """The command line of another checkout's skiprof, its analyzers included (installed ones map
    skiprof.analyzers to this checkout's folder)."""
    root = str(checkout)
    return [PY, "-c", f"import sys; sys.path.insert(0, {root!r}); import analyzers, skiprof; "
            "sys.modules['skiprof.analyzers'] = skiprof.analyzers = analyzers; sys.argv[0] = 'skiprof'; "
            "from skiprof._entry import main; main()"]


def bench(trace: Path, repeat: int, compare: Path | None = None, installed: Path | None = None) -> float:
    folder = OUT / f"{trace.name}.report"
    run([PY, "-m", "skiprof", "import", str(trace), "-o", str(folder), "-f", "--no-report"])
    report, advise = ["report", str(folder), "--format", "json", "--top", "1000000"], ["advise", str(folder), "--format", "json"]
    cmds = {
        "read tables (baseline)": [PY, "-c", READ_ONLY, str(folder)],
        "skiprof report --format json": [PY, "-m", "skiprof", *report],
        "skiprof advise": [PY, "-m", "skiprof", *advise],
    }
    if compare is not None:
        cmds["report (--compare)"] = _other(compare) + report
        cmds["advise (--compare)"] = _other(compare) + advise
    if installed is not None:
        cmds["report (--installed)"] = [INSTALLED, str(installed), "-m", "skiprof", *report]
        cmds["advise (--installed)"] = [INSTALLED, str(installed), "-m", "skiprof", *advise]
    res = {k: med(v) for k, v in median_runs(cmds, repeat).items()}
    print(f"trace: {trace.name}, median of {repeat} interleaved runs")
    for name, r in res.items():
        print(f"  {name:30s} {r.wall_s:6.3f} s   peak RSS {r.peak_rss_mb:7.1f} MB")
    ours = res["skiprof report --format json"].wall_s
    print(f"  report / baseline wall ratio: {ours / res['read tables (baseline)'].wall_s:.2f}; "
          f"absolute {ours:.3f} s (target <= 0.5 s on the 1x trace)")
    print(f"  advise: {res['skiprof advise'].wall_s:.3f} s (target <= 1 s on the 1x trace)")
    if compare is not None:
        print(f"  this checkout / --compare: report {ours / res['report (--compare)'].wall_s:.2f}, "
              f"advise {res['skiprof advise'].wall_s / res['advise (--compare)'].wall_s:.2f}")
    if installed is not None:
        print(f"  installed ({installed}): report {res['report (--installed)'].wall_s:.3f} s, "
              f"advise {res['advise (--installed)'].wall_s:.3f} s")
    shutil.rmtree(folder, ignore_errors=True)
    return ours


PER_ANALYSIS = """
import sys, time
import skiprof
from skiprof.analyzers import Options, critical, diff, hostsplit, memory, modules, select
t = skiprof.load(sys.argv[1])
v = select(t)
_ = (v.ops, v.launches, v.kernels, v.regions, v.per)
runs = {"diff (the run against itself)": lambda: diff.diff(v, v), "critical": lambda: critical.run(v, Options()),
        "memory": lambda: memory.run(v, Options()), "modules": lambda: modules.run(v, Options()),
        "host_overhead": lambda: hostsplit.run(v, Options())}
for name, fn in runs.items():
    best = min((lambda s: (fn(), time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(3))
    print(f"  {name:34s} {best:6.3f} s (target <= 0.5 s)")
"""


def per_analysis(trace: Path) -> None:
    """The analyses of the diff/modules/critical/memory issue, each timed in one process after loading."""
    import subprocess

    folder = OUT / f"{trace.name}.analyses"
    run([PY, "-m", "skiprof", "import", str(trace), "-o", str(folder), "-f", "--no-report"])
    print(f"per analysis on {trace.name} (best of 3, tables already loaded):")
    print(subprocess.run([PY, "-c", PER_ANALYSIS, str(folder)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout, end="")
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    a = common_args(__doc__ or "", "also run on the 10x trace and print the growth",
                    extra=[("--compare", {"type": Path, "default": None, "help": "another skiprof checkout to time beside"}),
                           ("--installed", {"type": Path, "default": None,
                                            "help": "a Python whose environment has skiprof installed (pip install .)"})])
    one = bench(a.trace, a.repeat, a.compare, a.installed)
    per_analysis(a.trace)
    if a.scale:
        from make_scaled import scaled_path

        ten = bench(scaled_path(a.trace, 10), max(1, a.repeat // 2))
        print(f"10x trace / 1x trace report time: {ten / one:.1f} (linear growth would be <= 10)")


if __name__ == "__main__":
    main()
