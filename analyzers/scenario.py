"""Scenario section: the metrics a workload recorded, and launch/queue time per named region.

Per region (skiprof.region names such as prefill and decode): how often it ran, the time inside
it, and the kernels launched inside it with their TKLQT and queue part, so that e.g. the serving
workload's prefill and decode phases each get their own TKLQT (docs/metrics.md, "Scenario").
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._result import Col, Result, Section, Table, host_cols

from . import _intervals as iv
from ._frame import frame
from ._options import Options
from ._view import View, read_cols

__all__ = ["recorded", "recorded_columns", "per_region", "region_columns", "ScenarioResult", "run"]

_REGION_COLS = ["region", "occurrences", "time_ns", "kernels", "tklqt_ns", "queue_ns"]


def recorded_columns(view: View) -> dict[str, Any]:
    """The rank's rows of the metrics table (scenario, name, value, unit), then figures derived
    from them and the trace: ``launches_per_token`` wherever a workload recorded ``tokens``."""
    m = read_cols(view.trace, "metrics")
    if len(m) and len(view.trace.ranks) > 1:
        m = m.take(m["rank"] == view.rank)
    out: dict[str, list[Any]] = {"scenario": m["scenario"].tolist() if len(m) else [],
                                 "name": m["name"].tolist() if len(m) else [],
                                 "value": m["value"].tolist() if len(m) else [],
                                 "unit": m["unit"].tolist() if len(m) else []}
    for sc, name, value in list(zip(out["scenario"], out["name"], out["value"])):
        if name == "tokens" and value > 0:
            calls = int(view.launches["kind"].isin(("launch", "graph")).sum())
            for c, v in zip(out, (sc, "launches_per_token", calls / value, "launches/token")):
                out[c].append(v)
    return out


def recorded(view: View) -> Any:
    """Scenario metrics as a DataFrame."""
    return frame(recorded_columns(view), ["scenario", "name", "value", "unit"])


def region_columns(view: View) -> dict[str, Any]:
    """per_region as a dict of columns, regions in order of first appearance."""
    per = view.per
    r = view.regions
    sk = r.take(r["kind"].eq("skiprof"))
    out: dict[str, list[Any]] = {c: [] for c in _REGION_COLS}
    if not len(sk):
        return out
    kern = per["kind"].eq("kernel")
    lts, lq, q = per["launch_ts"][kern], per["launch_queue_ns"][kern], per["queue_ns"][kern]
    names = sk["name"]
    first: dict[int, int] = {}
    for i, code in enumerate(names.codes):
        first.setdefault(int(code), i)
    for code in sorted(first, key=lambda c: first[c]):
        rows = names.codes == code
        lo, hi = sk["ts"][rows], sk["ts"][rows] + sk["dur"][rows]
        windows = iv.union(lo, hi)
        # A kernel belongs to the region its launch call was made in.
        idx = np.searchsorted(windows[0], lts, side="right") - 1
        inside = (idx >= 0) & (lts < windows[1][np.maximum(idx, 0)])
        for c, v in zip(_REGION_COLS, (names.values[code], int(rows.sum()), iv.total(windows), int(inside.sum()),
                                       int(lq[inside].sum()), int(q[inside].sum()))):
            out[c].append(v)
    return out


def per_region(view: View) -> Any:
    """Occurrences, time, kernels launched and TKLQT per skiprof region name (DataFrame)."""
    return frame(region_columns(view), _REGION_COLS)


_M_COLS = (Col("scenario", "scenario"), Col("name", "metric"), Col("value", "value", "number"), Col("unit", "unit"))
_R_COLS = (Col("region", "region"), Col("occurrences", "times", "count"), Col("time_ns", "time", "ns"),
           Col("kernels", "kernels", "count", device=True), Col("tklqt_ns", "TKLQT", "ns", device=True),
           Col("queue_ns", "queue", "ns", device=True))


def _rows(cols: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    keys = list(cols)
    return tuple({k: cols[k][i] for k in keys} for i in range(len(cols[keys[0]]) if keys else 0))


class ScenarioResult(Result, msgspec.Struct, frozen=True):
    """What the workload measured itself, and launch/queue time per named region."""

    metrics: tuple[dict[str, Any], ...]
    regions: tuple[dict[str, Any], ...]
    has_device: bool = True

    name = "scenario"
    schema = "skiprof.scenario/2"
    title = "Scenario"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "metrics": list(self.metrics), "regions": list(self.regions)}

    def sections(self) -> list[Section]:
        """The workload's own metrics and the named regions, where the trace has them."""
        out: list[Section] = []
        if self.metrics:
            out.append(Table("Scenario metrics (recorded by the workload)", _M_COLS, self.metrics))
        if self.regions:
            out.append(Table("Named regions", host_cols(_R_COLS, self.has_device), self.regions))
        return out


def run(view: View, options: Options) -> ScenarioResult:
    """The scenario section of a view."""
    return ScenarioResult(_rows(recorded_columns(view)), _rows(region_columns(view)), view.has_device)
