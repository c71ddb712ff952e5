"""Mutation fuzz of trace folders: a damaged folder gives the original's figures or one line and exit 2, never a hang.

    python bench/fuzz_folder.py --cases 2000 [--seed 1] [--workers 2] [--timeout 30]

Small traces (from ../shared/traces, or the project's samples in traces/) are imported once. Each
case copies one of those folders and damages it: a table truncated, a byte flipped in a table or in
meta.json, two tables swapped, a column dropped, retyped or nulled, negative durations written,
meta.json garbled (a key dropped, a value of another type, ranks emptied or doubled), a FIFO or a
symbolic link in place of a table or of meta.json, a table removed. Then every analysis command
runs on it in-process (report, advise, critical, fusion, whatif, sql, export), each under a
per-command alarm. A case fails when a command raises, hangs past the timeout, exits with a code
other than 0 or 2, prints more than one line with exit 2, or exits 0 with figures other than the
undamaged folder's while no note in its output names what was skipped. Prints the tally and every
failure; exits 1 if there was any.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._fuzz import arguments, cli, drive, problem  # noqa: E402

SEEDS = ("hta_a100_simple_add_sync", "hta_cpu_only", "hta_a100_triton_culaunch", "tl_vllm_decode_cudagraph")
TABLES = ("ops", "launches", "kernels", "regions", "counters", "metrics", "memory")
ODD: list[Any] = [None, -1, 0, 2**70, "x", [], {}, 1.5, True, [0, 0], [-1], "single", "partitioned", 999]


def commands(folder: Path, scratch: Path) -> list[list[str]]:
    """Every analysis command, JSON where it has it (the figures are compared)."""
    f = str(folder)
    return [["report", f, "--format", "json"], ["advise", f, "--format", "json"], ["critical", f, "--format", "json"],
            ["fusion", f, "--format", "json"], ["whatif", f, "--launch-scale", "0.5", "--format", "json"],
            ["sql", f, "select count(*) as n, sum(dur) as d from kernels", "--format", "json"],
            ["export", f, "-o", str(scratch / "export.json"), "-f"]]


def _rewrite(path: Path, change: Any) -> None:
    import pyarrow.parquet as pq

    pq.write_table(change(pq.read_table(path)), path)


def _column_change(rng: random.Random, path: Path) -> str:
    """Drop, retype, null or negate one column of a table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    from skiprof._schema import NULLABLE

    how = rng.choice(["drop", "string", "null", "negative"])
    # Negative values break an invariant only for durations (a negative ts or id, -1 for absent, is valid data);
    # nulls only in columns that are never null (a null copy direction is valid data too).
    col = "dur" if how == "negative" and "dur" in t.column_names else \
        rng.choice([c for c in t.column_names if c not in NULLABLE] if how == "null" else t.column_names)
    i = t.column_names.index(col)
    if how == "drop":
        _rewrite(path, lambda tb: tb.remove_column(i))
    elif how == "string":
        _rewrite(path, lambda tb: tb.set_column(i, col, pa.array([str(v) for v in tb[col].to_pylist()])))
    elif how == "null":
        _rewrite(path, lambda tb: tb.set_column(i, col, pa.nulls(tb.num_rows, tb.schema.field(col).type)))
    else:
        if not pa.types.is_integer(t.schema.field(col).type) or t.num_rows == 0:
            return f"{path.name}: {col} left (not an integer column)"
        _rewrite(path, lambda tb: tb.set_column(i, col, pa.array([-abs(v) - 1 for v in tb[col].to_pylist()],
                                                                 tb.schema.field(col).type)))
    return f"{path.name}: {how} {col}"


