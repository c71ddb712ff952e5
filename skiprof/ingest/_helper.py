"""A second process that reads a large trace and shares the decoding with this one.

The helper inflates and cuts the file. Whenever this process asks for work it
hands the next piece over through a pipe; otherwise it decodes the piece
itself. So the split balances itself, and the helper can be started before
this process has imported its heavier modules (``start_early``): it simply
decodes everything until this process is ready. The helper's decoded columns
come back once, pickled, at the end.
"""
from __future__ import annotations

import mmap
import os
import pickle
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Helper", "spawn", "start_early", "take", "shutdown", "IMPORT_VALUE_OPTIONS"]

#: Options of ``skiprof import`` that take a value (start_early must skip their values).
IMPORT_VALUE_OPTIONS = ("-o", "--output", "-j", "--jobs")


_PIECE, _SLOT, _END = b"P", b"S", b"E"
_SLOTS = 2
_SLOT_BYTES = 64 << 20  # address space only: pages are committed as pieces are written


def _read_exact(fd: int, n: int) -> bytes | None:
    """Exactly ``n`` bytes from ``fd``; None at end of file."""
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 22))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:1 << 22]):]


class Helper:
    """Handle on a forked helper that reads ``path`` and shares its pieces out."""

    def __init__(self, path: Path, pid: int, req_w: int, data_r: int, slots: mmap.mmap) -> None:
        self.path = path
        self.pid = pid
        self.req_w = req_w
        self.data_r = data_r
        self.slots = slots

    def run(self, info: Any, progress: Callable[[int], None] | None = None) -> list[Any] | None:
        """Decode the pieces the helper hands over until it is done; all batches in order, or None on failure."""
        from ._events import decode_piece

        local: list[tuple[int, Any]] = []
        # Every slot starts free. A slot is handed back as soon as its piece is copied out, so
        # the helper can refill it while this process decodes; it decodes pieces itself only
        # when both slots are full, i.e. when this process has work queued.
        self._ask(bytes(range(_SLOTS)))
        while True:
            head = _read_exact(self.data_r, 9)
            if head is None:
                return None  # the helper died
            kind, size = head[:1], int.from_bytes(head[1:], "little")
            payload = _read_exact(self.data_r, size)
            if payload is None:
                return None
            if kind == _END:
                done = pickle.loads(payload)
                if done is None:
                    return None
                theirs, fields, bytes_read = done
                info.fields.update(fields)
                info.bytes_read = bytes_read
                return [b for _, b in sorted(local + theirs, key=lambda pair: pair[0])]
            index = int.from_bytes(payload[:8], "little")
            if kind == _SLOT:
                slot, length = payload[8], int.from_bytes(payload[9:17], "little")
                text = self.slots[slot * _SLOT_BYTES: slot * _SLOT_BYTES + length]
                self._ask(bytes([slot]))
            else:
                text = payload[8:]
                self._ask(b"\xff")  # a token that frees no slot, only asks for more
            local.append((index, decode_piece(text, {})))  # raises msgspec.DecodeError on a wrong cut
            if progress is not None:
                progress(index)

    def _ask(self, tokens: bytes) -> None:
        try:
            os.write(self.req_w, tokens)
        except BrokenPipeError:  # the helper has read everything already; its results are on the way
            pass

    def kill(self) -> None:
        """Stop the helper and reap it (idempotent)."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0
        for fd in (self.req_w, self.data_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.req_w = self.data_r = -1
        if not self.slots.closed:
            self.slots.close()


def _serve(path: Path, req_r: int, data_w: int, slots: mmap.mmap) -> None:
    """In the helper: read and cut ``path``; hand a piece over for each request, decode the rest here."""
    from . import _PARALLEL_PIECE
    from ._events import decode_piece
    from ._stream import TraceText, read_chunks

    os.set_blocking(req_r, False)
    free: list[int] = []  # slots the other process has emptied
    asks = [0]  # requests without a slot (after a piece too large for one)
    mine: list[tuple[int, Any]] = []
    index = [0]

    def piece(text: bytes) -> None:
        i = index[0]
        index[0] += 1
        try:
            for b in os.read(req_r, 4096):
                if b == 0xFF:
                    asks[0] += 1
                else:
                    free.append(b)
        except BlockingIOError:
            pass
        if free and len(text) <= _SLOT_BYTES:  # the other process has room: give it this piece
            slot = free.pop()
            slots[slot * _SLOT_BYTES: slot * _SLOT_BYTES + len(text)] = text
            body = i.to_bytes(8, "little") + bytes([slot]) + len(text).to_bytes(8, "little")
            _write_all(data_w, _SLOT + len(body).to_bytes(8, "little") + body)
        elif (free or asks[0]) and len(text) > _SLOT_BYTES:  # too large for a slot: through the pipe
            if asks[0]:
                asks[0] -= 1
            body = i.to_bytes(8, "little") + text
            _write_all(data_w, _PIECE + len(body).to_bytes(8, "little"))
            _write_all(data_w, body)
        else:
            mine.append((i, decode_piece(text, {})))

    def last(text: bytes) -> None:
        # The end of the array is found by trying candidates, so the last piece is always decoded
        # here: a candidate that fails must raise in this process, not reach the other one.
        mine.append((index[0], decode_piece(text, {})))

    info = TraceText()
    try:
        for _ in read_chunks(path, last, info, defer=piece, piece_size=_PARALLEL_PIECE):
            pass
        result: Any = (mine, info.fields, info.bytes_read)
    except Exception:  # a wrong cut or unreadable data: the parent redoes everything itself
        result = None
    data = pickle.dumps(result, protocol=5)
    _write_all(data_w, _END + len(data).to_bytes(8, "little"))
    _write_all(data_w, data)


def _widen(fd: int) -> None:
    """Grow a pipe's buffer to the system maximum (Linux): a 64 KiB pipe moves a piece in dozens
    of round trips between the processes, a 1 MiB one in two."""
    try:
        import fcntl

        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), min(limit, 4 << 20))
    except (OSError, ValueError, ImportError):
        pass  # not Linux, or not allowed: the default buffer still works


def spawn(path: Path) -> Helper | None:
    """Fork a helper for ``path``; None where fork is unavailable."""
    if not hasattr(os, "fork"):
        return None
    req_r, req_w = os.pipe()
    data_r, data_w = os.pipe()
    _widen(data_w)
    slots = mmap.mmap(-1, _SLOTS * _SLOT_BYTES)  # anonymous and shared with the child
    pid = os.fork()
    if pid == 0:  # the helper
        code = 1
        try:
            os.close(req_w)
            os.close(data_r)
            _serve(path, req_r, data_w, slots)
            code = 0
        finally:
            os._exit(code)
    os.close(req_r)
    os.close(data_w)
    return Helper(path, pid, req_w, data_r, slots)


_early: Helper | None = None


def start_early(argv: list[str]) -> None:
    """For ``skiprof import ONE_FILE``, fork the helper before the CLI loads its heavy modules."""
    from . import _worth_parallel

    global _early
    if not argv or argv[0] != "import":
        return
    positional, jobs, args, i = [], "2", argv[1:], 0
    while i < len(args):
        a = args[i]
        if a in IMPORT_VALUE_OPTIONS:
            if a in ("-j", "--jobs") and i + 1 < len(args):
                jobs = args[i + 1]
            i += 2
            continue
        if a.startswith("--jobs="):
            jobs = a.split("=", 1)[1]
        elif a == "--":
            positional += args[i + 1:]
            break
        elif not a.startswith("-"):
            positional.append(a)
        i += 1
    if jobs != "2" or len(positional) != 1:
        return
    path = Path(positional[0])
    try:
        if not path.is_file() or not _worth_parallel(path):
            return
    except OSError:
        return
    _early = spawn(path)


def take(path: Path) -> Helper | None:
    """The early helper if it works on ``path`` (it is then the caller's); any other one is stopped."""
    global _early
    h, _early = _early, None
    if h is not None and h.path.resolve() != path.resolve():
        h.kill()
        return None
    return h


def shutdown() -> None:
    """Stop an early helper nobody took (the command failed or imported something else)."""
    global _early
    if _early is not None:
        _early.kill()
        _early = None
