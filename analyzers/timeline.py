"""The timeline picture's data: host ops, runtime calls and device activity per lane, launch links,
and boundness shading. Large traces are thinned evenly (at most MAX_BARS bars per kind and
MAX_LINKS links) and the result says how much was shown."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skiprof._names import short_kernel
from skiprof._result import Note, Plot, Result, Section

from ._options import Options
from ._view import View
from .boundness import overall_columns, step_columns, window_columns
from .launch import top_level_mask

__all__ = ["TimelineResult", "run", "MAX_BARS", "MAX_LINKS"]

MAX_BARS = 6000
MAX_LINKS = 1500


def _sample(n: int, limit: int) -> tuple[np.ndarray, int]:
    if n <= limit:
        return np.arange(n), 1
    step = -(-n // limit)
    return np.arange(0, n, step), step


@dataclass(frozen=True)
class TimelineResult(Result):
    """Sampled bars of the timeline; a picture only (its JSON says what was drawn)."""

    data: dict[str, Any]
    sampled: tuple[str, ...]

    name = "timeline"
    schema = "skiprof.timeline/2"
    title = "Timeline"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "bars": {s["name"]: len(s["start"]) for s in self.data["series"]},
                "sampled": list(self.sampled)}

    def sections(self) -> list[Section]:
        out: list[Section] = [Plot("Timeline (µs from the first event; drag to zoom)", "timeline", self.data)]
        if self.sampled:
            out.append(Note("Sampled for the timeline: " + "; ".join(self.sampled) + "."))
        return out


def _series(name: str, color: str, ts: np.ndarray, dur: np.ndarray, lanes: list[str], text: list[str], origin: int,
            sampled: list[str]) -> dict[str, Any]:
    idx, step = _sample(len(ts), MAX_BARS)
    if step > 1:
        sampled.append(f"{name}: 1 in {step} of {len(ts):,} shown")
    return {"name": name, "color": color, "start": ((ts[idx] - origin) / 1e3).tolist(),
            "dur": (np.maximum(dur[idx], 1) / 1e3).tolist(), "lane": [lanes[i] for i in idx], "text": [text[i] for i in idx]}


def _links(view: View, origin: int, sampled: list[str]) -> dict[str, list[Any]]:
    """Line segments from each launch call to its activity on the timeline (sampled when there are many)."""
    k = view.kernels
    linked = np.flatnonzero(k["launch_id"] >= 0)
    idx, step = _sample(len(linked), MAX_LINKS)
    if step > 1:
        sampled.append(f"launch->kernel links: 1 in {step} of {len(linked):,} shown")
    xs: list[Any] = []
    ys: list[Any] = []
    for i in linked[idx]:
        xs += [(k["launch_ts"][i] - origin) / 1e3, (k["ts"][i] - origin) / 1e3, None]
        ys += [f"runtime {k['host_pid'][i]}/{k['host_tid'][i]}", f"GPU {k['device'][i]} stream {k['stream'][i]}", None]
    return {"x": xs, "y": ys}


def run(view: View, options: Options) -> TimelineResult:
    """The timeline of a view, thinned to what a browser draws quickly."""
    ops, la, k = view.ops, view.launches, view.kernels
    origin = view.span()[0]
    sampled: list[str] = []
    series = []
    top = top_level_mask(ops)
    if top.any():
        t = ops.take(top)
        series.append(_series("top-level ops", "#4c78a8", t["ts"], t["dur"], [f"host {p}/{q}" for p, q in zip(t["pid"], t["tid"])],
                              t["name"].tolist(), origin, sampled))
    if len(la):
        series.append(_series("runtime calls", "#f58518", la["ts"], la["dur"],
                              [f"runtime {p}/{q}" for p, q in zip(la["pid"], la["tid"])], la["name"].tolist(), origin, sampled))
    if len(k):
        series.append(_series("device activity", "#54a24b", k["ts"], k["dur"],
                              [f"GPU {d} stream {s}" for d, s in zip(k["device"], k["stream"])],
                              [short_kernel(n, 80) for n in k["name"].tolist()], origin, sampled))
    stretches = step_columns(view) if view.steps() else (window_columns(view, options.windows) if view.has_device else overall_columns(view))
    shading = [{"x0": (lo - origin) / 1e3, "x1": (hi - origin) / 1e3, "label": lab}
               for lo, hi, lab in zip(stretches["start_ns"], stretches["end_ns"], stretches["label"])]
    data = {"series": series, "links": _links(view, origin, sampled) if len(k) else {"x": [], "y": []}, "shading": shading}
    return TimelineResult(data, tuple(sampled))
