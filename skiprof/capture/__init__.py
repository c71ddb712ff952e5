"""Capture: run a workload under torch.profiler and produce a Kineto trace."""
from __future__ import annotations

from ._output import default_output, expand_output
from ._regions import KNOWN_REGIONS, region, step
from ._runner import Target, finish_like_python, ran_user_code, resolve_target, run_target
from ._session import CaptureOptions, Session, active_session

__all__ = [
    "CaptureOptions", "Session", "active_session", "region", "step", "KNOWN_REGIONS",
    "Target", "resolve_target", "run_target", "finish_like_python", "ran_user_code", "expand_output",
    "default_output",
]
