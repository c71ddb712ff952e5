"""Launch and queue time of every linked device activity: computed once per view (View.per).

Definitions: docs/metrics.md, "Launch and queue". Launch and queue time belong to launch calls:
an ordinary launch starts one activity, which carries the call's wait; a graph launch starts many,
and only the first of them (in device order) carries the call's launch and queue time. The others
are device-side successors, counted apart (``graph_member``), with no launch or queue time.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from skiprof._domain import launch_kind, stream_key

from ._cols import Cols

__all__ = ["activity_columns", "KEEP", "rows_of", "segment_prev_max", "STALL_NS", "held_from"]

#: Launched work not started this long after it could first run (its call had returned and its stream
#: was free) is held back by a dependency, not by the launch path: HTA's kernel_wait bound.
STALL_NS = 30_000


def held_from(ready: np.ndarray, prev_end: np.ndarray) -> np.ndarray:
    """When launched work counts as held back if it has not started: STALL_NS after it could first
    run, once its call had returned (``ready``) and the previous activity on its stream had ended
    (``prev_end``; anything earlier than ``ready`` where there is none). The one rule behind
    ``held_ns``, boundness's dependency idle, the replay's kept wait and the critical path's."""
    return np.maximum(ready, prev_end) + STALL_NS

KEEP = ["kernel_id", "name", "kind", "device", "stream", "ts", "dur", "launch_id", "launch_name", "launch_ts",
        "launch_dur", "op_id", "op_name", "top_op_id", "top_op_name"]


def rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of ``ids`` holding each wanted id (the last such row), -1 where none does."""
    if not len(ids):
        return np.full(len(wanted), -1, np.int64)
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    pos = np.searchsorted(ranked, wanted, side="right") - 1
    hit = (pos >= 0) & (ranked[np.maximum(pos, 0)] == wanted)
    return np.where(hit, order[np.maximum(pos, 0)], -1).astype(np.int64)


def segment_prev_max(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the max of earlier values in the same group (NaN for a group's first row)."""
    out = np.full(len(values), np.nan)
    if not len(values):
        return out
    lo = values.min()
    span = float(values.max() - lo) + 1
    # Offsetting each group above the previous one keeps a running max from leaking across groups.
    _, g = np.unique(group, return_inverse=True)
    shifted = (values - lo).astype(np.float64) + g * span
    run = np.maximum.accumulate(shifted) - g * span + lo
    first = np.ones(len(values), bool)
    first[1:] = group[1:] != group[:-1]
    out[1:] = run[:-1]
    out[first] = np.nan
    return out


def _launch_kinds(k: Cols) -> np.ndarray:
    """The launch call's kind for each row ('' for orphans), classified once per distinct name."""
    names = k["launch_name"]
    kinds = np.array([launch_kind(v) if v is not None else "" for v in names.values] + [""], dtype=object)
    return kinds[names.codes]


def _graph_successors(launch_id: np.ndarray, is_graph: np.ndarray, ts: np.ndarray, kernel_id: np.ndarray) -> np.ndarray:
    """Rows of a graph launch other than its first activity in device order."""
    out = np.zeros(len(launch_id), bool)
    rows = np.flatnonzero(is_graph)
    if not len(rows):
        return out
    order = rows[np.lexsort((kernel_id[rows], ts[rows], launch_id[rows]))]
    first = np.ones(len(order), bool)
    first[1:] = launch_id[order][1:] != launch_id[order][:-1]
    out[order[~first]] = True
    return out


def activity_columns(kernels: Cols) -> dict[str, Any]:
    """One row per linked device activity (numpy arrays and Codes), sorted by device, stream, ts.

    ``prev_end_on_stream`` counts every earlier activity on the stream, linked or not: an orphan
    that was already queued when recording began still occupies the stream.
    """
    order = np.lexsort((kernels["kernel_id"], kernels["ts"], kernels["stream"], kernels["device"]))
    k_all = kernels.take(order)
    end_all = k_all["ts"] + k_all["dur"]
    prev_all = segment_prev_max(end_all, stream_key(k_all["device"], k_all["stream"]))
    linked = k_all["launch_id"] >= 0
    k = k_all.take(linked)
    prev_end = prev_all[linked]
    out: dict[str, Any] = {c: k[c] for c in KEEP}
    ts = k["ts"]
    kinds = _launch_kinds(k)
    member = _graph_successors(k["launch_id"], kinds == "graph", ts, k["kernel_id"])
    launch_end = k["launch_ts"] + k["launch_dur"]
    raw = ts - k["launch_ts"]
    lq = np.where(member, 0, np.maximum(raw, 0))
    has_prev = ~np.isnan(prev_end)
    blocked = np.where(has_prev, np.minimum(ts, np.nan_to_num(prev_end)), launch_end)
    queue = np.clip(blocked - launch_end, 0, lq).astype(np.int64)
    out["launch_kind"] = kinds
    out["graph_member"] = member
    out["launch_end"] = launch_end
    out["prev_end_on_stream"] = np.where(has_prev, np.nan_to_num(prev_end), -1).astype(np.int64)
    out["launch_queue_ns"] = lq.astype(np.int64)
    out["queue_ns"] = queue
    out["launch_ns"] = (lq - queue).astype(np.int64)
    # The part of the launch time spent with the call returned and the stream free, beyond STALL_NS:
    # the work was held back by something else (an event of another stream or device, a peer rank).
    free = held_from(launch_end, np.where(has_prev, np.nan_to_num(prev_end), launch_end))
    out["held_ns"] = np.minimum(np.maximum(ts - free, 0), out["launch_ns"]).astype(np.int64)
    out["launch_delay_ns"] = np.where(member, 0, np.maximum(ts - launch_end, 0)).astype(np.int64)
    out["clipped"] = (raw < 0) & ~member
    return out
