"""Kernel-fusion candidates: chains of kernels that keep following each other on a stream (SKIP).

A chain is a run of consecutive kernels on one device stream with nothing else in between (no
memcpy/memset on the stream, no synchronization call between their launches). Its proximity score
is PS = occurrences of the chain / occurrences of its first kernel (SKIP's definition), for chain
lengths 2..max_len. Recommended chains have PS >= threshold; each is ranked by its estimated
saving, occurrences x (length - 1) x the per-launch cost measured in the CPU-bound stretches of the
run (all kernels when no stretch is CPU-bound). docs/metrics.md, "Fusion".
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._result import Col, Note, Result, Section, Table

from ._frame import frame
from ._options import Options
from ._view import View
from .boundness import window_columns

__all__ = ["chains", "chain_columns", "per_launch_cost", "FusionResult", "run"]

_COLS = ["chain", "length", "occurrences", "first_kernel_count", "proximity", "saving_ns", "ops"]


def per_launch_cost(view: View, per: dict[str, Any]) -> float:
    """Mean launch_ns per kernel that ran in a CPU-bound window (else over all kernels); kernels inside a
    graph launch have no launch of their own and are left out."""
    kern = per["kind"].eq("kernel") & ~per["graph_member"]
    lts, launch = per["ts"][kern], per["launch_ns"][kern]
    if not len(lts):
        return 0.0
    w = window_columns(view, 10)
    sel = np.zeros(len(lts), bool)
    for lo, hi, lab in zip(w["start_ns"], w["end_ns"], w["label"]):
        if lab == "cpu-bound":
            sel |= (lts >= lo) & (lts < hi)
    return float(launch[sel].mean()) if sel.any() else float(launch.mean())


def chain_columns(view: View, *, max_len: int = 4, threshold: float = 0.8, min_count: int = 2,
                  top: int = 10) -> dict[str, Any]:
    """fusion candidates as a dict of columns, best saving first; ``chain`` holds tuples of kernel names."""
    per = view.per
    k = view.kernels
    order = np.lexsort((k["ts"], k["stream"], k["device"]))
    k = k.take(order)
    is_kernel = k["kind"].eq("kernel")
    names, codes = k["name"].values, k["name"].codes
    key = k["device"].astype(np.int64) * (1 << 32) + k["stream"].astype(np.int64)
    # A chain may not continue across: a new stream, a non-kernel activity, or a sync call between launches.
    la = view.launches
    syncs = np.sort(la["ts"][la["kind"].eq("sync")])
    lts = np.where(k["launch_id"] >= 0, k["launch_ts"], k["ts"])
    n = len(codes)
    link = np.zeros(max(n - 1, 0), bool)  # link[i]: kernel i and i+1 may be in one chain
    if n > 1:
        lo, hi = np.minimum(lts[:-1], lts[1:]), np.maximum(lts[:-1], lts[1:])
        sync_between = np.searchsorted(syncs, hi, side="left") > np.searchsorted(syncs, lo, side="right")
        link = (key[1:] == key[:-1]) & is_kernel[1:] & is_kernel[:-1] & ~sync_between
    # How often each name occurs as a kernel (index: name code + 1, so that a null name's -1 is 0).
    first_count = np.bincount(codes[is_kernel] + 1, minlength=len(names) + 1)
    ops = k["op_name"].codes
    op_names = k["op_name"].values
    cost = per_launch_cost(view, per)
    rows: list[tuple[Any, ...]] = []
    for length in range(2, max_len + 1):
        if n < length:
            break
        # Windows of `length` kernels whose internal links all hold.
        ok = np.ones(n - length + 1, bool)
        for j in range(length - 1):
            ok &= link[j: n - length + 1 + j]
        starts = np.flatnonzero(ok)
        if not len(starts):
            continue
        grams = np.stack([codes[starts + j] for j in range(length)], axis=1)
        uniq, inverse, counts = _distinct_rows(grams)
        # The windows of each distinct chain, in order: one stable sort instead of a scan per chain.
        by_gram = np.argsort(inverse, kind="stable")
        bounds = np.r_[0, np.cumsum(counts)]
        for g, (gram, count) in enumerate(zip(uniq, counts)):
            ps = count / first_count[int(gram[0]) + 1]
            if count < min_count or ps < threshold:
                continue
            members = starts[by_gram[bounds[g]:bounds[g + 1]]]
            rows.append((tuple(names[c] for c in gram), length, int(count), int(first_count[int(gram[0]) + 1]),
                         float(ps), float(count * (length - 1) * cost), members))
    rows.sort(key=lambda r: (-r[5], -r[2], r[0]))  # chains are tuples of names: a total, file-independent order
    # The launching ops only of the chains kept (a trace can have hundreds that pass the threshold).
    rows = [(*r[:6], ", ".join(_most_common(ops[r[6]], op_names))) for r in rows[:top]]
    return {c: [r[i] for r in rows] for i, c in enumerate(_COLS)}


def _most_common(codes: np.ndarray, values: list[Any], n: int = 2) -> list[str]:
    """The ``n`` most frequent names among name codes (-1: none), ties in order of first
    appearance (as Counter.most_common orders them)."""
    codes = codes[codes >= 0]
    if not len(codes):
        return []
    uniq, first, counts = np.unique(codes, return_index=True, return_counts=True)
    top = np.lexsort((first, -counts))[:n]
    return [values[int(c)] for c in uniq[top]]


def _distinct_rows(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique over rows (distinct rows, each row's index among them, their counts): rows of up to
    four name codes below 2**15 are packed into one int64 first, which a 1-D unique sorts many
    times faster than rows."""
    width = grams.shape[1]
    if width <= 4 and (not grams.size or (int(grams.min()) >= 0 and int(grams.max()) < 1 << 15)):
        packed = np.zeros(len(grams), np.int64)
        for j in range(width):
            packed = (packed << 15) | grams[:, j].astype(np.int64)
        _, first, inverse, counts = np.unique(packed, return_index=True, return_inverse=True, return_counts=True)
        return grams[first], inverse.reshape(-1), counts
    uniq, inverse, counts = np.unique(grams, axis=0, return_inverse=True, return_counts=True)
    return uniq, inverse.reshape(-1), counts


