"""What changed between two runs: ops, kernels, regions and phases matched by name, A beside B.

Kernel names are normalised before matching (argument list and template arguments dropped,
digit runs replaced by '#'), so the same kernel with another tile size or template instance
still matches. The headline splits the latency (IL) change into phases and into the wall time of
the top-level ops on the busiest host thread; both partitions cover the whole IL, so each sums
exactly to the measured change. docs/metrics.md, "Diff".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from skiprof._names import short_kernel
from skiprof._result import Col, Figure, Figures, Note, Result, Section, Table

from . import _intervals as iv
from ._view import View, select
from .boundness import overall_columns
from .breakdown import phases
from .launch import carries_launch, summary, top_level_mask

__all__ = ["normalize_kernel", "normalize_region", "tables_of", "host_events", "diff", "DiffResult", "OUTSIDE", "FIELDS"]

#: The wall time of the busiest thread not inside any top-level op.
OUTSIDE = "(outside top-level ops)"
#: The per-item figures, A, B and delta each.
FIELDS = ("count", "host_ns", "device_ns", "launches", "launch_queue_ns")

_TEMPLATE = re.compile(r"<[^<>]*>")
_DIGITS = re.compile(r"\d+")
_STEP = re.compile(r"^ProfilerStep#\d+$")


def normalize_kernel(name: str) -> str:
    """The kernel's name without its argument list and template arguments, digit runs as '#'."""
    n = short_kernel(name, 10_000)
    prev = None
    while prev != n:  # innermost brackets first, until none are left
        prev, n = n, _TEMPLATE.sub("<>", n)
    return _DIGITS.sub("#", n)


def normalize_region(name: str) -> str:
    """Step annotations (``ProfilerStep#N``) all become ``ProfilerStep``; other names stay."""
    return "ProfilerStep" if _STEP.match(name) else name


def _add(out: dict[str, dict[str, int]], names: list[str], field: str, values: np.ndarray) -> None:
    """Add ``values`` per name into ``out[name][field]`` (grouped with numpy: names repeat a lot)."""
    if not len(names):
        return
    index: dict[str, int] = {}
    inv = np.array([index.setdefault(n, len(index)) for n in names], np.int64)  # no string sort
    sums = np.zeros(len(index), np.int64)
    np.add.at(sums, inv, np.asarray(values, np.int64))  # integers throughout: the splits must sum exactly
    for n, x in zip(index, sums.tolist()):
        row = out.setdefault(n, dict.fromkeys(FIELDS, 0))
        row[field] += x


def _normalized(col: Any) -> list[str]:
    """normalize_kernel of a name column, computed once per distinct name."""
    norm = [normalize_kernel(n or "") for n in col.values] + [""]
    return [norm[c] for c in col.codes.tolist()]


def _kernel_groups(view: View, key: list[str]) -> dict[str, dict[str, int]]:
    """Per normalised kernel name: count, device time and launch+queue time (as in TKLQT)."""
    per = view.per
    out: dict[str, dict[str, int]] = {}
    _add(out, key, "count", np.ones(len(key), np.int64))
    _add(out, key, "device_ns", per["dur"])
    _add(out, key, "launch_queue_ns", np.where(carries_launch(per), per["launch_queue_ns"], 0))
    return out


def _match_kernels(a: View, b: View) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Kernels of A and B keyed for matching: by normalised name; a kernel whose name the other run
    lacks is keyed by the op that launched it instead (``by op: aten::mm``), so that another
    vendor's library (cuBLAS against rocBLAS) still lines up when both runs have that op."""
    names = [_normalized(v.per["name"]) for v in (a, b)]
    ops = [[f"by op: {o}" if o else "by op: (none)" for o in v.per["op_name"].tolist()] for v in (a, b)]
    both = set(names[0]) & set(names[1])
    keys = [[n if n in both else o for n, o in zip(ns, os_)] for ns, os_ in zip(names, ops)]
    return _kernel_groups(a, keys[0]), _kernel_groups(b, keys[1])


