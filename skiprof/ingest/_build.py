"""Assemble decoded batches into the linked tables of one rank."""
from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .._arrow import (
    concat_strings,
    dictionary_encode,
    eq_mask,
    isin_mask,
    str_array,
    strings_to_arrow,
    take,
    take_or_null,
    to_arrow,
    to_numpy,
)
from .._domain import copy_kind, launch_kind
from .._schema import arrow_schema
from .._strings import Coded, bytes_strings, strings_list
from ._events import Batch
from ._link import innermost_op, match_flows, match_ids, nest, thread_index, top_of

__all__ = ["RankTables", "build_rank"]

_STEP = re.compile(r"^ProfilerStep#(\d+)$")
SKIPROF_PREFIX = "skiprof:"


@dataclass
class RankTables:
    """The five tables of one rank plus what meta.json records about them."""

    rank: int
    tables: dict[str, pa.Table]
    stats: dict[str, Any] = field(default_factory=dict)
    process_names: dict[str, str] = field(default_factory=dict)


def _concat(batches: list[Batch], group: str) -> dict[str, Any] | None:
    """One group's columns over all batches, taken out of them: each piece's copy is freed as soon as
    the joined one exists, which keeps the build's peak memory near one copy of the columns."""
    parts = [b.groups.pop(group) for b in batches if group in b.groups]
    if not parts:
        return None
    out: dict[str, Any] = {}
    for key in parts[0]:
        vals = [p[key] for p in parts]
        if isinstance(vals[0], np.ndarray):
            out[key] = np.concatenate(vals)
        elif isinstance(vals[0], Coded):
            out[key] = _join_coded(vals)
        elif isinstance(vals[0], list):
            out[key] = [x for v in vals for x in v]
        else:
            out[key] = _valid_utf8(strings_to_arrow(concat_strings(vals)))
    return out


def _join_coded(parts: list[Coded]) -> pa.DictionaryArray:
    """One dictionary-encoded column from the pieces' Coded columns: each piece's distinct values are
    numbered in one dictionary of the whole column (by their bytes), and its codes translated."""
    index: dict[bytes | None, int] = {}
    codes = []
    for part in parts:
        to_global = np.array([index.setdefault(v, len(index)) for v in strings_list(part.values)], np.int32)
        codes.append(to_global[part.codes] if len(to_global) else part.codes)
    values = _valid_utf8(strings_to_arrow(bytes_strings(list(index))))
    return pa.DictionaryArray.from_arrays(to_arrow(np.concatenate(codes) if codes else np.zeros(0, np.int32)), values)


def _map_names(names: pa.Array, fn: Any, width: int) -> list[pa.Array]:
    """Apply ``fn`` (name -> tuple of ``width`` strings) once per distinct name, then spread the results.
    ``names`` may come dictionary-encoded already (_sorted keeps that form as ``coded(col)``)."""
    enc = names if isinstance(names, pa.DictionaryArray) else dictionary_encode(names)
    uniq = [fn(x) for x in enc.dictionary.to_pylist()]
    return [take(str_array([u[j] for u in uniq]), enc.indices) for j in range(width)]


