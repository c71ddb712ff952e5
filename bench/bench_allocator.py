"""pyarrow's allocator in skiprof's own commands: the system allocator against mimalloc.

    python bench/bench_allocator.py [--repeat 5]

Commands that run no user code set ARROW_DEFAULT_MEMORY_POOL=system (skiprof/_libenv.py); a user's
own value wins, so the same code with ARROW_DEFAULT_MEMORY_POOL=mimalloc (pyarrow's default on
Linux) is the baseline, run interleaved with it. For each command: median wall time, median system
CPU time, and the largest peak RSS of any process. Commands: the single-trace import (V100), the
10x trace's import (bench/make_scaled.py), the 16 ranks of bench_ranks.py with -j 1 and -j 2, and
the report of the V100 folder.
"""
from __future__ import annotations

import argparse
import statistics
import sys

from bench_ranks import make_ranks
from make_ranks import DEFAULT

from _util import OUT, PY, Run, precompile, run
from make_scaled import scaled_path

POOLS = {"system (skiprof's)": "system", "mimalloc (pyarrow's default)": "mimalloc"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if not DEFAULT.exists():
        sys.exit(f"{DEFAULT}: not found (set SKIPROF_SHARED)")
    OUT.mkdir(parents=True, exist_ok=True)
    precompile()
    out = OUT / "bench-alloc"
    imp = [PY, "-m", "skiprof", "import", "-f", "--no-report"]
    run([*imp, str(DEFAULT), "-o", str(out / "v100")])  # the folder the report reads
    ranks = make_ranks(DEFAULT, 16)  # the 16 ranks of bench_ranks.py
    cmds = {
        "import V100": [*imp, str(DEFAULT), "-o", str(out / "one")],
        "import 10x": [*imp, str(scaled_path(DEFAULT, 10)), "-o", str(out / "x10")],
        "import 16 ranks -j 1": [*imp, str(ranks), "-o", str(out / "j1"), "-j", "1"],
        "import 16 ranks -j 2": [*imp, str(ranks), "-o", str(out / "j2"), "-j", "2"],
        "report V100": [PY, "-m", "skiprof", "report", str(out / "v100"), "--format", "json", "-o",
                        str(out / "r.json"), "-f"],
    }
    res: dict[tuple[str, str], list[Run]] = {}
    for _ in range(a.repeat):  # interleaved, so that the machine's drift hits both pools alike
        for name, cmd in cmds.items():
            for label, pool in POOLS.items():
                res.setdefault((name, label), []).append(run(cmd, {"ARROW_DEFAULT_MEMORY_POOL": pool}))
    print(f"pyarrow allocator, median of {a.repeat} interleaved runs (system CPU time: median; peak RSS: largest)")
    print(f"  {'command':22s} {'allocator':30s} {'wall':>8s} {'sys CPU':>8s} {'peak RSS':>9s}")
    for name in cmds:
        walls = {}
        for label in POOLS:
            runs = res[(name, label)]
            wall = statistics.median(r.wall_s for r in runs)
            walls[label] = wall
            sys_s = statistics.median(r.sys_s for r in runs)
            print(f"  {name:22s} {label:30s} {wall:7.2f}s {sys_s:7.2f}s {max(r.peak_rss_mb for r in runs):6.0f} MB")
        ours, theirs = (res[(name, label)] for label in POOLS)
        faster = sum(x.wall_s < y.wall_s for x, y in zip(ours, theirs))
        ours_wall, theirs_wall = walls.values()
        ratio = ours_wall / theirs_wall
        print(f"  {'':22s} system / mimalloc wall: {ratio:.2f} (system faster in {faster} of {a.repeat} pairs)")
    j1 = {label: statistics.median(r.wall_s for r in res[("import 16 ranks -j 1", label)]) for label in POOLS}
    j2 = {label: statistics.median(r.wall_s for r in res[("import 16 ranks -j 2", label)]) for label in POOLS}
    for label in POOLS:
        print(f"  -j 2 / -j 1 with {label}: {j2[label] / j1[label]:.2f}")


if __name__ == "__main__":
    main()