def _ops(view: View) -> dict[str, dict[str, int]]:
    """Top-level ops by name: calls, host time, and the device work and launches under them."""
    ops, per, la = view.ops, view.per, view.launches
    top = top_level_mask(ops)
    out: dict[str, dict[str, int]] = {}
    _add(out, ops["name"].take(top).tolist(), "count", np.ones(int(top.sum()), np.int64))
    _add(out, ops["name"].take(top).tolist(), "host_ns", ops["dur"][top])
    linked = per["top_op_id"] >= 0
    names = per["top_op_name"].take(linked).tolist()
    _add(out, names, "device_ns", per["dur"][linked])
    _add(out, names, "launch_queue_ns", np.where(carries_launch(per), per["launch_queue_ns"], 0)[linked])
    name_of = dict(zip(ops["op_id"].tolist(), ops["name"].tolist()))
    with_op = la["top_op_id"] >= 0
    _add(out, [name_of.get(i, "?") for i in la["top_op_id"][with_op].tolist()], "launches", np.ones(int(with_op.sum()), np.int64))
    return {k: v for k, v in out.items() if k != "?"}


def _regions(view: View) -> dict[str, dict[str, int]]:
    """Per normalised region name: count and host time (GPU annotations left out)."""
    r = view.regions
    keep = ~r["kind"].eq("gpu_annotation")
    names = [normalize_region(n or "") for n in r["name"].take(keep).tolist()]
    out: dict[str, dict[str, int]] = {}
    _add(out, names, "count", np.ones(len(names), np.int64))
    _add(out, names, "host_ns", r["dur"][keep])
    return out


def host_events(view: View) -> dict[str, dict[str, int]]:
    """Every host event by name, at any depth (ops, annotations, Python frames, runtime calls):
    count and Σ duration; HTA's TraceDiff counts the same events."""
    out: dict[str, dict[str, int]] = {}
    for c in (view.ops, view.launches):
        names = c["name"].tolist()
        _add(out, [n or "" for n in names], "count", np.ones(len(names), np.int64))
        _add(out, [n or "" for n in names], "host_ns", c["dur"])
    return out


def wall_by_top_op(view: View) -> dict[str, int]:
    """The IL split by the top-level op running on the busiest host thread (by top-level op time),
    and OUTSIDE for the rest: sums exactly to the IL."""
    ops = view.ops
    top = top_level_mask(ops)
    scope = view.scope
    total = iv.total(scope)
    if not top.any():
        return {OUTSIDE: total}
    threads = ops["pid"][top].astype(np.int64) * (1 << 32) + (ops["tid"][top].astype(np.int64) & 0xFFFFFFFF)
    keys, inv = np.unique(threads, return_inverse=True)
    busiest = keys[np.argmax(np.bincount(inv, weights=ops["dur"][top]))]
    rows = np.flatnonzero(top)[threads == busiest]
    lo, hi = ops["ts"][rows], ops["ts"][rows] + ops["dur"][rows]
    inside = np.zeros(len(rows), np.int64)
    for a, b in zip(scope[0].tolist(), scope[1].tolist()):  # top-level ops on one thread never overlap
        inside += np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0, None)
    out: dict[str, int] = {}
    _wall: dict[str, dict[str, int]] = {}
    _add(_wall, ops["name"].take(rows).tolist(), "host_ns", inside)
    out = {n: r["host_ns"] for n, r in _wall.items() if r["host_ns"]}
    out[OUTSIDE] = total - sum(out.values())
    return out


def tables_of(view: View) -> dict[str, Any]:
    """What the diff compares of one view, kernels aside (they are keyed against the other run)."""
    p = phases(view)
    s = summary(view)
    return {"il_ns": s.il_ns, "tklqt_ns": s.tklqt_ns, "boundness": overall_columns(view)["label"][0],
            "phases": dict(zip(p.names, p.ns)), "wall": wall_by_top_op(view), "ops": _ops(view), "regions": _regions(view),
            "host_events": host_events(view)}


