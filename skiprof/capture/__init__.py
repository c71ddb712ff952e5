"""Capture: run a workload under torch.profiler and produce a Kineto trace.

The names below load their module on first use: ``import skiprof`` (a workload's regions and
metrics) and the analysis commands then skip the runner and the profiler session."""
from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CaptureOptions", "Session", "active_session", "region", "step", "KNOWN_REGIONS",
    "Target", "resolve_target", "run_target", "finish_like_python", "release_script", "ran_user_code", "expand_output",
    "default_output",
]

_HOME = {
    "default_output": "_output", "expand_output": "_output",
    "KNOWN_REGIONS": "_regions", "region": "_regions", "step": "_regions",
    "Target": "_runner", "finish_like_python": "_runner", "release_script": "_runner", "ran_user_code": "_runner", "resolve_target": "_runner",
    "run_target": "_runner",
    "CaptureOptions": "_session", "Session": "_session", "active_session": "_session",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value  # found once
    return value
