"""``skiprof export``: a Chrome/Perfetto trace of a trace folder, with skiprof's findings on top.

The export holds the folder's own events (host ops, runtime calls, device activities with their
correlation, regions, counters), launch->kernel flow arrows, per-kernel launch/queue/op args, and
annotation tracks under the process "skiprof": boundness per step (or per window) and the phase
shares. Timestamps are written digit for digit from the integer nanoseconds, so importing the
export again gives the same tables.
"""
from __future__ import annotations

import gzip
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from .._errors import UsageError
from .._folder import Trace, load
from .._outputs import is_stream
from ._common import FolderArg, ForceOpt, RankOpt, check_file, console, trace_folder, write_atomic

__all__ = ["export_chrome", "command", "HELP", "ANNOTATION_CAT"]

HELP = ("Write a trace folder as a Chrome/Perfetto trace (opens in ui.perfetto.dev and chrome://tracing) with "
        "launch->kernel flows, per-kernel launch/queue/op args, and skiprof's boundness and phase shares as "
        "annotation tracks.")

ANNOTATION_CAT = "skiprof_annotation"


class ExportFmt(str, Enum):
    """Export formats."""

    chrome = "chrome"

_DEVICE_CATS = {"kernel": "kernel", "memcpy": "gpu_memcpy", "memset": "gpu_memset"}


def _us(ns: int) -> msgspec.Raw:
    """Integer ns as an exact µs literal with three decimals."""
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    return msgspec.Raw(f"{sign}{ns // 1000}.{ns % 1000:03d}".encode())


class _Rows:
    """One rank's rows of each table, as dicts, and the pid labels to write pids back with."""

    def __init__(self, t: Trace, rank: int) -> None:
        self.t, self.rank = t, rank
        self.labels = {int(k): name for k, name in t.meta.rank_stats(rank).pid_labels.items()}

    def __call__(self, name: str) -> list[dict[str, Any]]:
        data = self.t.table(name).to_pylist()
        return data if len(self.t.ranks) == 1 else [r for r in data if r["rank"] == self.rank]

    def pid(self, value: int) -> Any:
        return self.labels.get(int(value), int(value))


def _host_events(rows: _Rows) -> list[dict[str, Any]]:
    """Chrome events for the host side: process names, ops and runtime calls with their args."""
    ev: list[dict[str, Any]] = []
    for pid, name in rows.t.meta.process_names.get(str(rows.rank), {}).items():
        ev.append({"ph": "M", "name": "process_name", "pid": rows.pid(int(pid)) if pid.lstrip("-").isdigit() else pid,
                   "tid": 0, "args": {"name": name}})
    for o in rows("ops"):
        args: dict[str, Any] = {}
        if o["external_id"] >= 0:
            args["External id"] = o["external_id"]
        if o["input_dims"] is not None:
            args["Input Dims"] = msgspec.Raw(o["input_dims"].encode())
        if o["process_group"] is not None:
            args["Process Group Name"] = o["process_group"]
        e = {"ph": "X", "cat": o["cat"], "name": o["name"], "pid": rows.pid(o["pid"]), "tid": rows.pid(o["tid"]),
             "ts": _us(o["ts"]), "dur": _us(o["dur"])}
        if args:
            e["args"] = args
        ev.append(e)
    for la in rows("launches"):
        args = {k: la[c] for k, c in (("correlation", "correlation"), ("External id", "external_id")) if la[c] >= 0}
        ev.append({"ph": "X", "cat": "cuda_runtime", "name": la["name"], "pid": rows.pid(la["pid"]),
                   "tid": rows.pid(la["tid"]), "ts": _us(la["ts"]), "dur": _us(la["dur"]), "args": args})
    return ev


def _device_events(rows: _Rows, per: dict[str, Any]) -> list[dict[str, Any]]:
    """Chrome events for device activities, with their launch/queue split as extra args, and the flow arrows to their
    launches."""
    split = {int(k): (int(lq), int(q), int(lch)) for k, lq, q, lch in
             zip(per["kernel_id"], per["launch_queue_ns"], per["queue_ns"], per["launch_ns"])}
    ev: list[dict[str, Any]] = []
    for k in rows("kernels"):
        args: dict[str, Any] = {"device": k["device"], "stream": k["stream"]}
        args.update({c: k[c] for c in ("correlation", "bytes") if k[c] >= 0})
        if k["kernel_id"] in split:
            lq, q, lch = split[k["kernel_id"]]
            args.update({"skiprof launch_queue_ns": lq, "skiprof queue_ns": q, "skiprof launch_ns": lch})
        if k["op_name"] is not None:
            args["skiprof op"] = k["op_name"]
        ev.append({"ph": "X", "cat": _DEVICE_CATS[k["kind"]], "name": k["name"], "pid": rows.pid(k["pid"]),
                   "tid": rows.pid(k["tid"]), "ts": _us(k["ts"]), "dur": _us(k["dur"]), "args": args})
        if k["launch_id"] >= 0 and k["correlation"] >= 0:
            ev.append({"ph": "s", "id": k["correlation"], "pid": rows.pid(k["host_pid"]), "tid": rows.pid(k["host_tid"]),
                       "ts": _us(k["launch_ts"]), "cat": "ac2g", "name": "ac2g"})
            ev.append({"ph": "f", "id": k["correlation"], "pid": rows.pid(k["pid"]), "tid": rows.pid(k["tid"]),
                       "ts": _us(k["ts"]), "cat": "ac2g", "name": "ac2g", "bp": "e"})
    for r in rows("regions"):
        if r["kind"] == "gpu_annotation":
            ev.append({"ph": "X", "cat": "gpu_user_annotation", "name": r["name"], "pid": rows.pid(r["pid"]),
                       "tid": rows.pid(r["tid"]), "ts": _us(r["ts"]), "dur": _us(r["dur"])})
    for m in rows("memory"):
        ev.append({"ph": "i", "cat": "cpu_instant_event", "name": "[memory]", "s": "t", "pid": rows.pid(m["pid"]),
                   "tid": rows.pid(m["tid"]), "ts": _us(m["ts"]),
                   "args": {"Bytes": m["bytes"], "Total Allocated": m["total_allocated"], "Total Reserved": m["total_reserved"],
                            "Device Id": m["device"], "Device Type": m["device_type"]}})
    for c in rows("counters"):
        ev.append({"ph": "C", "name": "", "pid": f"counters device {c['device']}", "tid": 0, "ts": _us(c["ts"]),
                   "args": {"device": c["device"], c["name"]: c["value"]}})
    return ev


