"""Many ranks at once: per-rank figures, stragglers, and collectives matched across ranks.

Per rank (``rank_figures``, a pure function of one rank's tables, small enough to send back from a
worker process or a Dask task): IL, GPU busy and idle, TKLQT with its launch and queue parts,
communication time and the share of it overlapped with computation (HTA's definition), step and
compute time, and the rank's collectives in issue order. The cross-rank reduce (``reduce``) matches
collectives by process group, name and sequence number, and names the stragglers. docs/metrics.md,
"Ranks".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from skiprof._domain import COMM_KERNEL
from skiprof._result import Col, Figure, Figures, Note, Result, Section, Table, host_cols

from . import _intervals as iv
from ._options import Options
from ._view import View, select
from .boundness import overall_columns
from .launch import summary

__all__ = ["rank_figures", "collectives_of", "reduce", "RanksResult", "run", "figures_for", "STRAGGLER_MAD", "LATE_SHARE"]

#: A rank is an outlier when its value exceeds the median by this many median absolute deviations...
STRAGGLER_MAD = 3.0
#: ... and by at least this share of the median.
STRAGGLER_MIN = 0.10
#: A rank whose late arrivals cause this share of all the time ranks wait at collectives (or more) is a late arriver.
LATE_SHARE = 0.5


_COLLECTIVE = re.compile(r"^(nccl|gloo|rccl|ucc|mpi):")
_C10D = re.compile(r"^c10d::|^record_param_comms$")


def _comm_masks(v: View) -> tuple[iv.Intervals, iv.Intervals]:
    """Communication and computation intervals: kernels on a GPU (memcpy and memset are neither,
    and, as in HTA, only kernels launched before the last profiler step when there are several,
    since the profiler may stop in the middle of it); gloo/nccl annotations and the other
    top-level ops on a CPU-only rank."""
    k = v.kernels
    if len(k):
        kern = k["kind"].eq("kernel")
        steps = v.regions.take(v.regions["kind"].eq("step"))
        if len(steps) >= 2:
            kern &= (k["launch_id"] >= 0) & (k["launch_ts"] < int(steps["ts"].max()))
        comm = kern & k["name"].search(COMM_KERNEL)
        return (iv.union(k["ts"][comm], (k["ts"] + k["dur"])[comm]),
                iv.union(k["ts"][kern & ~comm], (k["ts"] + k["dur"])[kern & ~comm]))
    ops = v.ops
    ann = _collective_rows(v)
    top = ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0) & ~ops["name"].search(_C10D)
    return (iv.union(ops["ts"][ann], (ops["ts"] + ops["dur"])[ann]),
            iv.union(ops["ts"][top], (ops["ts"] + ops["dur"])[top]))


def _collective_rows(v: View) -> np.ndarray:
    """The annotations PyTorch puts around each collective (``nccl:all_reduce``, ``gloo:broadcast``, ...)."""
    ops = v.ops
    return ops["cat"].eq("user_annotation") & ops["name"].search(_COLLECTIVE)


def collectives_of(v: View) -> list[dict[str, Any]]:
    """The rank's collectives in issue order: name, process group, sequence number within it, and
    when it started and ended (its communication kernels' span on a GPU, the annotation's on a CPU)."""
    ops, k = v.ops, v.kernels
    rows = np.flatnonzero(_collective_rows(v))
    if not len(rows):
        return []
    rows = rows[np.argsort(ops["ts"][rows], kind="stable")]
    pg = _process_groups(v, rows)
    comm = k["kind"].eq("kernel") & k["name"].search(COMM_KERNEL) & (k["launch_id"] >= 0)
    lts, kts, kend = k["launch_ts"][comm], k["ts"][comm], (k["ts"] + k["dur"])[comm]
    seq: dict[str, int] = {}
    names = ops["name"].tolist()
    out = []
    for i, r in zip(range(len(rows)), rows):
        lo, hi = int(ops["ts"][r]), int(ops["ts"][r] + ops["dur"][r])
        mine = (lts >= lo) & (lts < hi)  # the kernels its host side launched
        start, end = (int(kts[mine].min()), int(kend[mine].max())) if mine.any() else (lo, hi)
        key = f"{pg[i]}/{names[r]}"
        n = seq.get(pg[i], 0)
        seq[pg[i]] = n + 1
        out.append({"name": names[r], "process_group": pg[i], "seq": n, "key": key, "start_ns": start, "end_ns": end,
                    "on_device": bool(mine.any())})
    return out


def _process_groups(v: View, rows: np.ndarray) -> list[str]:
    """The process group of each collective annotation: the ``Process Group Name`` of the
    record_param_comms op around or just before it on its thread ("default" when the trace has none)."""
    ops = v.ops
    pg_col = ops["process_group"] if "process_group" in ops.data else None
    if pg_col is None:
        return ["default"] * len(rows)
    has = np.flatnonzero(pg_col.codes >= 0)
    out = []
    for r in rows:
        same = has[(ops["tid"][has] == ops["tid"][r]) & (ops["ts"][has] <= ops["ts"][r])]
        out.append(pg_col.values[pg_col.codes[same[np.argmax(ops["ts"][same])]]] if len(same) else "default")
    return out


def figures_for(v: View) -> dict[str, Any]:
    """One rank's figures (a plain dict: it travels between processes)."""
    s = summary(v)
    comm, comp = _comm_masks(v)
    comm_ns = iv.total(comm)
    steps = v.steps()
    step_ns = float(np.median(steps["dur"])) if len(steps) else float(s.il_ns)
    b = overall_columns(v)
    return {"rank": v.rank, **_boundness(b), "il_ns": s.il_ns, "gpu_busy_ns": s.gpu_busy_ns, "gpu_idle_ns": s.gpu_idle_ns,
            "tklqt_ns": s.tklqt_ns, "launch_ns": s.launch_ns, "queue_ns": s.queue_ns, "waiting_ns": s.waiting_ns,
            "comm_ns": comm_ns,
            "comm_overlap_share": iv.intersect_total(comm, comp) / comm_ns if comm_ns else 0.0,
            "compute_ns": iv.total(comp), "step_ns": step_ns, "steps": len(steps), "kernels": s.kernels,
            "collectives": collectives_of(v)}