def _pair(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Matched rows (A, B and delta of every field), and the names only in A (removed) or only in B (added)."""
    rows = []
    for name in sorted(set(a) & set(b)):
        row: dict[str, Any] = {"name": name}
        for f in FIELDS:
            row[f"{f}_a"], row[f"{f}_b"] = a[name][f], b[name][f]
            row[f"{f}_delta"] = b[name][f] - a[name][f]
        rows.append(row)
    return rows, sorted(set(a) - set(b)), sorted(set(b) - set(a))


def _split(a: dict[str, int], b: dict[str, int]) -> list[dict[str, Any]]:
    """A partition's parts, A, B and delta, largest change first."""
    rows = [{"name": n, "a_ns": a.get(n, 0), "b_ns": b.get(n, 0), "delta_ns": b.get(n, 0) - a.get(n, 0)}
            for n in sorted(set(a) | set(b))]
    return sorted(rows, key=lambda r: (-abs(r["delta_ns"]), r["name"]))


def _region_figures(ta: Any, tb: Any, names: list[str], limit: int = 10) -> list[dict[str, Any]]:
    """Boundness and TKLQT of each region both runs have (skiprof regions and annotations), longest first."""
    out = []
    for name in names[:limit]:
        va, vb = select(ta, region=name), select(tb, region=name)
        sa, sb = summary(va), summary(vb)
        out.append({"name": name, "il_ns_a": sa.il_ns, "il_ns_b": sb.il_ns, "tklqt_ns_a": sa.tklqt_ns,
                    "tklqt_ns_b": sb.tklqt_ns, "boundness_a": overall_columns(va)["label"][0],
                    "boundness_b": overall_columns(vb)["label"][0]})
    return out


_ITEM_COLS = (Col("name", "name", "kernel"), Col("count_a", "count A", "count"), Col("count_b", "count B", "count"),
              Col("device_ns_a", "device A", "ns"), Col("device_ns_b", "device B", "ns"),
              Col("device_ns_delta", "device Δ", "ns"), Col("launch_queue_ns_delta", "launch+queue Δ", "ns"))
_OP_COLS = (Col("name", "op"), Col("count_a", "calls A", "count"), Col("count_b", "calls B", "count"),
            Col("host_ns_delta", "host Δ", "ns"), Col("device_ns_delta", "device Δ", "ns"),
            Col("launches_delta", "launches Δ", "count"), Col("launch_queue_ns_delta", "launch+queue Δ", "ns"))
_SPLIT_COLS = (Col("name", "part"), Col("a_ns", "A", "ns"), Col("b_ns", "B", "ns"), Col("delta_ns", "Δ", "ns"))
_REGION_COLS = (Col("name", "region"), Col("il_ns_a", "time A", "ns"), Col("il_ns_b", "time B", "ns"),
                Col("tklqt_ns_a", "TKLQT A", "ns"), Col("tklqt_ns_b", "TKLQT B", "ns"),
                Col("boundness_a", "A", "label"), Col("boundness_b", "B", "label"))


@dataclass(frozen=True)
class DiffResult(Result):
    """Two runs side by side."""

    a: str
    b: str
    il_ns: tuple[int, int]
    tklqt_ns: tuple[int, int]
    boundness: tuple[str, str]
    phases: tuple[dict[str, Any], ...]
    wall: tuple[dict[str, Any], ...]
    items: dict[str, tuple[dict[str, Any], ...]]
    added: dict[str, tuple[str, ...]]
    removed: dict[str, tuple[str, ...]]
    regions: tuple[dict[str, Any], ...]
    device_matched_share: float
    host_matched_share: float
    top: int = 10

    name = "diff"
    schema = "skiprof.diff/1"
    title = "Diff"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "a": self.a, "b": self.b, "il_ns_a": self.il_ns[0], "il_ns_b": self.il_ns[1],
                "il_delta_ns": self.il_ns[1] - self.il_ns[0], "tklqt_ns_a": self.tklqt_ns[0], "tklqt_ns_b": self.tklqt_ns[1],
                "boundness_a": self.boundness[0], "boundness_b": self.boundness[1], "phases": list(self.phases),
                "top_ops_wall": list(self.wall), "device_matched_share": self.device_matched_share,
                "host_matched_share": self.host_matched_share,
                **{k: list(v) for k, v in self.items.items()},
                "added": {k: list(v) for k, v in self.added.items()}, "removed": {k: list(v) for k, v in self.removed.items()},
                "regions": list(self.regions)}

    def sections(self) -> list[Section]:
        """The headline figures of A and B, the IL change split by phase and by top-level op (each summing to the
        change), the kernels and ops that changed most, the regions of both runs, and what only one run has."""
        d = self.il_ns[1] - self.il_ns[0]
        head = Figures(f"A: {self.a}  B: {self.b}", (
            Figure("latency (IL) A", self.il_ns[0], "ns"), Figure("latency (IL) B", self.il_ns[1], "ns"),
            Figure("change", d, "ns"), Figure("TKLQT A", self.tklqt_ns[0], "ns"), Figure("TKLQT B", self.tklqt_ns[1], "ns"),
            Figure("boundness A", self.boundness[0], "label"), Figure("boundness B", self.boundness[1], "label"),
            Figure("device time matched", self.device_matched_share, "share"),
            Figure("top-level op host time matched", self.host_matched_share, "share")))
        top = self.top
        return [head,
                Table("The IL change by phase (sums to the change)", _SPLIT_COLS, self.phases),
                Table("The IL change by top-level op on the busiest thread (sums to the change)", _SPLIT_COLS, self.wall[:top]),
                Table("Kernels, largest device-time change first", _ITEM_COLS, _largest(self.items["kernels"], "device_ns_delta", top),
                      empty="no kernel in both runs"),
                Table("Top-level ops, largest host-time change first", _OP_COLS, _largest(self.items["ops"], "host_ns_delta", top),
                      empty="no op in both runs"),
                Table("Regions in both runs: time, TKLQT and boundness", _REGION_COLS, self.regions,
                      empty="no named region in both runs"),
                Note(_unmatched(self.added, self.removed))]


