"""Periodic and on-demand capture windows for processes that never exit (``--every``, ``--on-signal``).

torch.profiler records the operators of the thread that called ``start()`` (its
RecordFunction callbacks are thread-local; autograd and intra-op worker threads
inherit them, other Python threads do not), and it must be stopped on that same
thread: stopping from another thread fails inside Kineto and loses the trace.
So a window is always opened and closed on the thread it records:

* a window asked for by ``capture_window()`` opens on the calling thread;
* a periodic or signalled window opens at the next ``skiprof.step()`` on any
  thread once the script has called ``step()`` (a server's worker threads mark
  their requests that way); before that it opens on the main thread, which a
  signal interrupts;
* it closes on its thread at the first ``step()`` after its deadline, or, on
  the main thread, from a signal; on another thread a profile hook installed on
  that thread only for the window closes it at the first Python call after the
  deadline, or when the thread ends.

Between windows the profiler is off and only a sleeping timer thread is left.
Each window is ingested on a background thread into a hidden staging folder and
renamed to ``window=K`` when complete; the oldest windows beyond ``keep`` are
removed only after a newer one is in place, so a crash keeps every earlier window.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._folder import WINDOW_PREFIX, commit_folder, staging_folder, window_folders
from ._armed import arm, disarm
from ._session import CaptureOptions, Session

__all__ = ["WindowPlan", "WindowRecorder", "active_recorder", "capture_window", "window_folders", "WINDOW_PREFIX"]

#: The signal that makes the main thread open or close a window. SIGALRM is what --delay uses too.
_KICK = signal.SIGALRM

#: What a window's ingest child reads: the arguments of its meta.json.
JOB_FILE = "window-job.json"
#: How long a due window waits for a skiprof.step() before the main thread opens it.
_GRACE_S = 0.5

_recorder: WindowRecorder | None = None


def active_recorder() -> WindowRecorder | None:
    """The window recorder of this process, if ``skiprof trace`` runs one."""
    return _recorder


@dataclass(frozen=True)
class WindowPlan:
    """When to record: every ``every`` seconds and/or on a signal, ``duration`` seconds each."""

    duration: float = 2.0
    every: float | None = None
    keep: int | None = None
    on_signal: int | None = None
    delay: float = 0.0  # before the first periodic window


@dataclass
class _Open:
    """The window being recorded now."""

    index: int
    session: Session
    staging: Path
    trigger: str
    seconds: float
    thread: threading.Thread
    started_mono: float
    started_ns: int
    deadline: float


@dataclass
class WindowLog:
    """What the recorder did, for the summary and the tests."""

    committed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class WindowRecorder:
    """Records windows into ``root/window=K`` for as long as the process lives."""

    def __init__(self, root: Path, plan: WindowPlan, options: CaptureOptions,
                 describe: Callable[[Session, dict[str, Any]], dict[str, Any]],
                 say: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.plan = plan
        self.options = CaptureOptions(record_shapes=options.record_shapes, with_stack=options.with_stack,
                                      with_modules=options.with_modules, profile_memory=options.profile_memory)
        self._describe = describe  # a stopped window's meta.json arguments, as JSON (finish_window reads them)
        self._say = say or self._to_stderr
        self._err_fd = -1
        self.log = WindowLog()
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._open: _Open | None = None
        self._pending: tuple[str, float] | None = None  # (trigger, seconds) waiting for a thread to open it
        self._next_index = 0
        self._steps_seen = False
        self._closing = False
        self._queue: queue.Queue[tuple[_Open, float] | None] = queue.Queue()
        self._old: dict[int, Any] = {}
        self._timer: threading.Thread | None = None
        self._ingester: threading.Thread | None = None
        self._marker: Path | None = None

    def _to_stderr(self, line: str) -> None:
        # The profiler silences fd 2 while it starts and stops: log lines go to a copy of it.
        fd = self._err_fd if self._err_fd >= 0 else 2
        try:
            os.write(fd, f"skiprof: {line}\n".encode())
        except OSError:
            pass

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Install the signal handlers and start the timer and ingest threads (main thread only)."""
        global _recorder
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("windows are armed from the main thread")
        try:
            self._err_fd = os.dup(2)
        except OSError:
            self._err_fd = -1
        _warm_up(self.options)
        self._old[_KICK] = signal.signal(_KICK, self._on_kick)
        if self.plan.on_signal is not None:
            self._old[self.plan.on_signal] = signal.signal(self.plan.on_signal, self._on_request_signal)
        _recorder = self
        self._marker = arm(self.plan.on_signal, self.plan.every)  # what `skiprof signal PID` checks
        self._ingester = threading.Thread(target=self._ingest_loop, name="skiprof-ingest", daemon=True)
        self._ingester.start()
        # The timer opens periodic windows and closes main-thread ones (signal and capture_window too).
        self._timer = threading.Thread(target=self._timer_loop, name="skiprof-windows", daemon=True)
        self._timer.start()

    def close(self) -> WindowLog:
        """After the script: close an open window if this thread can, wait for ingestion, restore handlers."""
        global _recorder
        with self._lock:
            self._closing = True
            self._pending = None
            self._wake.notify_all()
        w = self._open
        if w is not None:
            if w.thread is threading.current_thread():
                self._close_window(w)
            else:  # torch.profiler cannot be stopped from another thread: this window is lost
                self._open = None
                self.log.errors.append(f"window {w.index} was still open on thread {w.thread.name!r} when the "
                                       "process ended; torch.profiler can only stop on that thread, so it is lost")
        if self._timer is not None:
            self._timer.join(timeout=2)
        self._queue.put(None)
        if self._ingester is not None:
            self._ingester.join()
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        disarm(self._marker)
        self._marker = None
        _recorder = None
        if self._err_fd >= 0:
            os.close(self._err_fd)
            self._err_fd = -1
        return self.log

    # --- requests -------------------------------------------------------------------------
    def request(self, seconds: float | None, trigger: str) -> bool:
        """Ask for a window of ``seconds``; False (and a log line) when one is already open or pending."""
        seconds = self.plan.duration if seconds is None else seconds
        with self._lock:
            if self._closing:
                return False
            if self._open is not None or self._pending is not None:
                busy = self._open.index if self._open is not None else self._next_index
                line = f"window {busy} is already being recorded; the {trigger} request was not restarted"
                self.log.refused.append(line)
                self._say(line)
                return False
            self._pending = (trigger, seconds)
        return True

    def capture_here(self, seconds: float | None) -> bool:
        """``capture_window()``: open a window now on the calling thread."""
        if not self.request(seconds, "capture_window"):
            return False
        self._open_pending_here()
        return True

    def _on_request_signal(self, signum: int, frame: Any) -> None:
        if self.request(None, "signal") and not self._steps_seen:
            self._open_pending_here()  # signal handlers run on the main thread

    def _on_kick(self, signum: int, frame: Any) -> None:
        """Main thread: close its expired window, or open a pending one nobody else will open."""
        w = self._open
        if w is not None and w.thread is threading.current_thread() and time.monotonic() >= w.deadline:
            self._close_window(w)
        elif w is None and self._pending is not None and not self._steps_seen:
            self._open_pending_here()

    def on_step(self) -> None:
        """``skiprof.step()``: open a pending window here, or close this thread's expired one."""
        self._steps_seen = True
        w = self._open
        if w is not None:
            if w.thread is threading.current_thread():
                if time.monotonic() >= w.deadline:
                    self._close_window(w)
                else:
                    w.session.step()
            return
        if self._pending is not None:
            self._open_pending_here()

    # --- opening and closing ------------------------------------------------------------------
    def _open_pending_here(self) -> None:
        with self._lock:
            if self._pending is None or self._open is not None or self._closing:
                return
            trigger, seconds = self._pending
            self._pending = None
            index = self._next_index
            self._next_index += 1
            try:
                staging = staging_folder(self.root / f"{WINDOW_PREFIX}{index}")
                session = Session(staging, self.options, defer_export=True)
                session.start()
            except Exception as exc:  # a full disk, a profiler already running: log, keep the process alive
                self.log.errors.append(f"window {index} could not start: {exc}")
                self._say(self.log.errors[-1])
                return
            now = time.monotonic()
            self._open = w = _Open(index, session, staging, trigger, seconds, threading.current_thread(), now,
                                   time.time_ns(), now + seconds)
            self._wake.notify_all()  # the timer thread now waits for this deadline
        if w.thread is not threading.main_thread() and not self.options.with_stack:
            sys.setprofile(self._thread_hook(w))

    def _thread_hook(self, w: _Open) -> Callable[[Any, str, Any], None]:
        """A profile hook for a worker thread's window: close it past the deadline or when the thread ends."""
        deadline = w.deadline
        clock = time.monotonic

        def hook(frame: Any, event: str, arg: Any) -> None:
            if clock() >= deadline or (event == "return" and frame.f_back is None):
                sys.setprofile(None)
                if self._open is w:
                    self._close_window(w)

        return hook

    def _close_window(self, w: _Open) -> None:
        """Stop recording the open window ``w`` (once, whichever trigger closes it) and write its trace folder."""
        with self._lock:
            if self._open is not w:
                return
            self._open = None
            self._wake.notify_all()
        if w.thread is not threading.main_thread():
            sys.setprofile(None)
        recorded = time.monotonic() - w.started_mono
        try:
            w.session.stop()
        except Exception as exc:
            self.log.errors.append(f"window {w.index} could not stop: {exc}")
        self._queue.put((w, recorded))

    # --- the timer -----------------------------------------------------------------------------
    def _timer_loop(self) -> None:
        """Open a window every ``every`` seconds; wake the main thread when its window is due to close."""
        every = self.plan.every
        next_start = time.monotonic() + self.plan.delay if every is not None else math.inf
        kick_at: float | None = None
        main = threading.main_thread()
        with self._lock:
            while not self._closing:
                now = time.monotonic()
                w = self._open
                # A process that marks steps closes its window at the next step, outside any region
                # (an annotation still open at stop would run on to the profiler's stop time).
                close_at = w.deadline + (_GRACE_S if self._steps_seen else 0.0) if w is not None else 0.0
                if w is not None and w.thread is main and now >= close_at:
                    signal.pthread_kill(main.ident or 0, _KICK)
                    self._wake.wait(0.05)  # the main thread closes it between two bytecodes
                    continue
                if kick_at is not None and now >= kick_at:
                    kick_at = None
                    if self._open is None and self._pending is not None and not self._steps_seen:
                        signal.pthread_kill(main.ident or 0, _KICK)
                    continue
                if now >= next_start:
                    while next_start <= now:  # a window that could not open in time is skipped, not queued
                        next_start += every or math.inf
                    if self._open is None and self._pending is None:
                        self._pending = ("periodic", self.plan.duration)
                        if not self._steps_seen:
                            # A server's worker threads may not have stepped yet: give them a moment
                            # to open it on their side before the main thread takes it.
                            kick_at = now + min(_GRACE_S, self.plan.duration)
                    continue
                wake_at = next_start if w is None or w.thread is not main else min(next_start, close_at)
                if kick_at is not None:
                    wake_at = min(wake_at, kick_at)
                self._wake.wait(None if math.isinf(wake_at) else max(0.0, wake_at - now))

    # --- ingestion ------------------------------------------------------------------------------
    def _ingest_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            w, recorded = item
            try:
                self._ingest(w, recorded)
            except Exception as exc:
                shutil.rmtree(w.staging, ignore_errors=True)
                self.log.errors.append(f"window {w.index} was not kept: {exc}")
                self._say(self.log.errors[-1])

    def _ingest(self, w: _Open, recorded: float) -> None:
        """Import a closed window's Kineto trace into its folder, with the window's facts in meta.json."""
        from .._errors import SkiprofError

        w.session.export_deferred()
        if not w.session.exported:
            raise SkiprofError(w.session.export_error or "the profiler produced no trace")
        started = _dt.datetime.fromtimestamp(w.started_ns / 1e9, _dt.timezone.utc).astimezone()
        facts = {"index": w.index, "trigger": w.trigger, "started": started.isoformat(timespec="milliseconds"),
                 "started_unix_ns": w.started_ns, "seconds": w.seconds, "recorded_s": round(recorded, 6),
                 "thread": w.thread.name}
        (w.staging / JOB_FILE).write_text(json.dumps(self._describe(w.session, facts)))
        # Ingestion parses the whole trace in C calls that hold the GIL: in a child process it
        # never stalls the server's threads. A crash of either process leaves only the hidden
        # staging folder, never a half-written window.
        done = subprocess.run([sys.executable, "-m", "skiprof.capture._windows", str(w.staging)],
                              capture_output=True, text=True, env=_child_env(), preexec_fn=_lower_priority)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            raise SkiprofError(lines[-1] if lines else f"ingestion exited with {done.returncode}")
        out = self.root / f"{WINDOW_PREFIX}{w.index}"
        commit_folder(w.staging, out, force=False)
        self.log.committed.append(out)
        self._say(f"window {w.index} ({w.trigger}, {recorded:.2f} s) -> {out}")
        self._rotate()

    def _rotate(self) -> None:
        """Keep the newest ``keep`` complete windows; the removed ones vanish in one rename each."""
        keep = self.plan.keep
        if keep is None:
            return
        folders = window_folders(self.root)
        for _, old in folders[:-keep] if len(folders) > keep else []:
            trash = self.root / f".{old.name}.removed"
            try:
                os.rename(old, trash)
                shutil.rmtree(trash, ignore_errors=True)
                self.log.removed.append(old)
            except OSError as exc:
                self.log.errors.append(f"{old} could not be removed: {exc}")


