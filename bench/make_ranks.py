"""Build an N-rank dataset of Kineto files from one real trace, for the scale benchmarks.

    python bench/make_ranks.py --ranks 16 [--trace FILE] [--straggler 3] [--out DIR]

Rank r is the trace with ``distributedInfo`` rewritten (rank r of N) and its clock perturbed:
every timestamp moves to ``t0 + (ts - t0) * f_r + offset_r`` and every duration to ``dur * f_r``
(f_r = 1 +/- 2%, offset_r up to 200 µs, from a seeded generator), which keeps nesting and the
order of events intact. The straggler rank runs 25% slower (f = 1.25) and starts 2 ms late, so
its collectives arrive last. Files are written with gzip level 1 and cached in bench/out/.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

from _util import OUT, SHARED

DEFAULT = SHARED / "traces" / "hta_v100_ddp2_df_index_resolver.json.gz"
SLOW = 1.25


def _perturb(events: list[dict], t0: float, f: float, offset: float) -> list[dict]:
    out = []
    for e in events:
        e2 = dict(e)
        # Integer microseconds stay integers (as the profiler wrote them), fractional ones keep ns.
        for key, value in (("ts", t0 + (e2.get("ts", 0) - t0) * f + offset), ("dur", e2.get("dur", 0) * f)):
            if isinstance(e2.get(key), int) and not isinstance(e2.get(key), bool):
                e2[key] = round(value)
            elif isinstance(e2.get(key), float):
                e2[key] = round(value, 3)
        out.append(e2)
    return out


def make_ranks(trace: Path, n: int, *, straggler: int | None = None, seed: int = 0, out: Path | None = None) -> Path:
    """The folder of ``n`` rank files built from ``trace`` (built once, then reused)."""
    straggler = (n // 2 if straggler is None else straggler) if n > 1 else None
    folder = out or OUT / f"ranks-{trace.name.removesuffix('.json.gz')}-{n}-s{straggler}"
    if (folder / ".complete").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    doc = json.loads(gzip.decompress(trace.read_bytes()))
    events = doc.pop("traceEvents")
    t0 = min(e["ts"] for e in events if isinstance(e.get("ts"), (int, float)))
    rng = random.Random(seed)
    for r in range(n):
        f, offset = (SLOW, 2000.0) if r == straggler else (1 + rng.uniform(-0.02, 0.02), rng.uniform(0, 200))
        info = dict(doc.get("distributedInfo") or {"backend": "nccl"}, rank=r, world_size=n)
        body = dict(doc, distributedInfo=info, traceEvents=_perturb(events, t0, f, offset))
        with gzip.open(folder / f"rank{r}.json.gz", "wt", compresslevel=1) as fh:
            json.dump(body, fh, separators=(",", ":"))
    (folder / ".complete").write_text(json.dumps({"trace": str(trace), "ranks": n, "straggler": straggler}))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", type=Path, default=DEFAULT)
    ap.add_argument("--ranks", type=int, default=16)
    ap.add_argument("--straggler", type=int, default=None, help="the slow rank (default: ranks // 2)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    print(make_ranks(a.trace, a.ranks, straggler=a.straggler, out=a.out))


if __name__ == "__main__":
    main()