def _table(name: str, cols: dict[str, Any]) -> pa.Table:
    schema = arrow_schema(name)
    arrays = [to_arrow(cols[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _valid_utf8(arr: pa.Array) -> pa.Array:
    """Names are copied from the file as raw bytes: bytes that are not UTF-8 become U+FFFD."""
    if not pa.types.is_string(arr.type):
        return arr
    try:
        arr.validate(full=True)
        return arr
    except pa.ArrowInvalid:
        return str_array([None if v is None else v.decode("utf-8", "replace") for v in arr.cast(pa.binary()).to_pylist()])


def _empty(name: str) -> pa.Table:
    schema = arrow_schema(name)
    arrays = [str_array([]) if pa.types.is_string(f.type) else to_arrow(np.zeros(0, f.type.to_pandas_dtype()), f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _name_key(cols: dict[str, Any]) -> np.ndarray:
    """A number per row that orders equal-time events by name, whatever order the file lists them in.

    Leaves ``cols["name"]`` dictionary-encoded (the encoding the key is made from), which _sorted
    then reorders through its codes."""
    names = cols["name"]
    # Names come from the decoding already dictionary-encoded (_join_coded); other columns are encoded here.
    enc = names if isinstance(names, pa.DictionaryArray) else dictionary_encode(_as_arrow(names))
    cols["name"] = enc
    crc = np.array([zlib.crc32((v or "").encode()) for v in enc.dictionary.to_pylist()] + [0], np.int64)
    idx = to_numpy(enc.indices)
    return crc[np.where(idx >= 0, idx, len(crc) - 1)]


def coded(name: str) -> str:
    """The key under which _sorted also keeps a dictionary-encoded column in its codes' form (tables
    take only their schema's columns, so the extra key never reaches a file)."""
    return f"{name}#coded"


def _coded_form(cols: dict[str, Any], key: str) -> Any:
    """A sorted column in its codes' form where _sorted kept one, else the column as it is."""
    return cols.get(coded(key), cols[key])


def _sorted(cols: dict[str, Any], keys: tuple[np.ndarray, ...]) -> tuple[dict[str, Any], np.ndarray]:
    """The columns reordered by ``keys`` (last key most significant, as np.lexsort), and the order.

    ``cols`` is emptied on the way: each unsorted column is let go as soon as its sorted copy
    exists, so that the build holds one table's columns twice only one column at a time."""
    order = np.lexsort(keys)
    out: dict[str, Any] = {}
    for name in list(cols):
        col = cols.pop(name)
        if isinstance(col, np.ndarray):
            out[name] = col[order]
        elif isinstance(col, pa.DictionaryArray):
            # Gathered from the few distinct names, which stay in cache, instead of from every row's
            # copy: kernel names are long, and a gather over all of them was the build's slowest step.
            codes = take(col.indices, order)
            out[name] = take(col.dictionary, codes)
            out[coded(name)] = pa.DictionaryArray.from_arrays(codes, col.dictionary)  # for _map_names
        else:
            out[name] = take(col, order)
    return out, order


def build_rank(rank: int, batches: list[Batch], ready: Callable[[str, pa.Table], None] | None = None) -> RankTables:
    """Link and assemble one rank's tables from its decoded batches.

    Every table is sorted on its content (thread, time, duration, ids, name), never on the order
    of events in the file, so the same events give the same tables and row ids in any order.
    ``ready(name, table)`` is called as each table is done (the caller can start writing it).
    """
    stats: dict[str, Any] = {}
    tables: dict[str, pa.Table] = {}

    def put(name: str, table: pa.Table) -> None:
        tables[name] = table
        if ready is not None:
            ready(name, table)

    host, runtime, device = _concat(batches, "host"), _concat(batches, "runtime"), _concat(batches, "device")
    flows = _concat(batches, "flow")
    n_ops = len(host["ts"]) if host else 0
    empty = np.zeros(0, np.int64)
    thr_all = thread_index(np.concatenate([host["pid"] if host else empty, runtime["pid"] if runtime else empty]),
                           np.concatenate([host["tid"] if host else empty, runtime["tid"] if runtime else empty]))
    op_thr, rt_thr = thr_all[:n_ops], thr_all[n_ops:]
    rows = n_ops + len(rt_thr) + (len(device["ts"]) if device else 0)
    with ThreadPoolExecutor(1) if rows >= CONCURRENT_ROWS else _InTurn() as pool:
        # The runtime calls and the device activities are sorted on the other core while the ops
        # are built and nested: numpy's sorts and Arrow's takes run without the interpreter lock.
        rt_sorted = pool.submit(_sort_runtime, runtime, rt_thr) if runtime else None
        dev_sorted = pool.submit(_sort_device, device) if device else None
        # The sorted copies replace these: each unsorted one goes as soon as it is sorted, not after the ops.
        runtime = device = None
        ops = _Ops(rank, host, op_thr)
        del host  # the unsorted copy: the ops hold the sorted one
        put("ops", ops.table)
        # Regions and allocations need only the ops: built there while the launches are linked here.
        regions = pool.submit(_regions, rank, ops.host, _concat(batches, "gpu_ann"))
        memory = pool.submit(_memory, rank, _concat(batches, "instant"), ops)
        op_id, top_op = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if rt_sorted is not None:
            runtime, rt_thr = rt_sorted.result()
            launches, op_id, top_op = _link_launches(rank, runtime, rt_thr, flows, ops, stats)
            put("launches", launches)
        else:
            put("launches", _empty("launches"))
        device = dev_sorted.result() if dev_sorted is not None else None
        put("kernels", _link_kernels(rank, device, runtime, flows, op_id, top_op, ops.names, stats))
        put("regions", regions.result())
        put("counters", _counters(rank, _concat(batches, "counter")))
        put("metrics", _empty("metrics"))  # filled by capture from what the workload recorded
        put("memory", memory.result())
    _count(tables, batches, stats)
    return RankTables(rank, tables, stats, _process_names(batches))


#: From this many host, runtime and device events on, build_rank works on two threads. Below, the
#: tables are built one after another: holding several sorted copies at once raised the peak memory
#: of the 1x V100 trace's import by about 15 MB, for a few hundredths of a second.
CONCURRENT_ROWS = 500_000


class _InTurn:
    """A stand-in for the thread pool that runs each task when its result is asked for, in this thread."""

    def __enter__(self) -> _InTurn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Task:
        """``fn(*args)``, to be run when its result is asked for."""
        return _Task(fn, args)


class _Task:
    """A deferred call whose result is computed once, on the first ``result()``."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn: Callable[..., Any] | None = fn
        self.args: tuple[Any, ...] = args
        self.value: Any = None

    def result(self) -> Any:
        """The call's value, computed on the first call."""
        if self.fn is not None:
            fn, args = self.fn, self.args
            self.fn, self.args = None, ()  # the task lets go of its inputs once run
            self.value = fn(*args)
        return self.value


class _Ops:
    """The ops table: host events sorted by thread and time, nested, with their cpu_op parents."""

    def __init__(self, rank: int, host: dict[str, Any] | None, thr: np.ndarray) -> None:
        self.host = host
        if not host:
            self.table, self.cpu_idx, self.names, self.thr = _empty("ops"), np.zeros(0, np.int64), str_array([]), thr
            self.cpu_local_parent = np.zeros(0, np.int64)
            return
        n = len(host["ts"])
        host, order = _sorted(host, (_name_key(host), -host["dur"], host["ts"], thr))
        self.thr = thr[order]
        parent, depth = nest(self.thr, host["ts"], host["dur"])
        self.cpu_idx = np.flatnonzero(eq_mask(_coded_form(host, "cat"), "cpu_op"))
        ci = self.cpu_idx
        local, _ = nest(self.thr[ci], host["ts"][ci], host["dur"][ci])
        self.cpu_local_parent = local  # each cpu_op's parent as a position among the cpu_ops (-1: none)
        cpu_parent = np.full(n, -1, np.int64)
        cpu_parent[ci] = np.where(local >= 0, ci[np.maximum(local, 0)], -1)
        host.update(op_id=np.arange(n, dtype=np.int64), parent=parent, depth=depth, cpu_parent=cpu_parent,
                    rank=np.full(n, rank, np.int32))
        self.host, self.table, self.names = host, _table("ops", host), host["name"]


def _as_arrow(values: Any) -> pa.Array:
    return values if isinstance(values, pa.Array) else strings_to_arrow(values)


def _sort_runtime(runtime: dict[str, Any], thr: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    keys = (_name_key(runtime), runtime["correlation"], -runtime["dur"], runtime["ts"], thr)
    runtime, order = _sorted(runtime, keys)
    return runtime, thr[order]


def _call_ops(runtime: dict[str, Any], rt_thr: np.ndarray, ops: _Ops, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(innermost op, top-level op) of each runtime call: the enclosing cpu_op, else its External id's
    cpu_op, else the innermost host event of any kind (a CUDA-graph replay from Python, say)."""
    host, ci, n_rt = ops.host or {}, ops.cpu_idx, len(runtime["ts"])
    op_id = np.full(n_rt, -1, np.int64)
    if len(ci):
        local = innermost_op(ops.thr[ci], host["ts"][ci], host["ts"][ci] + host["dur"][ci],
                             ops.cpu_local_parent, rt_thr, runtime["ts"])
        op_id = np.where(local >= 0, ci[np.maximum(local, 0)], -1)
        ext = runtime["external_id"]
        miss = np.flatnonzero((op_id < 0) & (ext >= 0))
        ok = np.zeros(len(miss), bool)
        if len(miss):
            m, _ = match_ids(host["external_id"][ci], ext[miss])
            cand = ci[np.maximum(m, 0)]
            ok = (m >= 0) & (host["pid"][cand] == runtime["pid"][miss])
            op_id[miss[ok]] = cand[ok]
        stats["launches_linked_by_external_id"] = int(ok.sum())
    top_op = np.full(n_rt, -1, np.int64)
    if host:
        top_op = np.where(op_id >= 0, top_of(host["cpu_parent"])[np.maximum(op_id, 0)], -1)
        miss = np.flatnonzero(op_id < 0)
        if len(miss):
            any_op = innermost_op(ops.thr, host["ts"], host["ts"] + host["dur"], host["parent"], rt_thr[miss], runtime["ts"][miss])
            op_id[miss] = any_op
            top_op[miss] = np.where(any_op >= 0, top_of(host["parent"])[np.maximum(any_op, 0)], -1)
            stats["launches_linked_to_non_cpu_op"] = int((any_op >= 0).sum())
    return op_id, top_op


def _link_launches(rank: int, runtime: dict[str, Any], rt_thr: np.ndarray, flows: dict[str, Any] | None, ops: _Ops,
                   stats: dict[str, Any]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The launches table: correlation from flows where args lack it, then the ops around each call."""
    n_rt = len(runtime["ts"])
    corr = runtime["correlation"]
    if flows is not None and (corr < 0).any():
        s = flows["start"] & flows["ok"]
        miss = np.flatnonzero(corr < 0)
        corr[miss] = match_flows(flows["pid"][s], flows["tid"][s], flows["ts"][s], flows["id"][s],
                                 runtime["pid"][miss], runtime["tid"][miss], runtime["ts"][miss])
    op_id, top_op = _call_ops(runtime, rt_thr, ops, stats)
    (kinds,) = _map_names(_coded_form(runtime, "name"), lambda n: (launch_kind(n),), 1)
    runtime.update(launch_id=np.arange(n_rt, dtype=np.int64), kind=kinds, op_id=op_id, top_op_id=top_op,
                   rank=np.full(n_rt, rank, np.int32), correlation=corr)
    return _table("launches", runtime), op_id, top_op


def _launch_of(device: dict[str, Any], runtime: dict[str, Any] | None, flows: dict[str, Any] | None,
               stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(correlation, launches row or -1) of each device activity."""
    kcorr = device["correlation"]
    if flows is not None and (kcorr < 0).any():
        f = ~flows["start"] & flows["ok"]
        miss = np.flatnonzero(kcorr < 0)
        kcorr[miss] = match_flows(flows["pid"][f], flows["tid"][f], flows["ts"][f], flows["id"][f],
                                  device["pid"][miss], device["tid"][miss], device["ts"][miss])
    if not runtime:
        return kcorr, np.full(len(kcorr), -1, np.int64)
    lid, ambiguous = match_ids(runtime["correlation"], kcorr)
    if ambiguous.any():
        lid[ambiguous] = _resolve_ambiguous(runtime["correlation"], runtime["ts"], kcorr[ambiguous], device["ts"][ambiguous])
    stats["ambiguous_correlations"] = int(ambiguous.sum())
    return kcorr, lid


def _sort_device(device: dict[str, Any]) -> dict[str, Any]:
    """The device activities sorted on their content (name, correlation, duration, time, thread)."""
    keys = (_name_key(device), device["correlation"], device["dur"], device["ts"], device["tid"], device["pid"])
    return _sorted(device, keys)[0]


def _link_kernels(rank: int, device: dict[str, Any] | None, runtime: dict[str, Any] | None, flows: dict[str, Any] | None,
                  op_id: np.ndarray, top_op: np.ndarray, op_names: pa.Array, stats: dict[str, Any]) -> pa.Table:
    """The kernels table: every device activity (sorted by _sort_device) linked to its launch call and that call's ops."""
    if not device:
        stats.update(device_activities=0, linked_to_launch=0, linked_to_op=0, orphans=0, orphans_before_window=0)
        return _empty("kernels")
    nk = len(device["ts"])
    kcorr, lid = _launch_of(device, runtime, flows, stats)
    linked, li, n_rt = lid >= 0, np.maximum(lid, 0), len(runtime["ts"]) if runtime else 0
    runtime = runtime or {}

    def pick(arr: np.ndarray) -> np.ndarray:
        return np.where(linked, arr[li], -1) if n_rt else np.full(nk, -1, np.int64)

    # Why an activity has no launch: the call came before the trace window (its correlation id
    # is older than every call recorded), it has no id, or no record.
    rc = runtime["correlation"] if n_rt else np.zeros(0, np.int64)
    before = (kcorr >= 0) & (kcorr < rc[rc >= 0].min()) if (rc >= 0).any() else np.zeros(nk, bool)
    reason_idx = np.where(linked, -1, np.where(before, 0, np.where(kcorr < 0, 1, 2)))
    k_op, k_top = pick(op_id), pick(top_op)
    copy_dir, host_mem = _map_names(_coded_form(device, "name"), copy_kind, 2)
    not_copy = ~eq_mask(_coded_form(device, "kind"), "memcpy")
    device.update(
        rank=np.full(nk, rank, np.int32), kernel_id=np.arange(nk, dtype=np.int64), correlation=kcorr,
        launch_id=np.where(linked, lid, -1),
        orphan_reason=take_or_null(str_array(["before_window", "no_correlation", "no_launch_record"]), reason_idx),
        launch_name=take_or_null(runtime["name"], np.where(linked, lid, -1)) if n_rt else pa.nulls(nk, pa.string()),
        launch_ts=pick(runtime["ts"]) if n_rt else np.full(nk, -1, np.int64),
        launch_dur=pick(runtime["dur"]) if n_rt else np.full(nk, -1, np.int64),
        host_pid=pick(runtime["pid"]) if n_rt else np.full(nk, -1, np.int64),
        host_tid=pick(runtime["tid"]) if n_rt else np.full(nk, -1, np.int64),
        op_id=k_op, top_op_id=k_top, op_name=take_or_null(op_names, k_op), top_op_name=take_or_null(op_names, k_top),
        copy_kind=_null_where(copy_dir, not_copy), host_mem=_null_where(host_mem, not_copy),
    )
    stats.update(device_activities=nk, linked_to_launch=int(linked.sum()), linked_to_op=int((k_op >= 0).sum()),
                 orphans=int((~linked).sum()), orphans_before_window=int((~linked & before).sum()))
    return _table("kernels", device)


def _count(tables: dict[str, pa.Table], batches: list[Batch], stats: dict[str, Any]) -> None:
    """The rank's statistics (meta.json ``stats``)."""
    n_rt = tables["launches"].num_rows
    stats.update(
        ops=tables["ops"].num_rows, launches=n_rt,
        launch_calls=int(isin_mask(tables["launches"]["kind"], ["launch", "graph"]).sum()) if n_rt else 0,
        events_without_ts=sum(b.no_ts for b in batches), events_without_dur=sum(b.no_dur for b in batches),
        exact_timestamps=any(b.exact for b in batches),
        regions=tables["regions"].num_rows, counters=tables["counters"].num_rows,
    )
    if tables["kernels"].num_rows:
        enc = dictionary_encode(tables["kernels"]["kind"].combine_chunks())
        counts = np.bincount(to_numpy(enc.indices), minlength=len(enc.dictionary))
        stats["activities_by_kind"] = dict(zip(enc.dictionary.to_pylist(), counts.tolist()))
    spans = [(to_numpy(t["ts"]), to_numpy(t["dur"])) for t in (tables["ops"], tables["kernels"], tables["launches"]) if t.num_rows]
    if spans:
        stats["span_ns"] = max(int((ts + dur).max()) for ts, dur in spans) - min(int(ts.min()) for ts, _ in spans)
    ignored: dict[str, int] = {}
    for b in batches:
        for k, v in b.ignored.items():
            ignored[k] = ignored.get(k, 0) + v
    stats["ignored_events"] = dict(sorted(ignored.items()))


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """``arr`` with nulls where ``mask`` is set."""
    idx = np.arange(len(arr), dtype=np.int64)
    idx[mask] = -1
    return take_or_null(arr, idx)


def _resolve_ambiguous(corr: np.ndarray, ts: np.ndarray, q_corr: np.ndarray, q_ts: np.ndarray) -> np.ndarray:
    """Among launches sharing a correlation id (several processes), the latest one not after the activity."""
    order = np.lexsort((ts, corr))
    sc, st = corr[order], ts[order]
    out = np.empty(len(q_corr), np.int64)
    for i, (c, t) in enumerate(zip(q_corr, q_ts)):  # only the rare duplicated ids come here
        lo, hi = np.searchsorted(sc, c, "left"), np.searchsorted(sc, c, "right")
        j = lo + max(int(np.searchsorted(st[lo:hi], t, "right")) - 1, 0)
        out[i] = order[j]
    return out


def _region_kind(name: str) -> tuple[str, str, int]:
    """(kind, name as stored, step number) of a user annotation."""
    m = _STEP.match(name)
    if m:
        return "step", name, int(m.group(1))
    if name.startswith(SKIPROF_PREFIX):
        return "skiprof", name[len(SKIPROF_PREFIX):], -1
    return ("dataloader" if "DataLoader" in name else "annotation"), name, -1


def _regions(rank: int, host: dict[str, Any] | None, gpu: dict[str, Any] | None) -> pa.Table:
    """The regions table: user annotations on the host (steps, skiprof regions, others) and GPU annotations, sorted."""
    parts = []
    if host:
        is_ann = eq_mask(host["cat"], "user_annotation")
        idx = np.flatnonzero(is_ann)
        if len(idx):
            kinds, clean, steps = zip(*(_region_kind(nm) for nm in take(host["name"], idx).to_pylist()))
            parts.append({
                "rank": np.full(len(idx), rank, np.int32), "pid": host["pid"][idx], "tid": host["tid"][idx],
                "name": str_array(list(clean)), "kind": str_array(list(kinds)),
                "ts": host["ts"][idx], "dur": host["dur"][idx], "op_id": idx.astype(np.int64),
                "step": np.array(steps, np.int64),
            })
    if gpu:
        n = len(gpu["ts"])
        gpu, _ = _sorted(gpu, (_name_key(gpu), gpu["dur"], gpu["ts"], gpu["tid"], gpu["pid"]))
        parts.append({
            "rank": np.full(n, rank, np.int32), "pid": gpu["pid"], "tid": gpu["tid"], "name": gpu["name"],
            "kind": str_array(["gpu_annotation"] * n), "ts": gpu["ts"], "dur": gpu["dur"],
            "op_id": np.full(n, -1, np.int64), "step": np.full(n, -1, np.int64),
        })
    if not parts:
        return _empty("regions")
    return pa.concat_tables([_table("regions", p) for p in parts])


def metrics_table(rank: int, rows: list[dict[str, Any]]) -> pa.Table:
    """The metrics table of one rank from recorded (scenario, name, value, unit) rows."""
    if not rows:
        return _empty("metrics")
    return _table("metrics", {
        "rank": np.full(len(rows), rank, np.int32),
        "scenario": str_array([r["scenario"] for r in rows]),
        "name": str_array([r["name"] for r in rows]),
        "value": np.array([float(r["value"]) for r in rows], np.float64),
        "unit": str_array([r.get("unit") or "" for r in rows]),
    })


def _memory(rank: int, mem: dict[str, Any] | None, ops: _Ops) -> pa.Table:
    """Allocator events in time order, each with the innermost cpu_op around it on its thread."""
    if not mem or not len(mem["ts"]):
        return _empty("memory")
    mem, _ = _sorted(mem, (mem["bytes"], mem["tid"], mem["pid"], mem["ts"]))
    n = len(mem["ts"])
    op_id = np.full(n, -1, np.int64)
    host, ci = ops.host, ops.cpu_idx
    if host and len(ci):
        # The cpu_ops are already in (thread, ts, -dur) order with their local parents (_Ops);
        # each allocation only needs its thread's id in the ops' numbering.
        m_thr = _thread_ids_of(ops, mem["pid"], mem["tid"])
        local = innermost_op(ops.thr[ci], host["ts"][ci], host["ts"][ci] + host["dur"][ci],
                             ops.cpu_local_parent, m_thr, mem["ts"])
        op_id = np.where(local >= 0, ci[np.maximum(local, 0)], -1)
    mem.update(rank=np.full(n, rank, np.int32), op_id=op_id,
               op_name=take_or_null(host["name"], op_id) if host else pa.nulls(n, pa.string()))
    return _table("memory", mem)


def _thread_ids_of(ops: _Ops, pid: np.ndarray, tid: np.ndarray) -> np.ndarray:
    """The ops' thread id of each (pid, tid); -1 for a thread that ran no op."""
    host = ops.host or {}
    first = np.flatnonzero(np.r_[True, ops.thr[1:] != ops.thr[:-1]])  # one row per thread (ops are sorted by it)
    # Number the ops' threads and the asked ones together, then translate that numbering to the ops'.
    both = thread_index(np.concatenate([host["pid"][first], pid]), np.concatenate([host["tid"][first], tid]))
    to_ops = np.full(int(both.max()) + 1, -1, np.int64)
    to_ops[both[:len(first)]] = ops.thr[first]
    return to_ops[both[len(first):]]


def _counters(rank: int, counters: dict[str, Any] | None) -> pa.Table:
    """The counters table, sorted on its content (so the file's order never shows)."""
    if not counters or not len(counters["ts"]):
        return _empty("counters")
    counters, _ = _sorted(counters, (counters["value"], _name_key(counters), counters["device"], counters["ts"]))
    counters["rank"] = np.full(len(counters["ts"]), rank, np.int32)
    return _table("counters", counters)


def _process_names(batches: list[Batch]) -> dict[str, str]:
    names: dict[str, str] = {}
    for b in batches:
        meta = b.groups.get("meta")
        if not meta:
            continue
        for kind, pid, value in zip(meta["name"], meta["pid"], meta["value"]):
            if kind == "process_name" and value:
                names.setdefault(str(pid), value)
    return names
