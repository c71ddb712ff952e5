"""``skiprof.record_metrics``: a workload's own figures (TTFT, tokens/s, ...) kept with its trace."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["record_metrics", "METRICS_FILE", "read_metrics"]

METRICS_FILE = "scenario.json"


def record_metrics(scenario: str, metrics: dict[str, float], units: dict[str, str] | None = None) -> dict[str, float]:
    """Record scenario metrics; under ``skiprof trace`` they land in the folder's metrics table.

    Returns ``metrics`` unchanged, so a workload can also print them. Non-finite values
    (NaN, inf) are refused: a metric that cannot be computed should be left out.
    """
    from ._session import active_session

    units = units or {}
    for name, value in metrics.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"metric {name!r} of {scenario!r} must be a finite number, got {value!r}")
    session = active_session()
    if session is not None:
        session.metrics.extend({"scenario": scenario, "name": k, "value": float(v), "unit": units.get(k, "")}
                               for k, v in metrics.items())
    return metrics


def write_metrics(folder: Path, rows: list[dict[str, Any]]) -> None:
    """Save recorded rows beside the trace for ingestion."""
    (folder / METRICS_FILE).write_text(json.dumps(rows))


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """Rows saved by write_metrics ([] when none)."""
    path = folder / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else []
