"""Mutation fuzz of skiprof's input path: malformed traces must give a clean import or one line and exit 2.

    python bench/fuzz_import.py --cases 2000 [--seed 1] [--workers 2]

Each case takes one small real trace from ../shared/traces (or the sample traces in traces/ when
those are missing), mutates it at the JSON level (a value replaced by another type, a huge or
negative number, NaN or infinity; a key dropped; events duplicated or shuffled; a top-level field
of the wrong type; the text truncated or a byte flipped), writes it, and runs ``skiprof import``
on it in-process, then ``report --format json``, ``whatif --launch-scale 0.5`` and ``fusion`` on
the folder when the import succeeded. A case fails when any command raises (a traceback), exits
with a code other than 0 or 2, prints more than one line on error, or leaves a partial or
half-written folder behind. Prints the tally and every failure; exits 1 if there was any.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._fuzz import cli, drive, problem  # noqa: E402

SMALL = ("hta_a100_alexnet", "hta_a100_simple_add_sync", "hta_a100_event_sync_multistream", "hta_a100_triton_culaunch",
         "hta_cpu_only", "hta_mi250_rocm_minitoy", "tl_vllm_decode_cudagraph", "tl_mi300_torch_compile_triton",
         "tl_h100_bert_small_inference")
ODD_VALUES: list[Any] = [2**70, -2**70, -1, 0, 10**30, 1e308, -1e-9, math.nan, math.inf, -math.inf, True, False, None,
                         "", "x", "12", [], [1, 2], {}, {"a": 1}, 1.5, "NaN"]
TOP_FIELDS = ("traceEvents", "distributedInfo", "deviceProperties", "schemaVersion", "baseTimeNanoseconds",
              "displayTimeUnit", "traceName")


def sources() -> list[tuple[str, dict[str, Any]]]:
    """The seed traces, decoded once."""
    from bench._util import SHARED

    out = []
    for name in SMALL:
        p = SHARED / "traces" / f"{name}.json.gz"
        if p.exists():
            out.append((name, json.loads(gzip.decompress(p.read_bytes()))))
    if not out:  # no shared traces: the project's own samples
        for p in sorted((ROOT / "traces").glob("*/trace.json.gz")):
            out.append((p.parent.name, json.loads(gzip.decompress(p.read_bytes()))))
    return out


def _mutate_event(rng: random.Random, ev: Any) -> str:
    if not isinstance(ev, dict) or not ev:
        return "noop"
    key = rng.choice(list(ev))
    if key == "args" and isinstance(ev["args"], dict) and ev["args"] and rng.random() < 0.6:
        sub = rng.choice(list(ev["args"]))
        if rng.random() < 0.2:
            del ev["args"][sub]
            return f"drop args.{sub}"
        ev["args"][sub] = rng.choice(ODD_VALUES)
        return f"args.{sub}={ev['args'][sub]!r}"
    if rng.random() < 0.2:
        del ev[key]
        return f"drop {key}"
    ev[key] = rng.choice(ODD_VALUES)
    return f"{key}={ev[key]!r}"


def mutate(rng: random.Random, doc: dict[str, Any]) -> tuple[Any, str]:
    """A mutated copy of ``doc`` (or raw bytes for text-level damage) and what was done."""
    doc = json.loads(json.dumps(doc))
    events = doc.get("traceEvents", [])
    kind = rng.random()
    if kind < 0.55 and events:
        notes = [_mutate_event(rng, rng.choice(events)) for _ in range(rng.randint(1, 6))]
        return doc, "events: " + "; ".join(notes)
    if kind < 0.65 and events:
        extra = [json.loads(json.dumps(rng.choice(events))) for _ in range(rng.randint(1, 50))]
        events.extend(extra)
        rng.shuffle(events)
        return doc, f"duplicated {len(extra)} events and shuffled"
    if kind < 0.8:
        field = rng.choice(TOP_FIELDS)
        doc[field] = rng.choice(ODD_VALUES + [[1, 2, 3], [{"ph": "X"}], {"rank": [1]}, {"rank": 2**70}])
        return doc, f"top-level {field}={doc[field]!r}"
    text = json.dumps(doc).encode()
    if kind < 0.9:
        cut = rng.randint(0, len(text))
        return text[:cut], f"truncated at {cut} of {len(text)}"
    pos = rng.randrange(len(text))
    return text[:pos] + bytes([rng.randrange(256)]) + text[pos + 1:], f"byte {pos} replaced"


def run_case(args: tuple[int, int]) -> tuple[str, str | None]:
    """One case: mutate, write, import, analyze. Returns (outcome, problem or None)."""
    seed, case = args
    rng = random.Random(seed * 1_000_003 + case)
    name, doc = rng.choice(_SOURCES)
    mutated, what = mutate(rng, doc)
    desc = f"case {case} ({name}: {what})"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.json"
        src.write_bytes(mutated if isinstance(mutated, bytes) else json.dumps(mutated).encode())
        out = Path(tmp) / "out"
        code, _, err = cli(["import", str(src), "-o", str(out), "--no-report", "-j", "1"])
        bad = problem("import", code, err)
        leftovers = [p.name for p in Path(tmp).iterdir() if p.name not in ("t.json", "out")]
        if bad is None and leftovers:
            bad = f"import: left {leftovers}"
        if bad is None and code == 0 and not (out / "meta.json").exists():
            bad = "import: exit 0 without meta.json"
        if bad is None and code == 2 and out.exists():
            bad = "import: exit 2 but the output folder exists"
        if bad is None and code == 0:
            for cmd in (["report", str(out), "--format", "json"], ["whatif", str(out), "--launch-scale", "0.5"],
                        ["fusion", str(out)]):
                c, _, e = cli(cmd)
                bad = problem(cmd[0], c, e)
                if bad:
                    break
    return ("ok" if code == 0 else "refused") if bad is None else "failed", (f"{desc}\n  {bad}" if bad else None)


_SOURCES: list[tuple[str, dict[str, Any]]] = []


def _init() -> None:
    _SOURCES.extend(sources())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=min(2, multiprocessing.cpu_count()))
    a = ap.parse_args()
    jobs = [(a.seed, i) for i in range(a.cases)]
    tally, failures = drive(run_case, jobs, a.cases, a.workers, ("ok", "refused", "failed"), initializer=_init)
    print(f"{a.cases} cases (seed {a.seed}): {tally['ok']} imported cleanly, {tally['refused']} refused with one "
          f"line and exit 2, {tally['failed']} failed (tracebacks, other exit codes or partial folders)")
    return 1 if failures else 0


if __name__ == "__main__":
    shutil.rmtree(ROOT / "bench" / "out" / "fuzz", ignore_errors=True)
    sys.exit(main())