def chains(view: View, *, max_len: int = 4, threshold: float = 0.8, min_count: int = 2, top: int = 10) -> Any:
    """Recommended fusion chains (DataFrame): chain (a list of kernel names), length, occurrences,
    proximity, estimated saving, launching ops."""
    cols = chain_columns(view, max_len=max_len, threshold=threshold, min_count=min_count, top=top)
    return frame({**cols, "chain": [list(c) for c in cols["chain"]]}, _COLS)


_CHAIN_COLS = (Col("rank", "#", "count"), Col("position", "pos", "count"), Col("kernel", "kernel", "kernel"),
               Col("occurrences", "times", "count"), Col("proximity", "PS", "number"), Col("saving_ns", "saves", "ns"),
               Col("ops", "launched by"))


class FusionResult(Result, msgspec.Struct, frozen=True):
    """Kernel chains worth fusing, best estimated saving first."""

    scope: str
    chains: tuple[dict[str, Any], ...]
    per_launch_ns: float
    has_device: bool = True

    name = "fusion"
    schema = "skiprof.fusion/2"
    title = "Fusion candidates"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "per_launch_ns": self.per_launch_ns,
                "chains": [{**c, "chain": list(c["chain"])} for c in self.chains]}

    def sections(self) -> list[Section]:
        """The chains, one kernel per line, and how the saving is estimated (on a CPU-only scope, why there are none)."""
        if not self.has_device:
            return [Note("no device activity in this scope: no kernels to fuse")]
        rows = []
        for i, c in enumerate(self.chains, 1):
            for pos, kernel in enumerate(c["chain"], 1):  # one kernel per line: names are never broken
                head = pos == 1
                rows.append({"rank": i if head else None, "position": pos, "kernel": kernel,
                             "occurrences": c["occurrences"] if head else None,
                             "proximity": c["proximity"] if head else None,
                             "saving_ns": c["saving_ns"] if head else None, "ops": c["ops"] if head else ""})
        return [Table("Kernel chains worth fusing (SKIP proximity score), best estimated saving first", _CHAIN_COLS,
                      tuple(rows), empty="no chain reaches the proximity threshold"),
                Note(f"saving = occurrences x (length - 1) x {self.per_launch_ns / 1e3:,.1f} µs per launch "
                     "(mean launch time in CPU-bound windows; docs/metrics.md, Fusion).")]


def run(view: View, options: Options) -> FusionResult:
    """Fusion candidates of a view."""
    cols = chain_columns(view, max_len=options.max_len, threshold=options.threshold, min_count=options.min_count,
                         top=options.top)
    chains = tuple({k: cols[k][i] for k in cols} for i in range(len(cols["chain"])))
    return FusionResult(view.label, chains, per_launch_cost(view, view.per), view.has_device)
