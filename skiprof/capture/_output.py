"""Output folder names: the default, and nsys-style ``%p`` / ``%q{ENV}`` expansion."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .._errors import UsageError

__all__ = ["expand_output", "default_output", "orphaned_captures"]

_TOKEN = re.compile(r"%q\{([^}]*)\}|%p|%h|%%")


def expand_output(template: str) -> Path:
    """Expand ``%p`` (pid), ``%h`` (host name), ``%q{ENV}`` (environment variable) and ``%%``."""

    def sub(m: re.Match[str]) -> str:
        """Expand one %-token of an output name: %p, %h, %% or %q{ENV}."""
        tok = m.group(0)
        if tok == "%p":
            return str(os.getpid())
        if tok == "%h":
            return os.uname().nodename
        if tok == "%%":
            return "%"
        name = m.group(1)
        if name not in os.environ:
            raise UsageError(f"-o {template}: environment variable {name} (from %q{{{name}}}) is not set")
        return os.environ[name]

    return Path(_TOKEN.sub(sub, template))


def default_output(label: str) -> Path:
    """``skiprof-<script>-<YYYYmmdd-HHMMSS>`` in the current folder."""
    return Path(f"skiprof-{label}-{time.strftime('%Y%m%d-%H%M%S')}")


def orphaned_captures(out: Path) -> list[Path]:
    """Raw traces that an earlier capture to ``out`` left in its hidden staging folder when its process died
    (SIGKILL, a power cut) before the folder was written: each is named to the user, never removed."""
    from ._session import RAW_TRACE_FILE, TRACE_FILE

    found = []
    try:
        candidates = sorted(out.parent.glob(f".{out.name}.*.partial"))
    except OSError:
        return []
    for folder in candidates:
        pid = folder.name[len(out.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        found += [raw for raw in (folder / TRACE_FILE, folder / RAW_TRACE_FILE) if raw.is_file()]
    return found


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only checked
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True
