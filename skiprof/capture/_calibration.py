"""``skiprof calibrate``: this host's floors, measured once and kept per host.

Every figure is the median of ``repeats`` timed loops, each of ``n`` calls, with the
smallest and largest loop kept as its spread (docs/metrics.md, "Host overhead"):

* ``python_aten_op_ns``: one ``torch.add(a, b, out=c)`` on 1-element CPU tensors from a
  Python loop: Python binding, argument parsing, ATen dispatch and a trivial kernel;
* ``aten_op_ns``: the same op from a TorchScript loop, so no Python per call: ATen dispatch
  and the kernel (plus the interpreter's loop step, a few tens of ns);
* ``python_dispatch_ns``: the difference, what the Python layer adds per op;
* ``cpu_memcpy_gbps``: ``copy_`` between two 64 MiB CPU tensors;
* on a GPU: ``null_launch_ns`` (host time to launch a kernel that does nothing,
  ``torch.cuda._sleep(0)``), ``sync_round_trip_ns`` (``torch.cuda.synchronize()`` on an idle
  device) and H2D/D2H bandwidth from pinned and from pageable memory.

The result is written to ``$SKIPROF_CACHE/calibration/<host>.json`` with the torch version
and driver; ``skiprof trace`` copies it into every folder captured on that host.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import socket
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["calibrate", "calibration_path", "host_calibration", "save_calibration"]


_MiB = 1 << 20


def calibration_path(host: str | None = None) -> Path:
    """Where this host's calibration lives."""
    from .._cache import cache_dir

    return cache_dir() / "calibration" / f"{host or socket.gethostname()}.json"


def host_calibration(host: str | None = None) -> dict[str, Any] | None:
    """This host's saved calibration (None when there is none or it cannot be read)."""
    try:
        data = json.loads(calibration_path(host).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("figures"), dict) else None


def save_calibration(result: dict[str, Any], host: str | None = None) -> Path:
    """Write a calibration atomically; returns its path."""
    path = calibration_path(host)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)
    return path


def _timed(fn: Callable[[int], None], n: int, repeats: int) -> dict[str, float]:
    """Per-call ns of ``fn(n)``: median, min and max over ``repeats`` loops, after one warm-up loop."""
    fn(max(1, n // 10))
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn(n)
        per.append((time.perf_counter_ns() - t0) / n)
    return {"median": statistics.median(per), "min": min(per), "max": max(per)}


def _bandwidth(copy: Callable[[], object], nbytes: int, repeats: int,
               sync: Callable[[], object] = lambda: None) -> dict[str, float]:
    """GB/s of ``copy()`` moving ``nbytes``: median, min and max over ``repeats``."""
    copy()
    sync()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        copy()
        sync()
        rates.append(nbytes / max(1, time.perf_counter_ns() - t0))  # bytes per ns == GB/s
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def _aten_loop() -> Any:
    import torch

    def loop(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, n: int) -> torch.Tensor:
        for _ in range(n):
            torch.add(a, b, out=out)
        return out

    with warnings.catch_warnings():  # TorchScript's deprecation notice is not the user's business
        warnings.simplefilter("ignore")
        return torch.jit.script(loop)


def calibrate(repeats: int = 7, n: int = 20000, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure this host's floors; returns the document ``save_calibration`` writes."""
    import torch

    say = progress or (lambda _: None)
    a, b, out = torch.ones(1), torch.ones(1), torch.empty(1)
    figures: dict[str, dict[str, float]] = {}

    say("Python + ATen per op")

    def py(k: int) -> None:
        add = torch.add
        for _ in range(k):
            add(a, b, out=out)

    figures["python_aten_op_ns"] = _timed(py, n, repeats)
    say("ATen per op (TorchScript loop)")
    script = _aten_loop()
    figures["aten_op_ns"] = _timed(lambda k: script(a, b, out, k), n, repeats)
    pa, at = figures["python_aten_op_ns"], figures["aten_op_ns"]
    # The spread of a difference: the extremes of both loops, so the range is never too narrow.
    figures["python_dispatch_ns"] = {"median": pa["median"] - at["median"], "min": pa["min"] - at["max"],
                                     "max": pa["max"] - at["min"]}
    say("CPU memcpy bandwidth")
    src = torch.empty(64 * _MiB, dtype=torch.uint8)
    dst = torch.empty_like(src)
    figures["cpu_memcpy_gbps"] = _bandwidth(lambda: dst.copy_(src), 64 * _MiB, repeats)
    gpu: dict[str, Any] = {}
    if torch.cuda.is_available():
        gpu = _calibrate_gpu(figures, repeats, say)
    return {"schema": "skiprof.calibration/1", "host": socket.gethostname(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch_version": str(torch.__version__), "method": f"median of {repeats} loops; min and max are the spread",
            **gpu, "figures": figures}


def _calibrate_gpu(figures: dict[str, dict[str, float]], repeats: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The GPU floors: null-kernel launch, synchronize round trip, H2D/D2H pinned and pageable."""
    import torch

    sync = torch.cuda.synchronize
    say("null-kernel launch")

    def launch(k: int) -> None:
        sleep = torch.cuda._sleep
        for _ in range(k):
            sleep(0)
        sync()  # the device drains inside the loop's time only once; the loop is launch-bound

    figures["null_launch_ns"] = _timed(launch, 5000, repeats)
    say("synchronize round trip")

    def round_trip(k: int) -> None:
        for _ in range(k):
            sync()

    figures["sync_round_trip_ns"] = _timed(round_trip, 2000, repeats)
    size = 256 * _MiB
    dev = torch.empty(size, dtype=torch.uint8, device="cuda")
    for kind, host in (("pinned", torch.empty(size, dtype=torch.uint8, pin_memory=True)),
                       ("pageable", torch.empty(size, dtype=torch.uint8))):
        say(f"H2D and D2H bandwidth ({kind})")
        figures[f"h2d_{kind}_gbps"] = _bandwidth(functools.partial(dev.copy_, host, non_blocking=True), size, repeats, sync)
        figures[f"d2h_{kind}_gbps"] = _bandwidth(functools.partial(host.copy_, dev, non_blocking=True), size, repeats, sync)
    driver = None
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else str(driver)
    except Exception:  # NVML is optional: the driver stays unknown
        driver = None
    return {"device": torch.cuda.get_device_name(0), "driver": driver,
            "cuda_version": getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", None)}
