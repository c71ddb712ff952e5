"""Assemble decoded batches into the linked tables of one rank."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .._arrow import (concat_strings, dictionary_encode, eq_mask, isin_mask, str_array, strings_to_arrow, take,
                      take_or_null, to_arrow, to_numpy)
from .._domain import copy_kind, launch_kind
from .._schema import arrow_schema
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
    parts = [b.groups[group] for b in batches if group in b.groups]
    if not parts:
        return None
    out: dict[str, Any] = {}
    for key in parts[0]:
        vals = [p[key] for p in parts]
        if isinstance(vals[0], np.ndarray):
            out[key] = np.concatenate(vals)
        elif isinstance(vals[0], list):
            out[key] = [x for v in vals for x in v]
        else:
            out[key] = _valid_utf8(strings_to_arrow(concat_strings(vals)))
    return out


def _map_names(names: pa.Array, fn: Any, width: int) -> list[pa.Array]:
    """Apply ``fn`` (name -> tuple of ``width`` strings) once per distinct name, then spread the results."""
    enc = dictionary_encode(names)
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


def build_rank(rank: int, batches: list[Batch]) -> RankTables:
    """Link and assemble one rank's tables from its decoded batches."""
    stats: dict[str, Any] = {}
    host = _concat(batches, "host")
    runtime = _concat(batches, "runtime")
    device = _concat(batches, "device")
    flows = _concat(batches, "flow")
    tables: dict[str, pa.Table] = {}

    # --- ops: sort by thread and time, then nest -------------------------------------------
    n_ops = len(host["ts"]) if host else 0
    n_rt = len(runtime["ts"]) if runtime else 0
    pid_all = np.concatenate([host["pid"] if host else np.zeros(0, np.int64), runtime["pid"] if runtime else np.zeros(0, np.int64)])
    tid_all = np.concatenate([host["tid"] if host else np.zeros(0, np.int64), runtime["tid"] if runtime else np.zeros(0, np.int64)])
    thr_all = thread_index(pid_all, tid_all)
    op_thr, rt_thr = thr_all[:n_ops], thr_all[n_ops:]
    if host:
        order = np.lexsort((-host["dur"], host["ts"], op_thr))
        host = {k: (v[order] if isinstance(v, np.ndarray) else take(v, order)) for k, v in host.items()}
        op_thr = op_thr[order]
        parent, depth = nest(op_thr, host["ts"], host["dur"])
        is_cpu = eq_mask(host["cat"], "cpu_op")
        cpu_idx = np.flatnonzero(is_cpu)
        cpu_parent_local, _ = nest(op_thr[cpu_idx], host["ts"][cpu_idx], host["dur"][cpu_idx])
        cpu_parent = np.full(n_ops, -1, np.int64)
        cpu_parent[cpu_idx] = np.where(cpu_parent_local >= 0, cpu_idx[np.maximum(cpu_parent_local, 0)], -1)
        host["op_id"] = np.arange(n_ops, dtype=np.int64)
        host["parent"], host["depth"], host["cpu_parent"] = parent, depth, cpu_parent
        host["rank"] = np.full(n_ops, rank, np.int32)
        tables["ops"] = _table("ops", host)
        op_names = host["name"]
    else:
        tables["ops"] = _empty("ops")
        cpu_idx = np.zeros(0, np.int64)
        op_names = str_array([])

    # --- launches: correlation from flows where args lack it, then innermost cpu_op ----------
    if runtime:
        corr = runtime["correlation"]
        if flows is not None and (corr < 0).any():
            s = flows["start"] & flows["ok"]
            miss = np.flatnonzero(corr < 0)
            corr[miss] = match_flows(flows["pid"][s], flows["tid"][s], flows["ts"][s], flows["id"][s],
                                     runtime["pid"][miss], runtime["tid"][miss], runtime["ts"][miss])
        op_id = np.full(n_rt, -1, np.int64)
        if len(cpu_idx):
            cthr = op_thr[cpu_idx]
            local = innermost_op(cthr, host["ts"][cpu_idx], host["ts"][cpu_idx] + host["dur"][cpu_idx],
                                 _local_parent(cpu_parent, cpu_idx), rt_thr, runtime["ts"])
            op_id = np.where(local >= 0, cpu_idx[np.maximum(local, 0)], -1)
            # Fall back on Kineto's External id where no op encloses the call in time.
            ext = runtime["external_id"]
            miss = np.flatnonzero((op_id < 0) & (ext >= 0))
            if len(miss):
                m, _ = match_ids(host["external_id"][cpu_idx], ext[miss])
                ok = m >= 0
                cand = cpu_idx[np.maximum(m, 0)]
                ok &= host["pid"][cand] == runtime["pid"][miss]
                op_id[miss[ok]] = cand[ok]
            stats["launches_linked_by_external_id"] = int(ok.sum()) if len(miss) else 0
        top_op = np.full(n_rt, -1, np.int64)
        if host:
            top_cpu = top_of(host["cpu_parent"])
            top_op = np.where(op_id >= 0, top_cpu[np.maximum(op_id, 0)], -1)
            # No cpu_op around the call (CUDA-graph replay from Python, say): take the
            # innermost host event of any kind, and its outermost ancestor.
            miss = np.flatnonzero(op_id < 0)
            if len(miss):
                any_op = innermost_op(op_thr, host["ts"], host["ts"] + host["dur"], host["parent"],
                                      rt_thr[miss], runtime["ts"][miss])
                top_any = top_of(host["parent"])
                op_id[miss] = any_op
                top_op[miss] = np.where(any_op >= 0, top_any[np.maximum(any_op, 0)], -1)
                stats["launches_linked_to_non_cpu_op"] = int((any_op >= 0).sum())
        (kinds,) = _map_names(runtime["name"], lambda n: (launch_kind(n),), 1)
        runtime.update(
            launch_id=np.arange(n_rt, dtype=np.int64), kind=kinds, op_id=op_id, top_op_id=top_op,
            rank=np.full(n_rt, rank, np.int32), correlation=corr,
        )
        tables["launches"] = _table("launches", runtime)
    else:
        tables["launches"] = _empty("launches")
        op_id = top_op = np.zeros(0, np.int64)

    # --- kernels: device activity -> launch by correlation ---------------------------------
    if device:
        nk = len(device["ts"])
        order = np.lexsort((device["ts"], device["tid"], device["pid"]))
        device = {k: (v[order] if isinstance(v, np.ndarray) else take(v, order)) for k, v in device.items()}
        kcorr = device["correlation"]
        if flows is not None and (kcorr < 0).any():
            f = ~flows["start"] & flows["ok"]
            miss = np.flatnonzero(kcorr < 0)
            kcorr[miss] = match_flows(flows["pid"][f], flows["tid"][f], flows["ts"][f], flows["id"][f],
                                      device["pid"][miss], device["tid"][miss], device["ts"][miss])
        if runtime:
            lid, ambiguous = match_ids(runtime["correlation"], kcorr)
            if ambiguous.any():
                lid[ambiguous] = _resolve_ambiguous(runtime["correlation"], runtime["ts"], kcorr[ambiguous], device["ts"][ambiguous])
            stats["ambiguous_correlations"] = int(ambiguous.sum())
        else:
            lid = np.full(nk, -1, np.int64)
        linked = lid >= 0
        li = np.maximum(lid, 0)

        def pick(arr: np.ndarray, fill: int = -1) -> np.ndarray:
            return np.where(linked, arr[li], fill) if n_rt else np.full(nk, fill, np.int64)

        # Why an activity has no launch: the call came before the trace window (its
        # correlation id is older than every call recorded), it has no id, or no record.
        first_corr = runtime["correlation"][runtime["correlation"] >= 0].min() if n_rt and (runtime["correlation"] >= 0).any() else None
        before = (kcorr >= 0) & (kcorr < first_corr) if first_corr is not None else np.zeros(nk, bool)
        reason_names = ["before_window", "no_correlation", "no_launch_record"]
        reason_idx = np.where(linked, -1, np.where(before, 0, np.where(kcorr < 0, 1, 2)))
        device["orphan_reason"] = take_or_null(str_array(reason_names), reason_idx)
        k_op = pick(op_id)
        k_top = pick(top_op)
        copy_dir, host_mem = _map_names(device["name"], copy_kind, 2)
        not_copy = ~eq_mask(device["kind"], "memcpy")
        copy_dir = _null_where(copy_dir, not_copy)
        host_mem = _null_where(host_mem, not_copy)
        device.update(
            rank=np.full(nk, rank, np.int32), kernel_id=np.arange(nk, dtype=np.int64), correlation=kcorr,
            launch_id=np.where(linked, lid, -1),
            launch_name=take_or_null(runtime["name"], np.where(linked, lid, -1)) if n_rt else pa.nulls(nk, pa.string()),
            launch_ts=pick(runtime["ts"]) if n_rt else np.full(nk, -1, np.int64),
            launch_dur=pick(runtime["dur"]) if n_rt else np.full(nk, -1, np.int64),
            host_pid=pick(runtime["pid"]) if n_rt else np.full(nk, -1, np.int64),
            host_tid=pick(runtime["tid"]) if n_rt else np.full(nk, -1, np.int64),
            op_id=k_op, top_op_id=k_top,
            op_name=take_or_null(op_names, k_op), top_op_name=take_or_null(op_names, k_top),
            copy_kind=copy_dir, host_mem=host_mem,
        )
        tables["kernels"] = _table("kernels", device)
        stats.update(
            device_activities=nk,
            linked_to_launch=int(linked.sum()),
            linked_to_op=int((k_op >= 0).sum()),
            orphans=int((~linked).sum()),
            orphans_before_window=int((~linked & before).sum()),
        )
    else:
        tables["kernels"] = _empty("kernels")
        stats.update(device_activities=0, linked_to_launch=0, linked_to_op=0, orphans=0, orphans_before_window=0)

    tables["regions"] = _regions(rank, host, _concat(batches, "gpu_ann"))
    tables["counters"] = _counters(rank, _concat(batches, "counter"))
    tables["metrics"] = _empty("metrics")  # filled by capture from what the workload recorded
    stats.update(
        ops=n_ops, launches=n_rt,
        launch_calls=int(isin_mask(tables["launches"]["kind"], ["launch", "graph"]).sum()) if n_rt else 0,
        events_without_ts=sum(b.no_ts for b in batches),
        events_without_dur=sum(b.no_dur for b in batches),
        exact_timestamps=any(b.exact for b in batches),
    )
    if device:
        kinds_enc = dictionary_encode(tables["kernels"]["kind"].combine_chunks())
        counts = np.bincount(to_numpy(kinds_enc.indices), minlength=len(kinds_enc.dictionary))
        stats["activities_by_kind"] = dict(zip(kinds_enc.dictionary.to_pylist(), counts.tolist()))
    spans = [(to_numpy(t["ts"]), to_numpy(t["dur"])) for t in (tables["ops"], tables["kernels"], tables["launches"]) if t.num_rows]
    if spans:
        lo = min(int(ts.min()) for ts, _ in spans)
        hi = max(int((ts + dur).max()) for ts, dur in spans)
        stats["span_ns"] = hi - lo
    stats["regions"] = tables["regions"].num_rows
    stats["counters"] = tables["counters"].num_rows
    ignored: dict[str, int] = {}
    for b in batches:
        for k, v in b.ignored.items():
            ignored[k] = ignored.get(k, 0) + v
    stats["ignored_events"] = dict(sorted(ignored.items()))
    return RankTables(rank, tables, stats, _process_names(batches))


