"""``skiprof export``: a Chrome/Perfetto trace of a trace folder, with skiprof's findings on top.

The export holds the folder's own events (host ops, runtime calls, device activities with their
correlation, regions, counters), launch->kernel flow arrows, per-kernel launch/queue/op args, and
two annotation tracks under the process "skiprof": boundness per step (or per window) and the phase
shares. Timestamps are written digit for digit from the integer nanoseconds, so importing the
export again gives the same tables.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec

from .._errors import OutputExistsError, UsageError
from .._folder import load

__all__ = ["export_chrome"]

ANNOTATION_CAT = "skiprof_annotation"
_DEVICE_CATS = {"kernel": "kernel", "memcpy": "gpu_memcpy", "memset": "gpu_memset"}


def _us(ns: int) -> msgspec.Raw:
    """Integer ns as an exact µs literal with three decimals."""
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    return msgspec.Raw(f"{sign}{ns // 1000}.{ns % 1000:03d}".encode())


def _id(value: int, labels: dict[int, str]) -> Any:
    return labels.get(int(value), int(value))


def export_chrome(folder: Path, output: Path, *, force: bool = False, rank: int | None = None) -> int:
    """Write ``output`` (.json or .json.gz); returns the number of events."""
    from ..analyzers import boundness, breakdown, launch, select

    if output.exists() and not force:
        raise OutputExistsError(output)
    if not output.name.endswith((".json", ".json.gz")):
        raise UsageError(f"{output}: the output name must end in .json or .json.gz")
    t = load(folder)
    v = select(t, rank=rank)
    stats = t.meta.get("stats", {}).get(str(v.rank), {})
    labels = {int(k): name for k, name in stats.get("pid_labels", {}).items()}
    ev: list[dict[str, Any]] = []
    for pid, name in t.meta.get("process_names", {}).get(str(v.rank), {}).items():
        ev.append({"ph": "M", "name": "process_name", "pid": _id(int(pid), labels) if pid.lstrip("-").isdigit() else pid,
                   "tid": 0, "args": {"name": name}})
    ops = t.table("ops").to_pylist() if len(t.ranks) == 1 else [r for r in t.table("ops").to_pylist() if r["rank"] == v.rank]

    def rows(name: str) -> list[dict[str, Any]]:
        data = t.table(name).to_pylist()
        return data if len(t.ranks) == 1 else [r for r in data if r["rank"] == v.rank]

    for o in ops:
        args: dict[str, Any] = {}
        if o["external_id"] >= 0:
            args["External id"] = o["external_id"]
        if o["input_dims"] is not None:
            args["Input Dims"] = msgspec.Raw(o["input_dims"].encode())
        e = {"ph": "X", "cat": o["cat"], "name": o["name"], "pid": _id(o["pid"], labels), "tid": _id(o["tid"], labels),
             "ts": _us(o["ts"]), "dur": _us(o["dur"])}
        if args:
            e["args"] = args
        ev.append(e)
    for la in rows("launches"):
        args = {}
        if la["correlation"] >= 0:
            args["correlation"] = la["correlation"]
        if la["external_id"] >= 0:
            args["External id"] = la["external_id"]
        ev.append({"ph": "X", "cat": "cuda_runtime", "name": la["name"], "pid": _id(la["pid"], labels),
                   "tid": _id(la["tid"], labels), "ts": _us(la["ts"]), "dur": _us(la["dur"]), "args": args})
    per = v.per
    split = {int(k): (int(lq), int(q), int(lch)) for k, lq, q, lch in
             zip(per["kernel_id"], per["launch_queue_ns"], per["queue_ns"], per["launch_ns"])}
    for k in rows("kernels"):
        args = {"device": k["device"], "stream": k["stream"]}
        if k["correlation"] >= 0:
            args["correlation"] = k["correlation"]
        if k["bytes"] >= 0:
            args["bytes"] = k["bytes"]
        if k["kernel_id"] in split:
            lq, q, lch = split[k["kernel_id"]]
            args.update({"skiprof launch_queue_ns": lq, "skiprof queue_ns": q, "skiprof launch_ns": lch})
        if k["op_name"] is not None:
            args["skiprof op"] = k["op_name"]
        ev.append({"ph": "X", "cat": _DEVICE_CATS[k["kind"]], "name": k["name"], "pid": _id(k["pid"], labels),
                   "tid": _id(k["tid"], labels), "ts": _us(k["ts"]), "dur": _us(k["dur"]), "args": args})
        if k["launch_id"] >= 0 and k["correlation"] >= 0:
            ev.append({"ph": "s", "id": k["correlation"], "pid": _id(k["host_pid"], labels), "tid": _id(k["host_tid"], labels),
                       "ts": _us(k["launch_ts"]), "cat": "ac2g", "name": "ac2g"})
            ev.append({"ph": "f", "id": k["correlation"], "pid": _id(k["pid"], labels), "tid": _id(k["tid"], labels),
                       "ts": _us(k["ts"]), "cat": "ac2g", "name": "ac2g", "bp": "e"})
    for r in rows("regions"):
        if r["kind"] == "gpu_annotation":
            ev.append({"ph": "X", "cat": "gpu_user_annotation", "name": r["name"], "pid": _id(r["pid"], labels),
                       "tid": _id(r["tid"], labels), "ts": _us(r["ts"]), "dur": _us(r["dur"])})
    for c in rows("counters"):
        ev.append({"ph": "C", "name": "", "pid": f"counters device {c['device']}", "tid": 0, "ts": _us(c["ts"]),
                   "args": {"device": c["device"], c["name"]: c["value"]}})
    # skiprof's findings as annotation tracks (a category the importer leaves out of the tables).
    stretches = boundness.step_columns(v, per)
    if not stretches["stretch"]:
        stretches = boundness.window_columns(v, 10, per)
    for name, lo, hi, lab, qs, idle in zip(stretches["stretch"], stretches["start_ns"], stretches["end_ns"],
                                           stretches["label"], stretches["queue_share"], stretches["gpu_idle_share"]):
        ev.append({"ph": "X", "cat": ANNOTATION_CAT, "name": f"{lab} ({name})", "pid": "skiprof", "tid": "boundness",
                   "ts": _us(lo), "dur": _us(hi - lo), "args": {"queue_share": qs, "gpu_idle_share": idle}})
    p = breakdown.phases(v)
    lo, hi = v.span()
    ev.append({"ph": "X", "cat": ANNOTATION_CAT, "name": "phase shares", "pid": "skiprof", "tid": "phases",
               "ts": _us(lo), "dur": _us(hi - lo),
               "args": {n: round(ns / p.span_ns, 4) if p.span_ns else 0.0 for n, ns in zip(p.names, p.ns)}})
    info = t.meta.get("trace_fields", {}).get("distributedInfo")
    info = {**(info if isinstance(info, dict) else {}), "rank": v.rank}  # world size, backend, ... as recorded
    doc: dict[str, Any] = {"schemaVersion": 1, "distributedInfo": info, "traceEvents": ev,
                           "displayTimeUnit": "ms", "traceName": str(output)}
    origin = t.meta.get("clock", {}).get("origin_unix_ns")
    if origin is not None:
        doc["baseTimeNanoseconds"] = origin
    data = msgspec.json.encode(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.partial")
    if output.name.endswith(".gz"):
        with gzip.open(tmp, "wb", compresslevel=6) as fh:
            fh.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(output)
    return len(ev)