def _largest(rows: tuple[dict[str, Any], ...], key: str, top: int) -> tuple[dict[str, Any], ...]:
    return tuple(sorted(rows, key=lambda r: (-abs(r[key]), r["name"]))[:top])


def _unmatched(added: dict[str, tuple[str, ...]], removed: dict[str, tuple[str, ...]]) -> str:
    parts = []
    for kind in ("kernels", "ops", "regions"):
        if added[kind] or removed[kind]:
            parts.append(f"{kind}: {len(added[kind])} only in B, {len(removed[kind])} only in A")
    return ("unmatched (JSON: added, removed): " + "; ".join(parts)) if parts else "every kernel, op and region matched"


def diff(a: View, b: View, *, top: int = 10, names: tuple[str, str] = ("A", "B")) -> DiffResult:
    """B against A."""
    ta, tb = tables_of(a), tables_of(b)
    ta["kernels"], tb["kernels"] = _match_kernels(a, b)
    items, added, removed = {}, {}, {}
    for kind in ("kernels", "ops", "regions", "host_events"):
        rows, only_a, only_b = _pair(ta[kind], tb[kind])
        items[kind], added[kind], removed[kind] = tuple(rows), tuple(only_b), tuple(only_a)
    shares = [_matched_share(ta[kind], tb[kind], items[kind], field) for kind, field in (("kernels", "device_ns"), ("ops", "host_ns"))]
    ra, rb = a.regions, b.regions
    named = ~ra["kind"].eq("gpu_annotation") & ~ra["kind"].eq("step")
    durs: dict[str, int] = {}
    for n, dur in zip(ra["name"].take(named).tolist(), ra["dur"][named].tolist()):
        durs[n] = durs.get(n, 0) + int(dur)
    in_b = set(rb["name"].take(~rb["kind"].eq("gpu_annotation") & ~rb["kind"].eq("step")).tolist())
    common = sorted((n for n in durs if n in in_b), key=lambda n: (-durs[n], n))
    return DiffResult(names[0], names[1], (ta["il_ns"], tb["il_ns"]), (ta["tklqt_ns"], tb["tklqt_ns"]),
                      (ta["boundness"], tb["boundness"]), tuple(_split(ta["phases"], tb["phases"])),
                      tuple(_split(ta["wall"], tb["wall"])), items, added, removed,
                      tuple(_region_figures(a.trace, b.trace, common)), shares[0], shares[1], top)


def _matched_share(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]], rows: tuple[dict[str, Any], ...],
                   field: str) -> float:
    """Share of both runs' ``field`` (device or host time) that belongs to matched items (1 when there is none)."""
    total = sum(r[field] for r in a.values()) + sum(r[field] for r in b.values())
    return sum(r[f"{field}_a"] + r[f"{field}_b"] for r in rows) / total if total else 1.0