def _local_parent(cpu_parent: np.ndarray, cpu_idx: np.ndarray) -> np.ndarray:
    """cpu_parent (global op ids) re-expressed as positions within cpu_idx."""
    pos = np.searchsorted(cpu_idx, cpu_parent[cpu_idx])
    return np.where(cpu_parent[cpu_idx] >= 0, pos, -1)


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


def _regions(rank: int, host: dict[str, Any] | None, gpu: dict[str, Any] | None) -> pa.Table:
    parts = []
    if host:
        is_ann = eq_mask(host["cat"], "user_annotation")
        idx = np.flatnonzero(is_ann)
        if len(idx):
            names = take(host["name"], idx).to_pylist()
            kinds, clean, steps = [], [], []
            for nm in names:  # one entry per region, a small fraction of events
                m = _STEP.match(nm)
                if m:
                    kinds.append("step"); clean.append(nm); steps.append(int(m.group(1)))
                elif nm.startswith(SKIPROF_PREFIX):
                    kinds.append("skiprof"); clean.append(nm[len(SKIPROF_PREFIX):]); steps.append(-1)
                elif "DataLoader" in nm:
                    kinds.append("dataloader"); clean.append(nm); steps.append(-1)
                else:
                    kinds.append("annotation"); clean.append(nm); steps.append(-1)
            parts.append({
                "rank": np.full(len(idx), rank, np.int32), "pid": host["pid"][idx], "tid": host["tid"][idx],
                "name": str_array(clean), "kind": str_array(kinds),
                "ts": host["ts"][idx], "dur": host["dur"][idx], "op_id": idx.astype(np.int64),
                "step": np.array(steps, np.int64),
            })
    if gpu:
        n = len(gpu["ts"])
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


def _counters(rank: int, counters: dict[str, Any] | None) -> pa.Table:
    if not counters or not len(counters["ts"]):
        return _empty("counters")
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
