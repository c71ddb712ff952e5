"""Where skiprof may write, and how: the one set of rules every output goes through.

skiprof runs as root in containers and CI, so ``-f`` must never turn into "replace whatever is at
that path". The rules (docs/cli.md, "Outputs"):

* a file output that names a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a pipe)
  is written to as a stream, never renamed over;
* ``-f`` replaces only a regular file, or a folder skiprof itself wrote (one that holds
  ``meta.json``, ``sweep.json`` or ``window=K/`` folders), or an empty folder; anything else
  (a device, a socket, a foreign folder, a mount point, ``/``) is refused whatever ``-f`` says;
* an output that is an input, lies inside one, or holds one is refused before any work;
* temporary names are unique per writer, and what is made honours the umask.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ._errors import OutputError, OutputExistsError, UsageError

__all__ = ["is_stream", "file_output", "folder_output", "write_file", "replace_folder", "umask", "is_ours", "OURS_MARKERS",
           "refuse_overlap"]

#: A folder holding one of these was written by skiprof (a trace, a sweep, a windowed run's job file).
OURS_MARKERS = ("meta.json", "sweep.json", "window-job.json")
_WINDOW = "window="


def umask() -> int:
    """The process's umask, read without changing it (Linux's /proc; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _kind(path: Path) -> str:
    """What is at ``path``, following a symbolic link: missing, file, dir, stream (a character device or a FIFO)
    or other (a block device, a socket)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "other"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream"
    return "other"


def is_stream(path: Path) -> bool:
    """Whether ``path`` is a character device or a FIFO (``-o /dev/stdout``): written into as it is."""
    return _kind(path) == "stream"


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` is one skiprof wrote (or an empty one, which holds nothing to lose)."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    if not names:
        return True
    return any(m in names for m in OURS_MARKERS) or any(n.startswith(_WINDOW) for n in names)


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def refuse_overlap(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output that is one of ``inputs``, lies inside one, or holds one (before any work is done)."""
    target = _resolved(out)
    for given in inputs:
        src = _resolved(Path(given))
        if target == src:
            raise UsageError(f"{out}: the output is the input {given}; choose another -o")
        if src in target.parents:
            raise UsageError(f"{out}: the output lies inside the input {given}; choose another -o")
        if target in src.parents:
            raise UsageError(f"{out}: the output holds the input {given}; choose another -o")


def _refuse_special(out: Path, what: str) -> None:
    if os.path.ismount(out):
        raise UsageError(f"{out}: a mount point; skiprof never replaces one, choose another -o")
    kind = _kind(out)
    if kind == "other":
        raise UsageError(f"{out}: a device or socket, not a {what}; skiprof never replaces one")


def file_output(out: Path, force: bool, inputs: Iterable[Path] = ()) -> bool:
    """Check a file output before any work; True when it is a stream (a character device or FIFO) to
    write into as it is. Raises OutputExistsError or UsageError with the reason."""
    refuse_overlap(out, inputs)
    if is_stream(out):
        return True
    kind = _kind(out)
    _refuse_special(out, "file")
    if kind == "dir":
        raise UsageError(f"{out}: a folder, not a file; name a file for -o")
    if (kind == "file" or out.is_symlink()) and not force:
        raise OutputExistsError(out)
    return False


def folder_output(out: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Check a folder output before any work: it may replace only what skiprof wrote, and only with ``force``."""
    refuse_overlap(out, inputs)
    kind = _kind(out)
    if kind == "stream":
        raise UsageError(f"{out}: a device or FIFO, not a folder; skiprof never replaces one")
    _refuse_special(out, "folder")
    if kind == "missing" and not out.is_symlink():
        return
    if not force:
        raise OutputExistsError(out)
    if kind == "dir" and not out.is_symlink() and not is_ours(out):
        raise UsageError(f"{out}: a folder skiprof did not write (no meta.json or sweep.json); "
                         "-f replaces only skiprof's own output, choose another -o")


def write_file(data: str | bytes, out: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Write a file output by the rules above: a stream as it is, a file through a unique hidden sibling
    renamed into place (so a reader never sees half of it, and concurrent writers never share a name)."""
    import tempfile

    raw = data.encode() if isinstance(data, str) else data
    if file_output(out, force, inputs):
        try:
            _say_if_no_reader(out)
            with open(out, "wb") as fh:  # a device or pipe: what "write to /dev/stdout" means
                fh.write(raw)
        except OSError as exc:
            raise OutputError(out, exc) from None
        return
    tmp: str | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~umask())  # mkstemp's 0600 would hide it from the user's group
            fh.write(raw)
        file_output(out, force, inputs)  # checked again: something may have appeared meanwhile
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise OutputError(out, exc) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _say_if_no_reader(out: Path) -> None:
    """A FIFO with no reader yet makes the writer wait, as ``echo > fifo`` does: say so once, so that the wait
    is not taken for a hang."""
    import errno
    import sys

    if not stat.S_ISFIFO(out.stat().st_mode):
        return
    try:
        os.close(os.open(out, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            print(f"skiprof: waiting for a reader on the FIFO {out}", file=sys.stderr, flush=True)


def replace_folder(staging: Path, out: Path) -> None:
    """Put the finished ``staging`` folder at ``out``, replacing what is there (checked by folder_output)
    in one step where the system can swap two names, so a reader never finds ``out`` missing."""
    import shutil
    import tempfile

    os.chmod(staging, 0o777 & ~umask())  # mkdtemp made it 0700
    if not (out.exists() or out.is_symlink()):
        os.rename(staging, out)
        return
    if not out.is_symlink() and out.is_dir() and _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    try:
        os.rename(out, old / "x")
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(old / "x", out)  # the user's old output goes back where it was
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return bool(fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0)
