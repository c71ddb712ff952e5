"""What every workload shares: presets, --device, --json, and recording the scenario metrics."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch

import skiprof

__all__ = ["parser", "resolve", "finish", "sync", "percentile"]


def parser(description: str, presets: dict[str, dict[str, Any]]) -> argparse.ArgumentParser:
    """An argument parser with the options every workload has. Size options default to None
    so that --preset can fill whatever the command line left unset."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the model runs")
    ap.add_argument("--preset", choices=list(presets), default=None,
                    help="size preset (default: cpu-tiny on CPU, gpu-small on a GPU)")
    ap.add_argument("--json", action="store_true", help="print the scenario metrics as one JSON line at the end")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def resolve(args: argparse.Namespace, presets: dict[str, dict[str, Any]]) -> torch.device:
    """Pick the device and apply the preset to every option still None."""
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device is available")
    device = torch.device("cuda" if use_cuda else "cpu")
    name = args.preset or ("gpu-small" if use_cuda else "cpu-tiny")
    args.preset = name
    for key, value in presets[name].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    torch.manual_seed(args.seed)
    return device


def sync(device: torch.device) -> None:
    """Wait for queued device work, so that host clocks measure it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    return float(torch.quantile(torch.tensor(values, dtype=torch.float64), q / 100).item())


def finish(scenario: str, metrics: dict[str, float], units: dict[str, str], args: argparse.Namespace) -> None:
    """Record the metrics with skiprof (kept in the trace folder) and print them.

    Names ending in ``_ms`` or holding ``_ms_`` (ttft_ms_p50) get the unit ms unless ``units`` says otherwise.
    """
    units = {**{k: "ms" for k in metrics if k.endswith("_ms") or "_ms_" in k}, **units}
    skiprof.record_metrics(scenario, metrics, units)
    if args.json:
        print(json.dumps({"scenario": scenario, "preset": args.preset, **metrics}))
    else:
        shown = ", ".join(f"{k}={v:.4g}{units.get(k, '')}" for k, v in metrics.items())
        print(f"{scenario}: {shown}")
