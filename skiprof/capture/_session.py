"""A profiling session: torch.profiler configured the skiprof way, plus NVML sampling.

The session always runs torch.profiler with a schedule, because only then does
``step()`` write ``ProfilerStep#N`` ranges into the trace. ``--delay`` and
``--duration`` start and stop it from a SIGALRM handler, which Python runs on
the main thread: torch.profiler must be started from the thread whose ops it
records.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._meta import CaptureSettings
from ._cpu import CpuSampler, cpu_counter_events
from ._nvml import NvmlSampler, counter_events

__all__ = ["CaptureOptions", "Session", "active_session"]

TRACE_FILE = "trace.json.gz"
RAW_TRACE_FILE = "trace.json"
#: Counter samples taken beside the profiler (NVML, main-thread CPU time), merged into the counters table.
NVML_FILE = "samples.json"

_active: Session | None = None


@contextmanager
def without_inductor_import() -> Iterator[None]:
    """While torch.profiler starts: its ``prepare_trace`` asks ``hasattr(torch, "_inductor")`` only to read
    inductor's cudagraphs setting, and that question imports inductor and dynamo (1.4 s on this CPU host, and
    modules the script never asked for). Where the script has not loaded inductor, its setting is the default
    (off), which is what torch.profiler then uses; the lazy import stays available to the script after start."""
    import torch

    lazy = getattr(torch, "_lazy_modules", None)
    if "torch._inductor" in sys.modules or not isinstance(lazy, set) or "_inductor" not in lazy:
        yield
        return
    lazy.discard("_inductor")
    try:
        yield
    finally:
        lazy.add("_inductor")


def active_session() -> Session | None:
    """The session recording now, if any."""
    return _active


# What to record and when: the same struct meta.json records the options in.
CaptureOptions = CaptureSettings


class Session:
    """Owns the torch profiler for one capture and writes its trace into ``folder``."""

    def __init__(self, folder: Path, options: CaptureOptions, defer_export: bool = False) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile

        self.folder = folder
        self.options = options
        # Deferred (window) exports write plain JSON: torch gzips at level 9 in Python, seconds per
        # window with the interpreter lock held; the ingest child compresses it instead.
        self.trace_path = folder / (RAW_TRACE_FILE if defer_export else TRACE_FILE)
        self.exported = False
        self.export_error: str | None = None
        # Windows of a long-running process export on their ingest thread, not on the recorded one.
        self.defer_export = defer_export
        self._stopped_prof: Any = None
        self.recording = False
        self.finished = False
        activities = [ProfilerActivity.CPU]
        # ROCm builds report through the same CUDA activity kind.
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        self.devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
        self._prof = profile(
            activities=activities,
            schedule=self._schedule,
            on_trace_ready=self._export,
            record_shapes=options.record_shapes,
            # Eager nn.Module events ("nn.Module: Linear_0") come from the Python tracer, which only
            # with_stack turns on; with_modules alone covers TorchScript modules.
            with_stack=options.with_stack or options.with_modules,
            with_modules=options.with_modules,
            profile_memory=options.profile_memory,
        )
        self._nvml = NvmlSampler()
        self._cpu = CpuSampler()
        self._old_alarm: Any = None
        self.started_at_ns = 0
        self.stopped_at_ns = 0
        self.metrics: list[dict[str, Any]] = []  # skiprof.record_metrics rows
        self.step_calls = 0  # profiler steps advanced; ProfilerStep#<step_calls> is the unfinished tail

    # --- schedule -------------------------------------------------------------------------
    def _schedule(self, step: int) -> Any:
        """torch.profiler's schedule: record everything, or only the --steps after --skip-first."""
        from torch.profiler import ProfilerAction

        o = self.options
        if o.steps is None:
            return ProfilerAction.RECORD
        if step < o.skip_first:
            return ProfilerAction.NONE
        last = o.skip_first + o.steps - 1
        if step < last:
            return ProfilerAction.RECORD
        if step == last:
            return ProfilerAction.RECORD_AND_SAVE
        return ProfilerAction.NONE

    def _export(self, prof: Any) -> None:
        if self.exported:
            return
        if self.defer_export:
            self._stopped_prof = prof
            return
        try:
            prof.export_chrome_trace(str(self.trace_path))
            self.exported = True
        except UnicodeDecodeError as exc:  # torch 2.13 with_stack: stack frames with bad bytes
            self.export_error = f"the profiler could not export stack frames (UnicodeDecodeError: {exc.reason}); rerun without --with-stack"
        except OSError as exc:  # a full disk, a folder removed under us
            self.export_error = f"the profiler could not write its trace ({exc.strerror or exc})"

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Begin recording now, or arm the --delay timer."""
        global _active
        _active = self
        self._nvml.start()
        self._cpu.start()
        if self.options.delay > 0 or self.options.duration is not None:
            if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
                raise RuntimeError("--delay/--duration need the main thread of a POSIX process")
            self._old_alarm = signal.signal(signal.SIGALRM, self._on_alarm)
        if self.options.delay > 0:
            signal.setitimer(signal.ITIMER_REAL, self.options.delay)
        else:
            self._begin()

    def _begin(self) -> None:
        """Start the profiler and, with --duration, the timer that stops it."""
        with _quiet_stderr(), without_inductor_import():
            self._prof.start()
        # After start() returns: setting up the profiler itself can take a second.
        self.started_at_ns = time.time_ns()
        self.recording = True
        if self.options.duration is not None:
            signal.setitimer(signal.ITIMER_REAL, self.options.duration)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if not self.recording and not self.finished:
            self._begin()
        elif self.recording:
            self._end()

    def _end(self) -> None:
        """Stop the profiler; a failure on stack frames is kept as the export error instead of raised."""
        self.stopped_at_ns = time.time_ns()
        self.recording = False
        self.finished = True
        try:
            with _quiet_stderr():
                self._prof.stop()
        except UnicodeDecodeError as exc:
            self.export_error = f"the profiler failed on stack frames (UnicodeDecodeError: {exc.reason}); rerun without --with-stack"

    def step(self) -> None:
        """Advance the profiler's step counter (skiprof.step())."""
        if self.recording:
            with without_inductor_import():  # a schedule's first recorded step prepares the trace here
                self._prof.step()
            self.step_calls += 1
            if self.options.steps is not None and self.exported:
                self._end()  # the requested steps are saved; stop paying for the profiler

    def stop(self) -> None:
        """Stop recording (if still on), stop sampling, and write the NVML samples file."""
        global _active
        if self._old_alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old_alarm)
            self._old_alarm = None
        if self.recording:
            self._end()
        self._nvml.stop()
        self._cpu.stop()
        _active = None
        if not self.defer_export:
            self.write_files()

    def export_deferred(self) -> None:
        """With ``defer_export``: write the trace of the stopped profiler, then the side files."""
        prof, self._stopped_prof = self._stopped_prof, None
        if prof is not None:
            self.defer_export = False
            self._export(prof)
        self.write_files()

    def write_files(self) -> None:
        """The scenario metrics and the counter samples of the recorded window, beside the trace."""
        if self.metrics:
            from ._metrics import write_metrics

            write_metrics(self.folder, self.metrics)
        # Keep the samples taken while the profiler recorded: same window as the trace.
        def recorded(t: int) -> bool:
            return self.started_at_ns <= t <= (self.stopped_at_ns or t)

        samples = [x for x in self._nvml.samples if recorded(x[0])]
        cpu = [x for x in self._cpu.samples if recorded(x[0])]
        if (samples or cpu) and self.exported:
            base = _base_time_ns(self.trace_path)
            events = counter_events(samples, base) + cpu_counter_events(cpu, base, os.getpid(), self._cpu.native_id)
            (self.folder / NVML_FILE).write_text(json.dumps({"traceEvents": events}))

    def capture_facts(self, **more: Any) -> Any:
        """meta.json's ``capture`` entry for this session (``more``: what ran and how it ended)."""
        from .._meta import Capture

        return Capture(nvml=self.nvml_available, devices=list(self.devices), step_calls=self.step_calls,
                       cpu_sampled_tid=self.cpu_sampled_tid, **more)

    @property
    def nvml_available(self) -> bool:
        return self._nvml.available

    @property
    def cpu_sampled_tid(self) -> int | None:
        """Trace tid of the thread whose CPU time was sampled (None when sampling was unavailable)."""
        return self._cpu.native_id if self._cpu.available else None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's native start/stop chatter (Kineto prints it to fd 2)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _base_time_ns(trace: Path) -> int:
    """Kineto's ``baseTimeNanoseconds`` (trace ts + base = Unix time), from the file's head or tail."""
    import gzip
    import re

    pattern = re.compile(rb'"baseTimeNanoseconds"\s*:\s*(\d+)')
    with (gzip.open(trace, "rb") if trace.suffix == ".gz" else open(trace, "rb")) as fh:
        head = fh.read(1 << 16)
        m = pattern.search(head)
        if m:
            return int(m.group(1))
        tail = head[-4096:]
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-4096:]
    m = pattern.search(tail)
    return int(m.group(1)) if m else 0
