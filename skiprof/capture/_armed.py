"""Which processes asked to be signalled: one marker file per process under ``skiprof trace --every/--on-signal``.

``skiprof signal PID`` sends a signal only to a process that left a marker here, for the signal that
process chose, and only while the marker's process start time matches the live process (a recycled
PID never inherits a marker). The markers live in ``$SKIPROF_RUNTIME``, else ``$XDG_RUNTIME_DIR/skiprof``,
else ``/tmp/skiprof-UID``; each is removed when its window recorder closes.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["runtime_dir", "arm", "disarm", "armed", "start_time", "USER_SIGNALS"]

#: The signals ``--on-signal`` may take: the two meant for users. Anything else (SEGV, TERM, INT, HUP,
#: KILL, STOP, ...) already means something to the process or the system.
USER_SIGNALS = ("USR1", "USR2")


def runtime_dir() -> Path:
    """The folder that holds the markers (created 0700 on first use by ``arm``)."""
    given = os.environ.get("SKIPROF_RUNTIME")
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "skiprof"
    return Path(tempfile.gettempdir()) / f"skiprof-{os.getuid()}"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None where it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


def _private(folder: Path) -> bool:
    """Whether ``folder`` is a real folder of this user's that nobody else can write (a shared /tmp is hostile)."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def arm(signum: int | None, every: float | None) -> Path | None:
    """Leave this process's marker: it records windows, on ``signum`` when given. None where none can be left
    (then ``skiprof signal`` refuses this process, and ``kill -SIG PID`` still works)."""
    folder = runtime_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not _private(folder):
        return None
    pid = os.getpid()
    path = folder / f"{pid}.json"
    doc = {"pid": pid, "signal": signum, "every": every, "start": start_time(pid)}
    try:
        tmp = folder / f".{pid}.json.partial"
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)
    except OSError:
        return None
    return path


def disarm(path: Path | None) -> None:
    """Remove this process's marker (only in the process that left it: a forked child leaves it alone)."""
    if path is None or path.name != f"{os.getpid()}.json":
        return
    try:
        path.unlink()
    except OSError:
        pass


def armed(pid: int) -> dict[str, Any] | None:
    """The marker of a live process ``pid`` (its ``signal`` and ``every``), or None: no marker, an unreadable
    one, or one a dead process left behind (its start time no longer matches)."""
    folder = runtime_dir()
    if not _private(folder):
        return None
    try:
        doc = json.loads((folder / f"{pid}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("pid") != pid:
        return None
    now = start_time(pid)
    if now is None and not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists():
        return None  # gone
    if doc.get("start") is not None and now is not None and doc["start"] != now:
        return None  # the PID was reused by another process
    return doc