#: The evidence that names each label: the busy share, or the share of the idle cause that was largest.
_LABEL_EVIDENCE = {"gpu-bound": ("gpu_busy_share",), "cpu-bound": ("idle_host_share", "idle_launch_share"),
                   "sync-bound": ("idle_sync_share",), "dependency-bound": ("idle_dependency_share",)}


def _boundness(b: dict[str, list[Any]]) -> dict[str, Any]:
    """The rank's boundness label (as ``boundness.overall``) and the share of its IL that names it."""
    label = b["label"][0]
    keys = _LABEL_EVIDENCE.get(label)  # none for no-gpu-work: there is no GPU time to split
    return {"boundness": label, "boundness_share": float(sum(b[k][0] for k in keys)) if keys else None}


def rank_figures(folder: str, rank: int) -> dict[str, Any]:
    """``figures_for`` one rank of a trace folder, reading only that rank's partition (a worker's whole task)."""
    from skiprof._folder import load

    return figures_for(select(load(folder, rank=rank)))


def _outliers(values: dict[int, float], low: bool = False) -> dict[int, tuple[float, float]]:
    """Ranks whose value exceeds median + max(STRAGGLER_MAD x MAD, STRAGGLER_MIN x median) (with ``low``:
    falls below median minus the same margin): rank -> (value, median). Needs three ranks or more."""
    import statistics  # here: a one-rank report never gets this far, and statistics imports fractions

    if len(values) < 3:
        return {}
    med = statistics.median(values.values())
    mad = statistics.median(abs(x - med) for x in values.values())
    margin = max(STRAGGLER_MAD * mad, STRAGGLER_MIN * med)
    if low:
        return {r: (x, med) for r, x in values.items() if x < med - margin}
    return {r: (x, med) for r, x in values.items() if x > med + margin}


