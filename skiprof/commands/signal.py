"""``skiprof signal PID``: ask a process running under ``skiprof trace --on-signal`` for a window."""
from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .._errors import UsageError
from ._common import console

__all__ = ["command", "HELP", "signal_number"]

HELP = ("Ask the process PID, running under skiprof trace --on-signal SIG, to record a window now "
        "(the same as kill -SIG PID). Only a process that skiprof trace armed for it is signalled, with the signal it "
        "chose; anything else is refused. A window already in progress is not restarted; that process logs the request.")

#: The largest PID any system hands out (Linux's pid_max limit is 2**22).
_PID_MAX = 2**22


def signal_number(name: str, option: str) -> int:
    """USR2, SIGUSR2 or 12 -> the signal number, if it is one ``--on-signal`` may take (capture._armed.USER_SIGNALS);
    anything else is a usage error naming ``option``."""
    import signal

    from ..capture._armed import USER_SIGNALS

    text = name.strip().upper()
    allowed = {int(getattr(signal, f"SIG{n}")): n for n in USER_SIGNALS if hasattr(signal, f"SIG{n}")}
    if text.isdigit() and len(text) < 4:
        num: int | None = int(text)
    else:
        sig = getattr(signal, text if text.startswith("SIG") else f"SIG{text}", None)
        num = int(sig) if isinstance(sig, signal.Signals) else None
    if num is None and not text.isdigit():
        raise UsageError(f"{option}: unknown signal {name!r} (use {' or '.join(allowed.values())})")
    if num not in allowed:
        raise UsageError(f"{option}: signal {name} cannot be used: it already means something to the process or the "
                         f"system (use {' or '.join(allowed.values())})")
    return num


def check_target(pid: int, num: int | None) -> tuple[int, str]:
    """The signal to send to ``pid`` (``num``, or the one it chose): only to a live process that skiprof trace
    armed for a signal, never to a group, to skiprof itself or its process group; else a usage error saying why."""
    import signal

    from ..capture._armed import armed

    if pid < 1 or pid > _PID_MAX:
        raise UsageError(f"{pid}: not a process id (skiprof signal takes one process, 1 to {_PID_MAX})")
    if pid == os.getpid() or pid == os.getpgrp():
        raise UsageError(f"{pid}: that is skiprof's own process or process group; nothing was signalled")
    marker = armed(pid)
    if marker is None:
        raise UsageError(f"process {pid} is not running under skiprof trace --on-signal (no marker); nothing was signalled")
    chosen = marker.get("signal")
    if not isinstance(chosen, int):
        raise UsageError(f"process {pid} records windows every {marker.get('every')} s but was not started with "
                         "--on-signal; nothing was signalled")
    if num is not None and num != chosen:
        raise UsageError(f"--signal: process {pid} waits for {signal.Signals(chosen).name}, not "
                         f"{signal.Signals(num).name}; nothing was signalled")
    return chosen, signal.Signals(chosen).name.removeprefix("SIG")


def command(
    pid: Annotated[int, typer.Argument(help="Process id of the server running under skiprof trace --on-signal.",
                                       show_default=False)],
    sig: Annotated[Optional[str], typer.Option("--signal", "-s", show_default=False,
                                               help="The signal given to --on-signal (default: the one it chose).")] = None,
) -> None:
    """``skiprof signal``: send the window signal to a process armed by skiprof trace (help: HELP)."""
    num, name = check_target(pid, signal_number(sig, "--signal") if sig is not None else None)
    try:
        os.kill(pid, num)
    except ProcessLookupError:
        raise UsageError(f"no process {pid}") from None
    except PermissionError:
        raise UsageError(f"not allowed to signal process {pid} (another user's?)") from None
    console(stderr=True).print(f"asked process {pid} for a window (signal {name})")