def _annotation_events(v: Any) -> list[dict[str, Any]]:
    """skiprof's findings as tracks (a category the importer leaves out of the tables)."""
    from ..analyzers import boundness, breakdown

    stretches = boundness.step_columns(v)
    if not stretches["stretch"]:
        stretches = boundness.window_columns(v, 10)
    ev = [{"ph": "X", "cat": ANNOTATION_CAT, "name": f"{lab} ({name})", "pid": "skiprof", "tid": "boundness",
           "ts": _us(lo), "dur": _us(hi - lo), "args": {"gpu_idle_share": idle, "queue_share": qs}}
          for name, lo, hi, lab, qs, idle in zip(stretches["stretch"], stretches["start_ns"], stretches["end_ns"],
                                                 stretches["label"], stretches["queue_share"], stretches["gpu_idle_share"])]
    ev += _critical_events(v)
    p = breakdown.phases(v)
    lo, hi = v.span()
    ev.append({"ph": "X", "cat": ANNOTATION_CAT, "name": "phase shares", "pid": "skiprof", "tid": "phases",
               "ts": _us(lo), "dur": _us(hi - lo),
               "args": {n: round(ns / p.span_ns, 4) if p.span_ns else 0.0 for n, ns in zip(p.names, p.ns)}})
    return ev


def _critical_events(v: Any) -> list[dict[str, Any]]:
    """The critical path as the track 'critical path': one slice per segment, named by its kind
    (device segments also by their activity)."""
    from ..analyzers import critical

    names = v.kernels["name"].tolist()
    out = []
    for sg in critical.segments(v)[0]:
        label = f"{sg.kind} {names[sg.act]}" if sg.kind in ("kernel", "memcpy", "memset", "dependency") and sg.act >= 0 else sg.kind
        out.append({"ph": "X", "cat": ANNOTATION_CAT, "name": label, "pid": "skiprof", "tid": "critical path",
                    "ts": _us(sg.start), "dur": _us(sg.end - sg.start)})
    return out


def export_chrome(folder: Path, output: Path, *, force: bool = False, rank: int | None = None,
                  inputs: Sequence[Path] = ()) -> int:
    """Write ``output`` (.json or .json.gz; ``inputs``: what it may never replace, besides ``folder``);
    returns the number of events."""
    from ..analyzers import select

    inputs = [folder, *inputs]
    check_file(output, force, inputs)
    if not output.name.endswith((".json", ".json.gz")) and not is_stream(output):
        raise UsageError(f"{output}: the output name must end in .json or .json.gz")
    t = load(folder)
    v = select(t, rank=rank)
    rows = _Rows(t, v.rank)
    ev = _host_events(rows) + _device_events(rows, v.per) + _annotation_events(v)
    info = t.meta.trace_fields.get("distributedInfo")
    info = {**(info if isinstance(info, dict) else {}), "rank": v.rank}  # world size, backend, ... as recorded
    doc: dict[str, Any] = {"schemaVersion": 1, "distributedInfo": info, "traceEvents": ev,
                           "displayTimeUnit": "ms", "traceName": str(output)}
    if t.meta.clock.origin_unix_ns is not None:
        doc["baseTimeNanoseconds"] = t.meta.clock.origin_unix_ns
    data = msgspec.json.encode(doc)
    write_atomic(gzip.compress(data, compresslevel=6) if output.name.endswith(".gz") else data, output, force, inputs)
    return len(ev)


def command(
    folder: FolderArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="out.json or out.json.gz (parent folders are created).", show_default=False)],
    fmt: Annotated[ExportFmt, typer.Option("--format", help="chrome (the only format).")] = ExportFmt.chrome,
    force: ForceOpt = False, rank: RankOpt = None,
) -> None:
    check_file(output, force, [folder])  # before any work, and before a Kineto file is imported
    n = export_chrome(trace_folder(folder), output, force=force, rank=rank, inputs=[folder])
    console(stderr=True).print(f"skiprof: wrote {output} ({n:,} events)", highlight=False)
