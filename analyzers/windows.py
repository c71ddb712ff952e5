"""Boundness over time for a folder of capture windows (``skiprof trace --every/--on-signal``):
one row per window, where the label changed, and what else changed with it.
docs/metrics.md, "Windows".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skiprof._result import Col, Note, Plot, Result, Section, Table, host_cols

from ._options import Options

__all__ = ["WindowSeries", "WindowsResult", "window_row", "changes", "run", "CHANGE", "SHIFT"]

#: A figure "changed" between two windows when it moved by at least this share of the larger value.
CHANGE = 0.25
#: With the label unchanged, a move of GPU busy share or queue share by this much (absolute) is a shift.
SHIFT = 0.25

_FIGURES = ("tklqt_ns", "launch_ns", "queue_ns", "gpu_busy_ns", "gpu_idle_ns", "gpu_busy_share", "queue_share",
            "hdbi", "orchestration_ns")


@dataclass(frozen=True)
class WindowSeries:
    """What the analysis looks at: the complete windows of a run folder, oldest first."""

    root: Path
    folders: tuple[tuple[int, Path], ...]

    @property
    def label(self) -> str:
        return f"{len(self.folders)} windows"


def window_row(index: int, folder: Path, options: Options) -> dict[str, Any]:
    """One window's figures: its start, the boundness label with its evidence, TKLQT and its parts,
    GPU busy and idle, HDBI, and the mean of each scenario metric recorded in it."""
    from skiprof._folder import load

    from . import boundness, hostsplit, launch, select

    t = load(folder)
    v = select(t)
    w = t.meta.capture.window if t.meta.capture is not None else None
    s = launch.summary(v)
    b = boundness.run(v, options).to_dict()
    ev = b["evidence"]
    h = hostsplit.split(v, hostsplit.floors_of(t.meta)[0])
    row: dict[str, Any] = {
        "window": index, "folder": folder.name, "started": w.started if w else t.meta.created,
        "started_unix_ns": w.started_unix_ns if w else None, "recorded_s": w.recorded_s if w else v.il_ns / 1e9,
        "trigger": w.trigger if w else "", "label": b["overall"],
        "gpu_busy_share": ev.get("gpu_busy_share", 0.0), "queue_share": ev.get("queue_share", 0.0),
        "kernels": s.kernels, "tklqt_ns": s.tklqt_ns, "launch_ns": s.launch_ns, "queue_ns": s.queue_ns,
        "gpu_busy_ns": s.gpu_busy_ns, "gpu_idle_ns": s.gpu_idle_ns, "il_ns": s.il_ns,
        "orchestration_ns": h.orchestration_ns, "hdbi": h.hdbi, "metrics": _metric_means(v),
    }
    return row


def _metric_means(view: Any) -> dict[str, dict[str, Any]]:
    """Each recorded metric's mean over the window's rows (a server records one row per interval)."""
    from .scenario import recorded_columns

    cols = recorded_columns(view)
    acc: dict[str, list[Any]] = {}
    for name, value, unit in zip(cols["name"], cols["value"], cols["unit"]):
        acc.setdefault(name, [0.0, 0, unit])
        acc[name][0] += float(value)
        acc[name][1] += 1
    return {k: {"value": total / n, "unit": unit, "rows": n} for k, (total, n, unit) in acc.items()}


def _moved(a: Any, b: Any) -> bool:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return False
    top = max(abs(a), abs(b))
    return top > 0 and abs(a - b) / top >= CHANGE


def changes(rows: list[dict[str, Any]], root: str = ".") -> list[dict[str, Any]]:
    """Where the boundness label changed between consecutive windows, with every figure and metric
    that moved by at least CHANGE at the same time (largest move first)."""
    out = []
    for prev, cur in zip(rows, rows[1:]):
        relabelled = prev["label"] != cur["label"]
        # The same label can hide a large move: GPU busy from 3% to 50% is still "cpu-bound".
        shifted = any(abs((cur.get(k) or 0.0) - (prev.get(k) or 0.0)) >= SHIFT for k in ("gpu_busy_share", "queue_share"))
        if not relabelled and not shifted:
            continue
        moved = []
        for key in _FIGURES:
            if _moved(prev.get(key), cur.get(key)):
                moved.append((key, prev[key], cur[key]))
        for key, m in cur["metrics"].items():
            before = prev["metrics"].get(key, {}).get("value")
            if _moved(before, m["value"]):
                moved.append((key, before, m["value"]))
        moved.sort(key=lambda x: -abs(x[2] - x[1]) / max(abs(x[1]), abs(x[2])))
        out.append({"kind": "label" if relabelled else "evidence", "from_window": prev["window"],
                    "to_window": cur["window"], "from": prev["label"],
                    "to": cur["label"], "also_changed": [{"figure": k, "before": a, "after": b} for k, a, b in moved],
                    "next": f"skiprof diff {root}/{prev['folder']} {root}/{cur['folder']}"})
    return out


# The recorded length, the queue share and the kernel count are in the JSON; the table keeps to what fits a terminal.
_COLS = (Col("window", "window", "number"), Col("time", "started"),
         Col("label", "boundness", "label", device=True), Col("gpu_busy_share", "GPU busy", "share", device=True),
         Col("tklqt_ns", "TKLQT", "ns", device=True), Col("launch_ns", "launch", "ns", device=True),
         Col("queue_ns", "queue", "ns", device=True), Col("gpu_idle_ns", "GPU idle", "ns", device=True),
         Col("hdbi", "HDBI", "number", device=True))


def _clock(iso: str) -> str:
    """The time of day of an ISO timestamp (the date is in the JSON)."""
    return iso.split("T", 1)[1][:12] if "T" in iso else iso


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class WindowsResult(Result):
    """The time series of a run of windows and the label changes in it."""

    root: str
    rows: tuple[dict[str, Any], ...]
    changed: tuple[dict[str, Any], ...]
    skipped: tuple[str, ...] = ()  # windows that could not be read, with why

    name = "windows"
    schema = "skiprof.windows/1"
    title = "Windows over time"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "root": self.root, "windows": list(self.rows), "changes": list(self.changed),
                "skipped": list(self.skipped)}

    def _metric_names(self) -> list[str]:
        names: list[str] = []
        for r in self.rows:
            names += [n for n in r["metrics"] if n not in names]
        return names

    def sections(self) -> list[Section]:
        """One row per window, the workload's metrics per window, the label changes, and the plot over time."""
        unread = [Note(f"left out, unreadable: {why}", "warning") for why in self.skipped]
        if not self.rows:
            return [Note("no readable window in this folder"), *unread]
        names = self._metric_names()
        rows = tuple({**{c.key: r.get(c.key) for c in _COLS}, "time": _clock(r["started"])} for r in self.rows)
        cols = host_cols(_COLS, any(r["label"] != "no-gpu-work" for r in self.rows))
        out: list[Section] = [*unread, Table("One row per window", cols, rows)]
        if names:
            mcols = (Col("window", "window", "number"),) + tuple(Col(f"m:{n}", n, "number") for n in names)
            mrows = tuple({"window": r["window"], **{f"m:{n}": r["metrics"].get(n, {}).get("value") for n in names}}
                          for r in self.rows)
            out.append(Table("What the workload measured in each window (mean of its rows)", mcols, mrows))
        if not self.changed:
            out.append(Note(f"the boundness label stayed {self.rows[0]['label']} in every window, and its "
                            "evidence moved by less than 25 points", "answer"))
        for c in self.changed:
            moved = "; ".join(f"{m['figure']} {_fmt(m['before'])} -> {_fmt(m['after'])}" for m in c["also_changed"][:5])
            what = (f"{c['from']} became {c['to']}" if c["kind"] == "label"
                    else f"still {c['to']}, but its evidence shifted")
            out.append(Note(f"window {c['from_window']} -> {c['to_window']}: {what}"
                            + (f"; at the same time {moved}" if moved else "; no other figure moved by 25% or more")
                            + f". Next: {c['next']}", "answer"))
        if len(self.rows) >= 2 and not self.changed:
            a, b = self.rows[0]["folder"], self.rows[-1]["folder"]
            out.append(Note(f"to see what differs between two windows: skiprof diff {self.root}/{a} {self.root}/{b}"))
        out.append(Plot("Boundness evidence over windows", "lines", self._plot()))
        return out

    def _plot(self) -> dict[str, Any]:
        """The per-window series (GPU busy share, queue share, HDBI) against seconds since the first window."""
        t0 = self.rows[0]["started_unix_ns"]
        x = [((r["started_unix_ns"] - t0) / 1e9) if t0 is not None and r["started_unix_ns"] is not None else r["window"]
             for r in self.rows]
        series = [{"name": name, "x": x, "y": [r.get(key) if r.get(key) is not None else math.nan for r in self.rows]}
                  for key, name in (("gpu_busy_share", "GPU busy share"), ("queue_share", "queue share"),
                                    ("hdbi", "HDBI"))]
        return {"series": series, "x_title": "seconds since the first window", "y_title": "share", "steps": False}


def run(series: WindowSeries, options: Options) -> WindowsResult:
    """The rows of every complete window, oldest first, and the label changes between them."""
    from skiprof._errors import SkiprofError

    rows, skipped = [], []
    for i, p in series.folders:
        try:
            rows.append(window_row(i, p, options))
        except SkiprofError as exc:  # one damaged window must not hide the others
            skipped.append(f"{p.name}: {exc}")
    return WindowsResult(str(series.root), tuple(rows), tuple(changes(rows, str(series.root))), tuple(skipped))
