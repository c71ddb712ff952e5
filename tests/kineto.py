"""Build small Kineto traces by hand for tests with known answers (times in µs, as Kineto writes)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

HOST_PID = 100
HOST_TID = 100


def op(name: str, ts: float, dur: float | None, *, cat: str = "cpu_op", tid: Any = HOST_TID,
       pid: Any = HOST_PID, ext: int | None = None, **args: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts}
    if dur is not None:
        ev["dur"] = dur
    a = dict(args)
    if ext is not None:
        a["External id"] = ext
    if a:
        ev["args"] = a
    return ev


def runtime(name: str, ts: float, dur: float, corr: int | None, *, cat: str = "cuda_runtime",
            tid: Any = HOST_TID, pid: Any = HOST_PID, ext: int | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if corr is not None:
        args["correlation"] = corr
    if ext is not None:
        args["External id"] = ext
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur, "args": args}


def kernel(name: str, ts: float, dur: float, corr: int | None, *, cat: str = "kernel", stream: int = 7,
           device: int = 0, nbytes: int | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"device": device, "stream": stream}
    if corr is not None:
        args["correlation"] = corr
    if nbytes is not None:
        args["bytes"] = nbytes
    return {"ph": "X", "cat": cat, "name": name, "pid": device, "tid": stream, "ts": ts, "dur": dur, "args": args}


def flow(ph: str, fid: int, pid: Any, tid: Any, ts: float) -> dict[str, Any]:
    ev = {"ph": ph, "id": fid, "pid": pid, "tid": tid, "ts": ts, "cat": "ac2g", "name": "ac2g"}
    if ph == "f":
        ev["bp"] = "e"
    return ev


def meta_event(kind: str, pid: Any, value: str, tid: Any = 0) -> dict[str, Any]:
    return {"ph": "M", "name": kind, "pid": pid, "tid": tid, "args": {"name": value}}


def write_trace(path: Path, events: list[dict[str, Any]], *, compact: bool = False, **fields: Any) -> Path:
    """Write a trace the way Kineto lays it out (or on one line with ``compact``)."""
    doc = {"schemaVersion": 1, "deviceProperties": [], **fields, "traceEvents": events,
           "traceName": str(path), "displayTimeUnit": "ms"}
    text = json.dumps(doc) if compact else _pretty(doc)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _pretty(doc: dict[str, Any]) -> str:
    head = {k: v for k, v in doc.items() if k != "traceEvents"}
    parts = ["{"]
    for k, v in head.items():
        if k in ("traceName", "displayTimeUnit"):
            continue
        parts.append(f'  "{k}": {json.dumps(v)},')
    parts.append('  "traceEvents": [')
    parts.append(",\n".join("  " + json.dumps(e, indent=2).replace("\n", "\n  ") for e in doc["traceEvents"]))
    parts.append("  ],")
    parts.append(f'  "traceName": {json.dumps(doc["traceName"])},')
    parts.append(f'  "displayTimeUnit": {json.dumps(doc["displayTimeUnit"])}')
    parts.append("}")
    return "\n".join(parts)


def linking_trace() -> list[dict[str, Any]]:
    """The hand-built trace of tests/test_linking.py; expected values are worked out there."""
    return [
        meta_event("process_name", HOST_PID, "python"),
        meta_event("process_name", HOST_PID, "python again"),  # repeated metadata: first wins
        meta_event("process_name", 0, "GPU 0"),
        op("ProfilerStep#1", 0, 190, cat="user_annotation"),
        op("aten::linear", 0, 100, ext=1),
        op("aten::addmm", 10, 50, ext=2, **{"Input Dims": [[16, 64], [64, 8]]}),
        runtime("cudaLaunchKernel", 20, 10, 11, ext=2),
        flow("s", 11, HOST_PID, HOST_TID, 20),
        runtime("cudaMemcpyAsync", 70, 5, 12, ext=1),
        runtime("cudaLaunchKernel", 90, 3, None),  # correlation only in the flow
        flow("s", 14, HOST_PID, HOST_TID, 90),
        op("skiprof:preprocess", 150, 30, cat="user_annotation"),
        runtime("cudaGraphLaunch", 160, 8, 13),
        op("aten::empty", 185, None),  # no dur
        kernel("gemm_kernel", 40, 30, 11),
        flow("f", 11, 0, 7, 40),
        kernel("Memcpy HtoD (Pageable -> Device)", 80, 4, 12, cat="gpu_memcpy", nbytes=4096),
        kernel("tail_kernel", 95, 2, None),
        flow("f", 14, 0, 7, 95),
        kernel("graph_k0", 170, 5, 13),
        kernel("graph_k1", 176, 5, 13),
        kernel("graph_k2", 182, 5, 13, stream=9),
        kernel("early_kernel", -10, 4, 5),  # launched before the window
        {"ph": "i", "cat": "cpu_instant_event", "name": "tick", "pid": HOST_PID, "tid": HOST_TID, "ts": 5, "s": "t"},
    ]