def _lower_priority() -> None:
    """In the ingest child: the server keeps the CPU first."""
    try:
        os.nice(10)
    except OSError:
        pass


def _child_env() -> dict[str, str]:
    """The ingest child's environment: it imports the same skiprof as this process, installed or
    not, and runs no user code, so it gets the library settings of skiprof's own commands. One
    OpenBLAS thread, not one per core spinning beside the server it profiles, and pyarrow's system
    allocator, which keeps the child smaller (skiprof/_libenv.py)."""
    import skiprof

    from .._libenv import library_defaults

    here = str(Path(skiprof.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    library_defaults(env)
    return env


def finish_window(staging: Path) -> None:
    """The ingest child: turn a staging folder holding a window's raw trace into a trace folder."""
    import gzip
    import shutil as _shutil

    import msgspec

    from .._meta import Capture
    from ..ingest._pipeline import finish_capture
    from ._session import RAW_TRACE_FILE, TRACE_FILE

    job = json.loads((staging / JOB_FILE).read_text())
    raw = staging / RAW_TRACE_FILE
    if raw.exists():  # the folder keeps its trace compressed, as a whole-run capture does
        with open(raw, "rb") as src, gzip.open(staging / TRACE_FILE, "wb", compresslevel=3) as dst:
            _shutil.copyfileobj(src, dst, 1 << 20)
        raw.unlink()
    capture = msgspec.convert(job["capture"], Capture)
    finish_capture(None, staging, None, rank=0, command=job["command"], torch_version=job["torch_version"],
                   capture=capture, calibration=job.get("calibration"))
    (staging / JOB_FILE).unlink()


def _warm_up(options: CaptureOptions) -> None:
    """Start and stop the profiler once: its first start sets up Kineto (a second on some hosts),
    which would otherwise delay the first window and stall the thread it records."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from ._session import _quiet_stderr, without_inductor_import

    kinds = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with _quiet_stderr(), without_inductor_import():
        prof = profile(activities=kinds, record_shapes=options.record_shapes)
        prof.start()
        prof.stop()


def capture_window(seconds: float | None = None) -> bool:
    """Record the next ``seconds`` of the calling thread's work as a window, e.g. when p99 latency crosses a line.

    Works under ``skiprof trace --every`` or ``--on-signal`` (elsewhere it returns False and
    does nothing). A window already in progress is not restarted: the request is logged and
    False returned. ``seconds`` defaults to the run's ``--duration``.
    """
    rec = _recorder
    return rec.capture_here(seconds) if rec is not None else False


if __name__ == "__main__":  # python -m skiprof.capture._windows STAGING: the ingest child
    import sys as _sys

    from .._errors import SkiprofError as _Err

    try:
        finish_window(Path(_sys.argv[1]))
    except (_Err, OSError, ValueError) as _exc:
        print(f"{_exc}", file=_sys.stderr)
        raise SystemExit(1) from None
