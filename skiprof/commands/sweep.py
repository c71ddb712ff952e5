"""``skiprof sweep``: run a workload once per configuration, each under ``skiprof trace`` in its own process.

The sweep folder holds ``sweep.json`` (the grid and every run's outcome) and ``runs/run=NNN/``,
one trace folder per run, so that the runs read as one hive-partitioned dataset. A run that
fails or runs out of memory is recorded and the sweep goes on; ``--resume`` skips runs already
done.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import UsageError
from .._outputs import folder_output, refuse_overlap
from ._common import SECONDS_MAX, ForceOpt, console, finite, progress_bar

__all__ = ["Param", "parse_param", "plan", "run_sweep", "SWEEP_FILE", "load_sweep", "command", "HELP"]

SWEEP_FILE = "sweep.json"
_OOM = ("out of memory", "outofmemoryerror", "cuda error: out of memory", "memoryerror")


@dataclass(frozen=True)
class Param:
    """One swept option: its name (batch_size) and values, in the order given."""

    name: str
    values: tuple[str, ...]

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def parse_param(text: str) -> Param:
    """``name=v1,v2,...`` to a Param."""
    name, sep, values = text.partition("=")
    vals = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or not name.strip() or not vals:
        raise UsageError(f"--param {text!r}: expected NAME=V1,V2,... (for example batch_size=1,2,4,8)")
    return Param(name.strip().lstrip("-").replace("-", "_"), vals)


def plan(params: list[Param], repeat: int, warmup: int) -> list[dict[str, Any]]:
    """Every run of the sweep: configuration, repeat number (negative for warm-up runs) and id."""
    if not params:
        raise UsageError("give at least one --param NAME=V1,V2,...")
    runs = []
    for combo in itertools.product(*(p.values for p in params)):
        config = {p.name: v for p, v in zip(params, combo)}
        for r in range(-warmup, repeat):
            runs.append({"config": config, "repeat": r})
    for i, run in enumerate(runs):
        run["run"] = i
    return runs


def load_sweep(folder: Path) -> dict[str, Any]:
    """The sweep's record (sweep.json)."""
    path = folder / SWEEP_FILE
    if not path.exists():
        raise UsageError(f"{folder}: not a sweep folder (no {SWEEP_FILE})")
    return json.loads(path.read_text())


