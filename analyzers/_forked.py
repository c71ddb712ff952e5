"""Map a function over a few items with forked children beside this process: one process per core.

For work of tens of milliseconds (the report's what-if replays), where a process pool costs what it
saves: a child is one ``os.fork`` that inherits everything already built (the replay graph, the
view), computes its share and sends back only the pickled results through a pipe. Whatever a child
does not deliver (it failed, it was killed) is computed here instead, so the answer never depends on
whether forking worked.
"""
from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from skiprof._cores import usable_cores

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["fork_map", "can_fork"]


def can_fork() -> bool:
    """Forking is safe and useful: a POSIX system, more than one core, and no other Python thread
    (a thread holding a lock at the fork would leave the child's copy of that lock held forever)."""
    return hasattr(os, "fork") and usable_cores() > 1 and threading.active_count() == 1


def fork_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]``, the items split in contiguous shares over this process and up to
    one forked child per further core. Children must not write files or print: they end with
    ``os._exit``, which flushes nothing and runs no exit handler of the parent's."""
    if len(items) < 2 or not can_fork():
        return [fn(x) for x in items]
    parts = min(usable_cores(), len(items))
    # This process takes the smaller share: it pays for the forks, and the children start at once.
    bounds = [len(items) * k // parts for k in range(parts + 1)]
    shares = [list(range(lo, hi)) for lo, hi in zip(bounds, bounds[1:])]
    children = [_start(fn, items, share) for share in shares[1:]]
    try:
        results: dict[int, R] = {i: fn(items[i]) for i in shares[0]}
    except BaseException:  # this process failed (or was interrupted): the children's work is moot
        for child in children:
            _collect(child, stop=True)
        raise
    for share, child in zip(shares[1:], children):
        got: dict[int, R] | None = _collect(child)
        for i in share:
            results[i] = got[i] if got is not None and i in got else fn(items[i])
    return [results[i] for i in range(len(items))]


def _start(fn: Callable[[T], R], items: Sequence[T], share: list[int]) -> tuple[int, int] | None:
    """Fork a child that computes ``fn`` over ``share`` and writes {index: result} to a pipe; (pid,
    read end), or None where the fork failed (the parent computes the share itself)."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:  # out of file descriptors
        return None
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: compute, send, and leave without running anything of the parent's
        code = 1
        try:
            os.close(read_fd)
            data = pickle.dumps({i: fn(items[i]) for i in share}, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _collect(child: tuple[int, int] | None, stop: bool = False) -> dict[int, R] | None:
    """The results a child sent, or None where it sent nothing usable; ``stop``: end it unread.
    Either way the child is waited for, so that none is left behind as a zombie."""
    if child is None:
        return None
    pid, read_fd = child
    if stop:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
        return None
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) or not data:
        return None
    try:
        got: dict[int, R] = pickle.loads(data)
    except Exception:  # a child cut off mid-write: compute its share here
        return None
    return got
