"""The host-device balance, TaxBreak-style: orchestration time split into framework translation
(ΔFT), library translation (ΔCT), the launch floor (ΔKT) and time above the floors, plus
HDBI = device-active / (device-active + orchestration), for the whole view and per step.
docs/metrics.md, "Host overhead".

Floors come from the trace's calibration (``skiprof calibrate`` on the capturing host, copied
into meta.json); without one the stated defaults apply and every figure is marked uncalibrated.
"""
from __future__ import annotations

import re
from typing import Any

import msgspec
import numpy as np

from skiprof._domain import DEFAULT_FLOORS, is_blocking
from skiprof._result import Col, Figure, Figures, Note, Result, Section, Table, host_cols
from skiprof.ingest._link import distinct

from . import _intervals as iv
from ._activity import rows_of
from ._options import Options
from ._view import View, in_windows

__all__ = ["HostSplitResult", "run", "split", "floors_of", "LIBRARY_KERNEL", "DEFAULT_FLOORS"]


#: Kernels of vendor libraries: an op that launches one spent its host time partly inside the library.
LIBRARY_KERNEL = re.compile(r"gemm|cublas|cudnn|cutlass|xmma|nvjet|rocblas|hipblas|miopen|Cijk_|magma|cusparse|"
                            r"cufft|splitK|implicit_convolve|winograd|flash_fwd|flash_bwd|fmha", re.IGNORECASE)


def floors_of(meta: Any) -> tuple[dict[str, float], bool]:
    """The floors to use for a trace and whether they were measured on its host."""
    cal = getattr(meta, "calibration", None)
    figures = cal.get("figures") if isinstance(cal, dict) else None
    if not isinstance(figures, dict):
        return dict(DEFAULT_FLOORS), False
    out = dict(DEFAULT_FLOORS)
    for key in out:
        fig = figures.get(key)
        if isinstance(fig, dict) and isinstance(fig.get("median"), (int, float)) and fig["median"] > 0:
            out[key] = float(fig["median"])
    # A CPU-only calibration has no launch floor: that one stays the default, and so is not measured.
    return out, "null_launch_ns" in figures


class Split(msgspec.Struct, frozen=True):
    """One stretch's orchestration time, its parts, the device-active time and HDBI."""

    orchestration_ns: int
    framework_ns: int
    library_ns: int
    launch_floor_ns: int
    above_floor_ns: int
    device_active_ns: int
    hdbi: float | None
    top_ops: int
    ops: int
    launches: int

    def to_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class _PerOp(msgspec.Struct, frozen=True):
    """Per cpu_op and per runtime call columns the split sums, computed once per view."""

    cpu: np.ndarray  # mask over ops rows
    op_ts: np.ndarray
    top: np.ndarray  # over cpu ops
    dur: np.ndarray
    lib_spare: np.ndarray  # library time of each cpu op (0 for non-library ops), before the floor
    is_lib: np.ndarray
    call_in_op: np.ndarray  # mask over launches rows
    waits: np.ndarray
    launch: np.ndarray


def _per_op(view: View) -> _PerOp:
    """Per top-level cpu_op: its duration, whether it ran a library kernel, and the launch calls inside it."""
    ops, la, k = view.ops, view.launches, view.kernels
    cpu = ops["cat"].eq("cpu_op")
    op_ids = ops["op_id"][cpu]
    dur = ops["dur"][cpu].astype(np.int64)
    in_op = la["top_op_id"] >= 0
    is_lib = np.zeros(len(op_ids), bool)
    spare = np.zeros(len(op_ids), np.int64)
    if len(k) and len(op_ids):
        lib_ops = distinct(k["op_id"][k["name"].search(LIBRARY_KERNEL) & (k["op_id"] >= 0)])
        is_lib = np.isin(op_ids, lib_ops)
        if is_lib.any():
            # Self time (less direct cpu_op children) less the runtime calls the op made itself.
            own = dur.copy()
            parent = rows_of(op_ids, ops["cpu_parent"][cpu])
            has = parent >= 0
            np.subtract.at(own, parent[has], dur[has])
            call = rows_of(op_ids, la["op_id"][in_op]) if "op_id" in la.data else np.zeros(0, np.int64)
            hit = call >= 0
            np.subtract.at(own, call[hit], la["dur"][in_op][hit].astype(np.int64))
            spare = np.where(is_lib, np.maximum(own, 0), 0)
    return _PerOp(cpu, ops["ts"][cpu], ops["cpu_parent"][cpu] < 0, dur, spare, is_lib, in_op,
                  in_op & _blocking(la["name"]), in_op & la["kind"].isin(("launch", "graph")))


