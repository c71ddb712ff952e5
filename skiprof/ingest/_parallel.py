"""Decode one large trace with a standard process pool.

This process inflates the file and cuts the text between events (skiprof/ingest/_stream.py);
each piece goes to a worker of a ``concurrent.futures`` pool, which decodes it into columns. Pieces
go out through slots of a shared memory map made before the workers fork: this process copies a
piece into a free slot once and the worker decodes it in place (a file in /dev/shm cost a write
here and a read there, each faulting in fresh pages: about 0.3 s of CPU time on the 10x trace).
Columns come back pickled into the slot's result region of the same map (through a file in /dev/shm
they cost this process about 0.1 s more on the 10x trace, where it is the busiest). Only offsets and
file names go through the pool's pipe: megabytes sent through the pipe are pickled, copied twice by
the kernel and unpickled, and the pool's feeder and result threads compete with this process's
inflating for the interpreter (measured on the 10x trace: the pipe cost about 0.9 s of a worker's
time). At most two pieces per worker are in flight, so memory grows with the number of workers, not
with the file. A piece too long for its slot (one huge event), or columns too large for their
region, go through a file in a temporary folder (in RAM, /dev/shm, where there is one). A cut made
in the wrong place cannot decode; then the whole file is decoded again in this process.
"""
from __future__ import annotations

import mmap
import os
import pickle
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from ._stream import TraceText, read_chunks

__all__ = ["decode_parallel", "PIECE_BYTES", "MIN_BYTES"]

#: Decompressed bytes per piece handed to a worker.
PIECE_BYTES = 4 << 20
#: Below this many decompressed bytes a pool costs more than it saves.
MIN_BYTES = 16 << 20


def _decode(text: bytes) -> Any:
    from ._events import decode_piece

    return decode_piece(text, {})


#: Room for one piece in a slot of the shared map: the piece's length is where the first event
#: boundary after PIECE_BYTES falls, so a margin for that event, then the array's brackets. The
#: map counts in this process's memory (it writes every slot), so the margins are kept small.
SLOT_BYTES = PIECE_BYTES + (64 << 10)
#: Room for a piece's pickled columns (0.6 of the text's size at most on the real traces).
RESULT_BYTES = PIECE_BYTES * 3 // 4
_SLOTS: list[mmap.mmap] = []  # the map a forked worker reads pieces from (inherited, never pickled)

#: Where a piece's columns are: a file (path), or (None, offset, length) in the shared map.
Result = tuple[str | None, int, int]


class _Full(Exception):
    """The pickled columns do not fit their region of the shared map."""


class _RegionWriter:
    """A file-like ``write`` into ``[at, end)`` of the shared map, for pickle.dump."""

    def __init__(self, slots: mmap.mmap, at: int, end: int) -> None:
        self.slots, self.at, self.end = slots, at, end

    def write(self, data: Any) -> int:
        """Copy ``data`` (bytes, or a PickleBuffer of protocol 5) to the next place of the region."""
        view = data.raw() if isinstance(data, pickle.PickleBuffer) else memoryview(data)
        n = view.nbytes
        if self.at + n > self.end:
            raise _Full
        self.slots[self.at: self.at + n] = view
        self.at += n
        return n


def _decode_slot(offset: int, length: int, result_at: int, path: str) -> Result:
    """In a worker: decode the piece at ``offset`` of the shared map in place and leave its columns at
    ``result_at`` of the map, or in the file ``path`` when they do not fit there."""
    from ._events import decode_piece

    slots = _SLOTS[0]
    batch = decode_piece(memoryview(slots)[offset: offset + length], {})
    out = _RegionWriter(slots, result_at, result_at + RESULT_BYTES)
    try:
        pickle.dump(batch, out, protocol=5)
        return None, result_at, out.at - result_at
    except _Full:
        with open(path, "wb") as fh:
            pickle.dump(batch, fh, protocol=5)
        return path, 0, 0


def _write_piece(events: bytes | memoryview, path: str) -> None:
    """Leave a piece (events without the array's brackets) in ``path`` as a JSON array."""
    with open(path, "wb") as fh:
        fh.write(b"[")
        fh.write(events)
        fh.write(b"]")


