"""Build an N-times trace by repeating a real one along time, with shifted ids.

    python bench/make_scaled.py [--trace FILE] [--times 10]

Copy k of every event is moved k*(span+1 ms) later, and correlation, External id
and flow ids are shifted by k*(largest id+1), so that copies never collide.
The result is cached in bench/out/ and reused.
"""
from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from _util import OUT, SHARED


def _max_id(events: list[dict]) -> int:
    top = 0
    for e in events:
        a = e.get("args") or {}
        for key in ("correlation", "External id"):
            v = a.get(key)
            if isinstance(v, int):
                top = max(top, v)
        if isinstance(e.get("id"), int):
            top = max(top, e["id"])
    return top


def scaled_path(trace: Path, times: int) -> Path:
    """Path of the scaled copy, building it on first use."""
    out = OUT / f"{trace.name.removesuffix('.json.gz')}_x{times}.json.gz"
    if out.exists():
        return out
    OUT.mkdir(parents=True, exist_ok=True)
    doc = json.loads(gzip.decompress(trace.read_bytes()))
    events = doc.pop("traceEvents")
    ts = [e["ts"] for e in events if isinstance(e.get("ts"), (int, float))]
    span = max(ts) - min(ts) + 1000
    id_step = _max_id(events) + 1
    tmp = out.with_suffix(".partial")
    with gzip.open(tmp, "wt", compresslevel=1) as fh:
        head = json.dumps(doc)[:-1]
        fh.write(head + ', "traceEvents": [\n')
        first = True
        for k in range(times):
            for e in events:
                if e.get("ph") == "M" and k:
                    continue
                e2 = dict(e)
                if isinstance(e2.get("ts"), (int, float)):
                    e2["ts"] = e2["ts"] + k * span
                if isinstance(e2.get("id"), int):
                    e2["id"] = e2["id"] + k * id_step
                a = e2.get("args")
                if a:
                    a = dict(a)
                    for key in ("correlation", "External id"):
                        if isinstance(a.get(key), int):
                            a[key] = a[key] + k * id_step
                    e2["args"] = a
                fh.write(("" if first else ",\n") + json.dumps(e2))
                first = False
        fh.write("\n]}\n")
    tmp.rename(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", type=Path, default=SHARED / "traces" / "hta_v100_ddp2_df_index_resolver.json.gz")
    ap.add_argument("--times", type=int, default=10)
    a = ap.parse_args()
    p = scaled_path(a.trace, a.times)
    print(f"{p} ({p.stat().st_size / 1e6:.1f} MB gzip)")


if __name__ == "__main__":
    main()