def damage(rng: random.Random, folder: Path) -> str:
    """Damage ``folder`` in one way; returns what was done."""
    tables = list(folder.glob("*.parquet"))
    table = rng.choice(tables)
    meta = folder / "meta.json"
    kind = rng.random()
    if kind < 0.15:
        data = table.read_bytes()
        cut = rng.randrange(len(data))
        table.write_bytes(data[:cut])
        return f"{table.name} truncated at {cut} of {len(data)}"
    if kind < 0.35:
        target = table if rng.random() < 0.8 else meta
        data = bytearray(target.read_bytes())
        pos = rng.randrange(len(data))
        data[pos] ^= rng.randrange(1, 256)
        target.write_bytes(bytes(data))
        return f"{target.name} byte {pos} flipped"
    if kind < 0.45:
        other = rng.choice([t for t in tables if t != table] or tables)
        a, b = table.read_bytes(), other.read_bytes()
        table.write_bytes(b)
        other.write_bytes(a)
        return f"{table.name} and {other.name} swapped"
    if kind < 0.65:
        return _column_change(rng, table)
    if kind < 0.8:
        doc = json.loads(meta.read_text())
        key = rng.choice(["ranks", "schema_version", "layout", "stats", "clock", rng.choice(list(doc))])
        if rng.random() < 0.25:
            doc.pop(key, None)
            what = f"meta.json: {key} dropped"
        else:
            doc[key] = rng.choice(ODD)
            what = f"meta.json: {key}={doc[key]!r}"
        meta.write_text(json.dumps(doc))
        return what
    if kind < 0.88:
        target = table if rng.random() < 0.8 else meta
        target.unlink()
        os.mkfifo(target)
        return f"FIFO in place of {target.name}"
    if kind < 0.95:
        target = table if rng.random() < 0.8 else meta
        choice = rng.choice(["loop", "missing", "folder", "other"])
        target.unlink()
        dest = {"loop": target, "missing": folder / "nowhere", "folder": folder,
                "other": rng.choice(tables)}[choice]
        target.symlink_to(dest)
        return f"{target.name} is a symbolic link ({choice})"
    table.unlink()
    return f"{table.name} removed"


def _figures(text: str, folder: Path) -> Any:
    """The JSON output with the folder's own path taken out (the copy lives elsewhere)."""
    try:
        return json.loads(text.replace(str(folder), "FOLDER"))
    except ValueError:
        return text


def run_case(args: tuple[int, int, int]) -> tuple[str, str | None]:
    """One case: copy a seed folder, damage it, run every command. Returns (outcome, problem or None)."""
    seed, case, timeout = args
    rng = random.Random(seed * 1_000_003 + case)
    name = rng.choice(sorted(_SEEDS))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "A"
        shutil.copytree(_SEEDS[name], folder)
        what = damage(rng, folder)
        outcomes = []
        for cmd, want in zip(commands(folder, Path(tmp)), _WANT[name]):
            code, out, err = cli(cmd, timeout)
            bad = problem(cmd[0], code, err)
            if bad is None and code == 0 and cmd[0] != "export" and _figures(out, folder) != want \
                    and "skipped" not in out.lower():
                bad = f"{cmd[0]}: exit 0 with figures other than the original's"
            if bad:
                return "failed", f"case {case} ({name}: {what})\n  {bad}"
            outcomes.append(code)
    return ("same" if all(c == 0 for c in outcomes) else "refused"), None


_SEEDS: dict[str, Path] = {}
_WANT: dict[str, list[Any]] = {}


def prepare(base: Path) -> None:
    """Import the seed traces once and record every command's output on the undamaged folders."""
    from bench._util import SHARED
    from skiprof.commands.import_ import run_import

    found = [(n, SHARED / "traces" / f"{n}.json.gz") for n in SEEDS if (SHARED / "traces" / f"{n}.json.gz").exists()]
    if not found:
        found = [(p.parent.name, p) for p in sorted((ROOT / "traces").glob("*/trace.json.gz"))[:3]]
    for name, src in found:
        run_import([src], base / name, force=False)
        _SEEDS[name] = base / name
        _WANT[name] = [_figures(cli(c, 120)[1], base / name) for c in commands(base / name, base)]


def main() -> int:
    a = arguments(__doc__, 30, "command")
    with tempfile.TemporaryDirectory() as base:
        os.environ["SKIPROF_CACHE"] = str(Path(base) / "cache")
        prepare(Path(base))
        jobs = [(a.seed, i, a.timeout) for i in range(a.cases)]
        tally, failures = drive(run_case, jobs, a.cases, a.workers, ("same", "refused", "failed"))
    print(f"{a.cases} cases (seed {a.seed}): {tally['same']} gave the original's figures, {tally['refused']} were "
          f"refused with one line and exit 2 by some command, {tally['failed']} failed (tracebacks, hangs, other exit "
          "codes, or changed figures at exit 0)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