def _save(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / (SWEEP_FILE + ".partial")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(folder / SWEEP_FILE)


def run_sweep(script: str, params: list[Param], fixed: list[str], out: Path, *, repeat: int = 1, warmup: int = 0,
              force: bool = False, resume: bool = False, timeout: float | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Run the whole grid; returns the sweep record (also written to sweep.json after every run)."""
    if not Path(script).exists():
        raise UsageError(f"{script}: no such file")
    runs = plan(params, repeat, warmup)
    if resume and out.exists():
        refuse_overlap(out, [Path(script)])
        if not (out / SWEEP_FILE).is_file() and not (out.is_dir() and not any(out.iterdir())):
            raise UsageError(f"{out}: --resume needs a sweep folder (no {SWEEP_FILE} there); choose another -o")
    else:
        folder_output(out, force, [Path(script)])
    previous: dict[int, dict[str, Any]] = {}
    if resume and (out / SWEEP_FILE).exists():
        old = load_sweep(out)
        if old.get("script") != script or old.get("params") != [[p.name, list(p.values)] for p in params] \
                or old.get("fixed_args") != fixed:
            raise UsageError(f"{out}: --resume needs the same script, --param and fixed arguments as the sweep there")
        previous = {r["run"]: r for r in old["runs"] if r.get("status") == "ok"}
    elif force and (out.exists() or out.is_symlink()):  # folder_output allowed it: skiprof's own, or a file
        import shutil

        shutil.rmtree(out) if out.is_dir() and not out.is_symlink() else out.unlink()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"script": script, "params": [[p.name, list(p.values)] for p in params], "fixed_args": fixed,
              "repeat": repeat, "warmup": warmup, "runs": []}
    flags = {p.name: p.flag for p in params}
    for i, run in enumerate(runs):
        label = ", ".join(f"{k}={v}" for k, v in run["config"].items())
        if progress is not None:
            progress(i, len(runs), label)
        folder = out / "runs" / f"run={run['run']:03d}"
        if run["run"] in previous and (folder / "meta.json").exists():
            record["runs"].append(previous[run["run"]])
            continue
        args = [a for k, v in run["config"].items() for a in (flags[k], v)]
        cmd = [sys.executable, "-m", "skiprof", "trace", "--no-report", "-f", "-o", str(folder), script, *fixed, *args]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            code, err = -1, "timed out"
        status = "ok" if code == 0 and (folder / "meta.json").exists() else (
            "oom" if any(s in err.lower() for s in _OOM) else "failed")
        entry = {**run, "status": status, "exit_code": code, "seconds": round(time.perf_counter() - t0, 3),
                 "folder": str(folder.relative_to(out)) if folder.exists() else None}
        if status != "ok":
            entry["error"] = (err.strip().splitlines() or [""])[-1][:500]
        record["runs"].append(entry)
        _save(out, record)
    if progress is not None:
        progress(len(runs), len(runs), "done")
    _save(out, record)
    return record


HELP = ("Run SCRIPT once per configuration, each under skiprof trace in its own process, e.g. "
        "skiprof sweep workloads/serving.py --param batch_size=1,2,4,8 -o sweep1 -- --gen-len 8. "
        "Failed runs are recorded and skipped; --resume continues an interrupted sweep. Ends with the transition report.")


def command(
    script: Annotated[str, typer.Argument(help="Workload script; each NAME in --param becomes its --NAME option.", show_default=False)],
    fixed: Annotated[Optional[list[str]], typer.Argument(help="Arguments passed to every run (after --).", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="NAME=V1,V2,... (repeatable; the grid is their product).", show_default=False)] = None,
    repeat: Annotated[int, typer.Option("--repeat", help="Runs per configuration.", min=1, max=10_000)] = 1,
    warmup: Annotated[int, typer.Option("--warmup", help="Unmeasured runs per configuration before the measured ones.", min=0, max=10_000)] = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Sweep folder (default: sweep-<script>).", show_default=False)] = None,
    force: ForceOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Skip runs the folder already holds.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds before a run is stopped and recorded as failed (above 0).", show_default=False, parser=finite(0.0, SECONDS_MAX, above=True), metavar="SECONDS")] = None,
) -> None:
    """``skiprof sweep``: run the script once per configuration under skiprof trace, then summarise (help: HELP)."""
    from ..render import Document
    from ..render.terminal import print_document
    from .transition import run_transition

    params = [parse_param(p) for p in param or []]
    out = output or Path(f"sweep-{Path(script).stem}")
    bar = progress_bar("count")
    try:
        record = run_sweep(script, params, list(fixed or []), out, repeat=repeat, warmup=warmup, force=force,
                           resume=resume, timeout=timeout,
                           progress=(lambda done, total, label: bar(f"sweep: {label}", done, total)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    ok = sum(r["status"] == "ok" for r in record["runs"])
    console(stderr=True).print(f"skiprof: sweep wrote {out} ({ok} of {len(record['runs'])} runs succeeded)")
    if ok:
        notes: list[str] = []
        res = run_transition(out, notes=notes)
        print_document(Document("transition", str(out), {"sweep": str(out)}, [res], notes), console())
    raise typer.Exit(sweep_exit_code(ok, len(record["runs"])))


#: ``skiprof sweep``'s exit code when some runs succeeded and some did not (docs/cli.md).
SOME_FAILED = 4


def sweep_exit_code(ok: int, total: int) -> int:
    """0 when every run succeeded, 1 when none did (the script's own failure), SOME_FAILED otherwise: a CI job sees
    a sweep that lost runs."""
    return 0 if ok == total else 1 if ok == 0 else SOME_FAILED
