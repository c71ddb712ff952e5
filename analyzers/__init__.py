"""Analyzers: pure functions of a loaded trace view, one module per question.

    from skiprof.analyzers import select, launch
    v = select(skiprof.load("run"), step=3)
    launch.summary(v).tklqt_ns

``REGISTRY`` lists them for the report and the docs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import boundness, breakdown, hta, kernels, launch, scenario
from ._view import View, select

__all__ = ["View", "select", "REGISTRY", "Analyzer", "launch", "boundness", "breakdown", "kernels", "hta", "scenario"]


@dataclass(frozen=True)
class Analyzer:
    """One named analysis: the function of a View and what it answers."""

    name: str
    func: Callable[..., Any]
    question: str


REGISTRY: dict[str, Analyzer] = {a.name: a for a in (
    Analyzer("launch.per_activity", launch.per_activity, "How long did each kernel wait between its launch call and its start, and why?"),
    Analyzer("launch.summary", launch.summary, "TKLQT, AKD, IL, GPU busy/idle, launches per op, host cost of launching"),
    Analyzer("boundness.per_step", boundness.per_step, "Is each step CPU-bound or GPU-bound?"),
    Analyzer("boundness.per_window", boundness.per_window, "Does boundness change over time?"),
    Analyzer("boundness.idle_attribution", boundness.idle_attribution, "Why is each stream idle (HTA's categories)?"),
    Analyzer("breakdown.phases", breakdown.phases, "Where does end-to-end time go: preprocessing, data movement, compute, ...?"),
    Analyzer("breakdown.memcpy", breakdown.memcpy, "How much data moves each way, and how fast?"),
    Analyzer("kernels.top_kernels", kernels.top_kernels, "Which kernels take the device time?"),
    Analyzer("kernels.top_ops", kernels.top_ops, "What does each top-level op cost on host and device?"),
    Analyzer("hta.temporal_breakdown", hta.temporal_breakdown, "HTA's idle/compute/non-compute shares, for comparison"),
    Analyzer("scenario.recorded", scenario.recorded, "What did the workload itself measure (TTFT, tokens/s, ...)?"),
    Analyzer("scenario.per_region", scenario.per_region, "What launch/queue time does each named phase (prefill, decode, ...) cost?"),
)}