def _decode_file(source: str, path: str) -> Result:
    """In a worker: decode the piece in ``source`` (removed once read) and leave its columns in ``path``."""
    with open(source, "rb") as fh:
        text = fh.read()
    os.unlink(source)
    batch = _decode(text)
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=5)
    return path, 0, 0


def _load(result: Result) -> Any:
    """A piece's columns, from the shared map or from their file (removed once read)."""
    path, at, length = result
    if path is None:
        # Unpickling copies every array out of the map, so the region is free again after this.
        return pickle.loads(memoryview(_SLOTS[0])[at: at + length])
    with open(path, "rb") as fh:
        batch = pickle.load(fh)
    os.unlink(path)
    return batch


def _scratch(jobs: int) -> str | None:
    """A folder in RAM for the pieces and the workers' results, where the system has one with room for
    all that can be in flight (containers often mount a small /dev/shm); else the default temporary
    folder (None)."""
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    # Up to two pieces per worker in flight, each as text and as columns, with room to spare.
    need = 2 * jobs * PIECE_BYTES * 4
    return shm if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize >= need else None


def decode_parallel(path: Path, info: TraceText, jobs: int,
                    progress: Callable[[int], None] | None = None) -> list[Any] | None:
    """Every piece's Batch in file order, decoded by ``jobs`` workers; None if a cut was wrong, or if
    the scratch folder failed (full, say), where the caller decodes in its own process instead:
    the output may well have room that the scratch folder lacks."""
    try:
        return _decode_parallel(path, info, jobs, progress)
    except OSError:
        return None


def _decode_parallel(path: Path, info: TraceText, jobs: int, progress: Callable[[int], None] | None) -> list[Any] | None:
    """Cut the file into pieces, decode them in a process pool through files in the scratch folder, and collect the
    batches in file order."""
    import multiprocessing

    from . import _events  # noqa: F401  - loaded before the fork, so workers start ready

    pending: deque[Future[Any]] = deque()
    done: list[Any] = []
    ctx = multiprocessing.get_context("fork")
    in_flight = 2 * jobs  # bounded: never more than two pieces per worker in memory
    # Made before the pool forks its workers, so that they share it.
    _SLOTS[:] = [mmap.mmap(-1, in_flight * (SLOT_BYTES + RESULT_BYTES))]
    with tempfile.TemporaryDirectory(prefix="skiprof-", dir=_scratch(jobs)) as tmp, \
            ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:

        def submit(text: memoryview) -> None:
            """Hand one piece to the pool, first collecting finished results while too many are in flight."""
            while len(pending) >= in_flight:
                done.append(_load(pending.popleft().result()))
            # Piece k's slot was last used by piece k - in_flight, whose result is collected by now.
            k = len(done) + len(pending)
            name = os.path.join(tmp, str(k))
            if len(text) + 2 > SLOT_BYTES:
                _write_piece(text, name + ".json")
                pending.append(pool.submit(_decode_file, name + ".json", name + ".pkl"))
                return
            slots, at = _SLOTS[0], (k % in_flight) * SLOT_BYTES
            slots[at: at + 1] = b"["
            slots[at + 1: at + 1 + len(text)] = text
            slots[at + 1 + len(text): at + 2 + len(text)] = b"]"
            result_at = in_flight * SLOT_BYTES + (k % in_flight) * RESULT_BYTES
            pending.append(pool.submit(_decode_slot, at, len(text) + 2, result_at, name + ".pkl"))

        try:
            # Deferred pieces yield None; the last piece is decoded here (the end of the array is
            # found by trying candidates, and a failed try must raise in this process).
            for item in read_chunks(path, _decode, info, defer=submit, piece_size=PIECE_BYTES):
                if progress is not None:
                    progress(info.bytes_read)
                if item is not None:
                    # The file is read: while the workers finish their last pieces, this process
                    # loads what building the tables needs (pyarrow, 0.1 s) instead of waiting.
                    from . import _build  # noqa: F401
                    while pending:
                        done.append(_load(pending.popleft().result()))
                    done.append(item)
        except (msgspec.DecodeError, OSError):
            for f in pending:
                f.cancel()
            return None
        finally:
            _SLOTS.clear()  # the map itself goes when the workers are done with it
    return done