def split(view: View, floors: dict[str, float], windows: list[tuple[int, int]] | None = None,
          per: _PerOp | None = None) -> Split:
    """The split over ``windows`` (ops and calls starting inside them), or over the whole view."""
    p = per or _per_op(view)
    la, k = view.launches, view.kernels
    ops_in = in_windows(p.op_ts, windows) if windows is not None else np.ones(len(p.op_ts), bool)
    calls_in = in_windows(la["ts"], windows) if windows is not None else np.ones(len(la), bool)
    top = p.top & ops_in
    waits, launch = p.waits & calls_in, p.launch & calls_in
    orchestration = max(0, int(p.dur[top].sum()) - int(la["dur"][waits].sum()))
    n_launch = int(launch.sum())
    launch_floor = min(int(n_launch * floors["null_launch_ns"]), int(la["dur"][launch].sum()), orchestration)
    lib = p.is_lib & ops_in
    library = int(np.maximum(p.lib_spare[lib] - int(floors["aten_op_ns"]), 0).sum())
    # The floors first (launch, then dispatch), then what was measured inside libraries: each part
    # is capped by what the earlier ones left, so the parts always add up to the orchestration time.
    n_ops, n_top = int(ops_in.sum()), int(top.sum())
    framework = int(n_top * floors["python_aten_op_ns"] + (n_ops - n_top) * floors["aten_op_ns"])
    framework = min(framework, orchestration - launch_floor)
    library = min(library, orchestration - launch_floor - framework)
    above = orchestration - launch_floor - framework - library
    if windows is not None:
        busy = _busy_in(k, windows)
    else:
        busy = iv.total(iv.union(k["ts"], k["ts"] + k["dur"])) if len(k) else 0
    hdbi = busy / (busy + orchestration) if busy + orchestration > 0 and len(k) else None
    return Split(orchestration, framework, library, launch_floor, above, busy, hdbi, n_top, n_ops, n_launch)


def _blocking(names: Any) -> np.ndarray:
    """Calls that hold the host until the device catches up: waiting, not orchestrating."""
    keep = [n for n in names.values if isinstance(n, str) and is_blocking(n)]
    return names.isin(keep) if keep else np.zeros(len(names), bool)


def _busy_in(k: Any, windows: list[tuple[int, int]]) -> int:
    """Device-active time of the activities launched in the windows (their whole duration: a step owns its work)."""
    if not len(k):
        return 0
    sel = in_windows(k["launch_ts"], windows) & (k["launch_ts"] >= 0)
    return iv.total(iv.union(k["ts"][sel], (k["ts"] + k["dur"])[sel])) if sel.any() else 0


_PARTS = (("framework_ns", "framework translation (ΔFT)"), ("library_ns", "library translation (ΔCT)"),
          ("launch_floor_ns", "launch floor (ΔKT)"), ("above_floor_ns", "above the floors"))
_STEP_COLS = (Col("step", "step", "number"), Col("orchestration_ns", "orchestration", "ns"),
              Col("framework_ns", "ΔFT", "ns"), Col("library_ns", "ΔCT", "ns"), Col("launch_floor_ns", "ΔKT", "ns", device=True),
              Col("above_floor_ns", "above floors", "ns"), Col("device_active_ns", "device active", "ns", device=True),
              Col("hdbi", "HDBI", "number", device=True), Col("label", "boundness", "label", device=True))


class HostSplitResult(Result, msgspec.Struct, frozen=True):
    """Orchestration time split TaxBreak-style, HDBI, per step, with the floors used."""

    scope: str
    whole: Split
    steps: tuple[dict[str, Any], ...]
    floors: dict[str, float]
    calibrated: bool
    has_device: bool = True

    name = "host_overhead"
    schema = "skiprof.host_overhead/1"
    title = "Host overhead (TaxBreak split) and HDBI"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "calibrated": self.calibrated, "floors": self.floors,
                **self.whole.to_dict(), "steps": list(self.steps)}

    def sections(self) -> list[Section]:
        """Host orchestration split into its parts beside device active time and HDBI, per step when there are steps."""
        w = self.whole
        items = [Figure("orchestration", w.orchestration_ns, "ns")]
        for key, label in _PARTS:
            items.append(Figure(f"  {label}", getattr(w, key), "ns"))
        items += [Figure("device active", w.device_active_ns, "ns"),
                  Figure("HDBI", "n/a (no device activity)" if w.hdbi is None else round(w.hdbi, 3),
                         "text" if w.hdbi is None else "number")]
        out: list[Section] = [Figures(self.title, tuple(items))]
        if not self.calibrated:
            out.append(Note("uncalibrated: the floors are defaults (null launch "
                            f"{self.floors['null_launch_ns']:.0f} ns, op from Python {self.floors['python_aten_op_ns']:.0f} ns, "
                            f"op inside ATen {self.floors['aten_op_ns']:.0f} ns); run skiprof calibrate on the capturing host "
                            "before capturing to measure them", "warning"))
        if self.steps:
            out.append(Table("Per step", host_cols(_STEP_COLS, self.has_device), self.steps))
        return out


def run(view: View, options: Options) -> HostSplitResult:
    """The split for the view and for each of its steps, beside each step's boundness label."""
    floors, calibrated = floors_of(view.trace.meta)
    rows: list[dict[str, Any]] = []
    steps = view.steps()
    labels = {}
    done = options.results or {}
    bound = done.get("boundness")
    if bound is not None:
        labels = {str(s.get("stretch")): s.get("label") for s in bound.to_dict().get("steps", [])}
    per = _per_op(view)
    for n, ts, dur in zip(steps["step"].tolist(), steps["ts"].tolist(), steps["dur"].tolist()):
        s = split(view, floors, [(int(ts), int(ts) + int(dur))], per)
        rows.append({"step": int(n), **s.to_dict(), "label": labels.get(f"step {int(n)}", "")})
    return HostSplitResult(view.label, split(view, floors, None, per), tuple(rows), floors, calibrated, view.has_device)
