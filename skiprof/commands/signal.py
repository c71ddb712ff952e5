"""``skiprof signal PID``: ask a process running under ``skiprof trace --on-signal`` for a window."""
from __future__ import annotations

import os
from typing import Annotated

import typer

from .._errors import UsageError
from ._common import console

__all__ = ["command", "HELP"]

HELP = ("Ask the process PID, running under skiprof trace --on-signal SIG, to record a window now "
        "(the same as kill -SIG PID). A window already in progress is not restarted; that process logs the request.")


def command(
    pid: Annotated[int, typer.Argument(help="Process id of the server running under skiprof trace.", show_default=False)],
    sig: Annotated[str, typer.Option("--signal", "-s", help="The signal given to --on-signal.")] = "USR2",
) -> None:
    """``skiprof signal``: send the window signal to a process running under skiprof trace (help: HELP)."""
    from .trace import _signal_number

    num = _signal_number(sig)
    assert num is not None
    try:
        os.kill(pid, num)
    except ProcessLookupError:
        raise UsageError(f"no process {pid}") from None
    except PermissionError:
        raise UsageError(f"not allowed to signal process {pid} (another user's?)") from None
    console(stderr=True).print(f"asked process {pid} for a window (signal {sig.upper()})")