def _match(per_rank: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Collectives matched across ranks by (process group, name, sequence number)."""
    by: dict[tuple[str, str, int], dict[int, dict[str, Any]]] = {}
    for fig in per_rank:
        for c in fig["collectives"]:
            by.setdefault((c["process_group"], c["name"], c["seq"]), {})[fig["rank"]] = c
    out = []
    for (pg, name, seq), ranks in sorted(by.items(), key=lambda kv: min(c["start_ns"] for c in kv[1].values())):
        if len(ranks) < 2:
            continue
        arrive = {r: c["start_ns"] for r, c in ranks.items()}
        last = max(arrive, key=lambda r: (arrive[r], r))
        waits = {r: arrive[last] - a for r, a in arrive.items()}
        out.append({"process_group": pg, "name": name, "seq": seq, "ranks": len(ranks), "skew_ns": max(arrive.values()) - min(arrive.values()),
                    "last_rank": last, "max_wait_ns": max(waits.values()), "total_wait_ns": sum(waits.values()),
                    "duration_ns": int(np.median([c["end_ns"] - c["start_ns"] for c in ranks.values()]))})
    return out


def _late(matched: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Ranks whose late arrivals cause LATE_SHARE or more of all the time ranks wait at collectives."""
    total = sum(c["total_wait_ns"] for c in matched)
    if len(matched) < 2 or total <= 0:
        return {}
    counts: dict[int, int] = {}
    waits: dict[int, int] = {}
    for c in matched:
        counts[c["last_rank"]] = counts.get(c["last_rank"], 0) + 1
        waits[c["last_rank"]] = waits.get(c["last_rank"], 0) + c["total_wait_ns"]
    return {r: {"last_in": counts[r], "of": len(matched), "others_waited_ns": w, "wait_share": w / total}
            for r, w in waits.items() if w / total >= LATE_SHARE}


def reduce(per_rank: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(per-rank rows, stragglers with the rule that flagged them and its evidence, matched collectives)."""
    per_rank = sorted(per_rank, key=lambda f: f["rank"])
    matched = _match(per_rank)
    stragglers = []
    rules = (("step time outlier", "step_ns", False), ("compute time outlier", "compute_ns", False),
             # The ranks that wait for a straggler spend that time inside collectives; it does not.
             ("least time in collectives", "comm_ns", True))
    for rule, key, low in rules:
        for r, (x, med) in sorted(_outliers({f["rank"]: float(f[key]) for f in per_rank}, low).items()):
            stragglers.append({"rank": r, "rule": rule, "value_ns": x, "median_ns": med})
    for r, ev in sorted(_late(matched).items()):
        stragglers.append({"rank": r, "rule": "the others wait for it at collectives", **ev})
    rows = [{k: v for k, v in f.items() if k != "collectives"} | {"collectives": len(f["collectives"])} for f in per_rank]
    return rows, stragglers, matched


_R_COLS = (Col("rank", "rank", "count"), Col("il_ns", "IL", "ns"), Col("gpu_busy_ns", "GPU busy", "ns", device=True),
           Col("tklqt_ns", "TKLQT", "ns", device=True), Col("comm_ns", "comm", "ns"),
           Col("comm_overlap_share", "comm overlap", "share"), Col("step_ns", "step", "ns"),
           Col("boundness", "boundness", "label", device=True), Col("boundness_share", "evidence", "share", device=True))
_C_COLS = (Col("name", "collective"), Col("process_group", "group"), Col("seq", "seq", "count"),
           Col("skew_ns", "arrival skew", "ns"), Col("last_rank", "last rank", "count"), Col("max_wait_ns", "longest wait", "ns"))


@dataclass(frozen=True)
class RanksResult(Result):
    """The cross-rank report of a multi-rank folder."""

    world_size: int | None
    rows: tuple[dict[str, Any], ...]
    stragglers: tuple[dict[str, Any], ...]
    collectives: tuple[dict[str, Any], ...]
    folder: str = "DIR"

    name = "ranks"
    schema = "skiprof.ranks/1"
    title = "Ranks"
    merge_into_document = True  # its keys (ranks, stragglers, collectives) sit at the top of the JSON

    def to_dict(self) -> dict[str, Any]:
        return {"ranks_schema": self.schema, "world_size": self.world_size, "ranks_verdict": self.verdict(),
                "ranks": list(self.rows), "stragglers": list(self.stragglers), "collectives": list(self.collectives)}

    def verdict(self) -> list[str]:
        """What to read first, in sentences quoting the table below: the ranks' spread of IL, the
        stragglers with their evidence, the ranks by boundness label, and the rank to look at next."""
        if not self.rows:
            return []
        il = {r["rank"]: r["il_ns"] for r in self.rows}
        lo, hi = min(il, key=lambda r: (il[r], r)), max(il, key=lambda r: (il[r], -r))
        n = f"{len(self.rows):,} rank{'s' if len(self.rows) > 1 else ''}" + (f" of {self.world_size:,}" if self.world_size else "")
        out = [f"{n}: IL {il[lo] / 1e6:,.2f} ms on every rank." if il[lo] == il[hi] else
               f"{n}: IL from {il[lo] / 1e6:,.2f} ms (rank {lo}) to {il[hi] / 1e6:,.2f} ms (rank {hi})."]
        by_rank: dict[int, list[str]] = {}
        for st in self.stragglers:
            by_rank.setdefault(st["rank"], []).append(f"{st['rule']} ({_evidence(st)})")
        for r, rules in list(by_rank.items())[:3]:
            out.append(f"Rank {r} is a straggler: {'; '.join(rules)}.")
        if len(by_rank) > 3:
            out.append(f"{len(by_rank) - 3:,} more stragglers are in the table below.")
        if not by_rank:
            out.append("No straggler: no rank's step, compute or collective time is an outlier, and no rank causes most "
                       "of the waiting at collectives.")
        labels: dict[str, list[int]] = {}
        for row in self.rows:
            labels.setdefault(row.get("boundness") or "no-gpu-work", []).append(row["rank"])
        if list(labels) != ["no-gpu-work"]:
            out.append("Every rank is " + next(iter(labels)) + "." if len(labels) == 1 else
                       "By boundness: " + "; ".join(f"{len(rs):,} {lab} ({'rank' if len(rs) == 1 else 'ranks'} {_listed(rs)})"
                                                  for lab, rs in sorted(labels.items(), key=lambda kv: (-len(kv[1]), kv[0]))) + ".")
        late = [st for st in self.stragglers if "wait_share" in st]
        nxt = max(late, key=lambda st: (st["wait_share"], -st["rank"]))["rank"] if late else (
            next(iter(by_rank)) if by_rank else hi)
        which = "the straggler" if by_rank else "the rank with the longest IL"
        out.append(f"Next: skiprof report {self.folder} --rank {nxt} ({which}, in detail).")
        return out

    def sections(self) -> list[Section]:
        """The verdict, the per-rank table, the stragglers with their evidence, and the collectives with the largest skew."""
        on_device = any(r.get("boundness", "no-gpu-work") != "no-gpu-work" for r in self.rows)  # any device activity
        out: list[Section] = [Note(" ".join(self.verdict()), "answer"), Table(f"Per rank ({len(self.rows)} ranks{f' of {self.world_size}' if self.world_size else ''})",
                                    host_cols(_R_COLS, on_device), self.rows)]
        if on_device:
            out.append(Note("boundness: each rank's label, as the single-rank report gives it; evidence: the share of the "
                            "rank's IL that names it (GPU busy for gpu-bound; else the idle of the largest cause: host and "
                            "launch, sync, or dependency)"))
        else:
            out.append(Note("no rank has device activity: communication is the collective annotations and computation "
                            "the top-level CPU ops (docs/metrics.md, Ranks)"))
        deep = [r["rank"] for r in self.rows if r.get("tklqt_ns", 0) > r.get("il_ns", 0) > 0]
        if deep:
            out.append(Note(f"TKLQT exceeds IL on rank{'s' if len(deep) > 1 else ''} {_listed(deep)}: it sums each kernel's "
                            "own wait, and kernels waited at the same time (skiprof report DIR --rank R gives the wall "
                            "time with a kernel waiting; docs/metrics.md)"))
        if self.stragglers:
            out.append(Table("Stragglers", (Col("rank", "rank", "count"), Col("rule", "rule"), Col("evidence", "evidence", "prose")),
                             tuple({"rank": s["rank"], "rule": s["rule"], "evidence": _evidence(s)} for s in self.stragglers)))
        else:
            out.append(Note("no straggler: no rank's step, compute or collective time is an outlier, and no rank causes "
                            "most of the waiting at collectives (docs/metrics.md, Ranks)"))
        worst = sorted(self.collectives, key=lambda c: -c["skew_ns"])[:10]
        out.append(Table("Collectives with the largest arrival skew", _C_COLS, tuple(worst),
                         empty="no collective matched across ranks"))
        out.append(Figures("Collectives", (Figure("matched across ranks", len(self.collectives), "count"),
                                           Figure("total time ranks waited for the last arrival",
                                                  sum(c["total_wait_ns"] for c in self.collectives), "ns"))))
        out.append(Note("one rank in detail: skiprof report DIR --rank R"))
        return out


def _listed(ranks: list[int], most: int = 8) -> str:
    """Rank ids for a sentence: the first ``most``, then how many more."""
    shown = ", ".join(map(str, ranks[:most]))
    return shown + (f" and {len(ranks) - most:,} more" if len(ranks) > most else "")


def _evidence(s: dict[str, Any]) -> str:
    if "last_in" in s:
        return (f"last at {s['last_in']:,} of {s['of']:,} collectives; the others waited {s['others_waited_ns'] / 1e6:,.2f} ms "
                f"for it, {100 * s['wait_share']:.0f}% of all waiting")
    return f"{s['value_ns'] / 1e6:,.2f} ms against a median of {s['median_ns'] / 1e6:,.2f} ms"


class Mapper(Protocol):
    """Runs ``fn(*args)`` for each task somewhere (skiprof._spread: a process pool or a Dask cluster)."""

    def map(self, fn: Any, tasks: Any, done: Any = None) -> list[Any]: ...


def run(view: View, options: Options) -> RanksResult:
    """The cross-rank result of the view's trace; ``options.spread`` spreads the per-rank work over
    processes (a Mapper), by default one rank after another here."""
    t = view.trace
    mapper: Mapper | None = options.spread
    if len(t.ranks) == 1:
        per_rank = [figures_for(select(t))]
    elif mapper is None:  # one partition at a time: memory for one rank, not all
        per_rank = [rank_figures(str(t.path), r) for r in t.ranks]
    else:
        per_rank = mapper.map(rank_figures, [(str(t.path), r) for r in t.ranks])
    rows, stragglers, matched = reduce(per_rank)
    return RanksResult(t.meta.world_size, tuple(rows), tuple(stragglers), tuple(matched), str(t.path))
