"""Stream a Kineto/Chrome trace file as decoded chunks of events.

A trace is one JSON object whose ``traceEvents`` array holds almost all of its
bytes. Decoding it whole needs the text and every Python object in memory at
once, so instead the decompressed text is cut between events into pieces of a
few MB and each piece is decoded on its own. A cut is only trusted when the
piece before it decodes as a list of events: a cut inside an object or string
leaves unbalanced brackets, so a wrong cut can never decode.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec

from .._errors import BadTraceError

__all__ = ["TraceText", "read_chunks", "uncompressed_size", "read_header"]

_READ = 1 << 17  # compressed bytes read per step; inflates to a few MB
_PIECE = 2 << 20  # decompressed bytes decoded at a time: small pieces keep the peak memory low
_HEADER_LIMIT = 64 << 20  # a header this large means the file is not a trace
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_CUT = re.compile(rb"\}\s*,\s*\{")
_ARRAY_END = re.compile(rb"\]")
# What may follow the events array: more fields of the object, or its end (a bare array: nothing).
_TAIL_START = re.compile(rb"\s*[,}]")
_NOTHING_LEFT = re.compile(rb"\s*\Z")
#: The end of the events array is looked for among the last ``_TAIL_TRIES`` "]" that could close it,
#: within ``_TAIL_BYTES`` of the end: fields after the array are a few short ones in every writer
#: seen, and a corrupt file must fail in linear time, not try every "]" of its input shapes.
_TAIL_TRIES = 256
_TAIL_BYTES = 16 << 20


@dataclass
class TraceText:
    """Top-level fields of the trace besides ``traceEvents`` (deviceProperties, distributedInfo, ...)."""

    fields: dict[str, Any] = field(default_factory=dict)
    bytes_read: int = 0


def uncompressed_size(path: Path) -> int:
    """Size of the text: the gzip trailer's ISIZE (mod 4 GiB), or the file size for plain JSON."""
    import os

    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b" or size < 18:
            return size
        fh.seek(-4, os.SEEK_END)
        return int.from_bytes(fh.read(4), "little") or size


def _fast_inflate() -> tuple[Any, tuple[type[Exception], ...]]:
    """ISA-L's inflate where its wheel is installed (the same output as zlib's, about three times
    faster), else zlib; with the errors either raises on damaged data."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - an install without the isal wheel
        return zlib, (zlib.error,)
    return isal_zlib, (zlib.error, cast("type[Exception]", isal_zlib.error))


_INFLATE, _INFLATE_ERRORS = _fast_inflate()


def _inflater() -> Any:
    """A decompressor for one gzip member (wbits 31: the gzip wrapper)."""
    return _INFLATE.decompressobj(31)


def _raw_bytes(path: Path) -> Iterator[bytes]:
    """Yield the decompressed bytes of a plain or gzip file, raising BadTraceError on damage."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the error cases
    except FileNotFoundError:
        raise BadTraceError(path, "no such file") from None
    except IsADirectoryError:
        raise BadTraceError(path, "is a folder, not a trace file") from None
    except OSError as exc:
        raise BadTraceError(path, f"cannot be read ({exc.strerror})") from None
    with fh:
        first = fh.read(_READ)
        if not first:
            raise BadTraceError(path, "empty file")
        if first[:2] != b"\x1f\x8b":
            while first:
                yield first
                first = fh.read(_READ)
            return
        # wbits=31: gzip wrapper; a new decompressor per member so concatenated gzip works too.
        inflater = _inflater()
        data = first
        while True:
            try:
                out = inflater.decompress(data)
            except _INFLATE_ERRORS as exc:
                raise BadTraceError(path, f"corrupt gzip data ({exc})") from None
            if out:
                yield out
            if inflater.eof:
                rest = inflater.unused_data
                if rest.strip(b"\x00"):
                    inflater = _inflater()
                    data = rest
                    continue
                data = fh.read(_READ)
                if data.strip(b"\x00"):
                    inflater = _inflater()
                    continue
                return
            data = fh.read(_READ)
            if not data:
                raise BadTraceError(path, "truncated gzip file (the compressed stream ends early)")


def _decode_header(path: Path, text: bytes) -> dict[str, Any]:
    """Decode the part of the top-level object that precedes ``"traceEvents"``."""
    body = text.rstrip()
    if body.endswith(b","):
        body = body[:-1]
    try:
        value = msgspec.json.decode(body + b"}")
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadTraceError(path, f"not a valid JSON trace ({exc})") from None
    if not isinstance(value, dict):
        raise BadTraceError(path, "not a JSON object")
    return value


def _decode_tail(text: bytes) -> dict[str, Any] | None:
    """Decode what follows the events array: ``, "k": v ... }`` or ``}``; None when it is not that."""
    body = text.strip()
    if body == b"}":
        return {}
    if not body.startswith(b","):
        return None
    try:
        value = msgspec.json.decode(b"{" + body[1:])
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def read_chunks(
    path: Path, decode: Any, info: TraceText, defer: Any = None, piece_size: int | None = None
) -> Iterator[Any]:
    """Yield ``decode(piece)`` for consecutive pieces of the events array.

    ``decode`` receives the bytes of a JSON array of events and raises
    ``msgspec.DecodeError`` when they are not one. Fields outside the array are
    stored in ``info.fields``. With ``defer``, pieces before the last are cut
    at the first boundary the pattern finds, unverified, and handed to
    ``defer`` without the brackets, as a memoryview that is only valid during
    the call (it decodes them elsewhere and must report a bad cut itself);
    their places in the output are None.
    """
    size = piece_size or _PIECE
    buf = b""
    rest = 0  # where buf's uncut text begins: cut pieces are dropped when buf is next joined
    parts: list[bytes] = []  # inflated text not yet joined to buf: joining once per piece, not per read
    waiting = 0
    phase = "start"  # start -> events -> done
    bare_array = False
    cutting = True
    for piece in _raw_bytes(path):
        info.bytes_read += len(piece)
        if phase == "events":
            parts.append(piece)
            waiting += len(piece)
            if not cutting or len(buf) - rest + waiting <= size:
                continue
            buf, rest, parts, waiting = _joined(buf, rest, parts), 0, [], 0
        else:
            buf = buf + piece if buf else piece
            buf, phase, bare_array = _start(path, buf, info)
            if phase == "start":
                continue
        rest, cutting = yield from _pieces(buf, size, decode, defer)
    buf = _joined(buf, rest, parts)
    if defer is not None and phase == "events":
        buf = yield from _defer_most(buf, size, defer)
    if phase == "start":
        if not buf.strip():
            raise BadTraceError(path, "empty file")
        _finish_header_only(path, buf, info)
        return
    result, tail = _finish(path, buf, decode, bare_array)
    if tail:
        info.fields.update(tail)
    if result is not None:
        yield result


def _joined(buf: bytes, rest: int, parts: list[bytes]) -> bytes:
    """``buf[rest:]`` followed by ``parts``, as one bytes object: the rest is copied once, into the
    result, not sliced out first."""
    if not parts:
        return buf[rest:] if rest else buf
    return b"".join([memoryview(buf)[rest:], *parts])


def _pieces(buf: bytes, size: int, decode: Any, defer: Any, keep: int | None = None) -> Generator[Any, None, tuple[int, bool]]:
    """Cut (and decode, or hand to ``defer``) pieces of ``size`` off the front of ``buf`` while more
    than ``keep`` (default ``size``) is left, yielding each result; returns where the uncut rest
    begins, and whether cutting should go on."""
    start = 0
    while len(buf) - start > (size if keep is None else keep):
        try:
            done = _cut_only(buf, start, size, defer) if defer is not None else _cut_and_decode(buf, start, size, decode)
        except _Uncuttable:
            # Retrying the same boundaries as the file grows would cost time quadratic in its size;
            # the rest is read whole and decoded once at the end, which names the problem.
            return start, False
        if done is None:
            break  # no safe cut yet: read more
        result, start = done
        yield result
    return start, True


def _defer_most(buf: bytes, size: int, defer: Any) -> Generator[Any, None, bytes]:
    """At the end of the file, hand all but a short tail to ``defer`` in quarter pieces (yielding each
    result), so that the part decoded here, where the end of the array is found by trying, is
    short; returns that tail."""
    start, _ = yield from _pieces(buf, size // 4, None, defer, keep=size // 2)
    return buf[start:] if start else buf


def _start(path: Path, buf: bytes, info: TraceText) -> tuple[bytes, str, bool]:
    """Find where the events array begins: (text after its "[", phase, whether the file is a bare array).

    Returns phase "start" (and the text so far) until the opening is in ``buf``.
    """
    buf = buf.lstrip()
    if buf.startswith(b"\xef\xbb\xbf"):
        buf = buf[3:].lstrip()
    if not buf:
        return buf, "start", False
    if buf[:1] == b"[":
        return buf[1:], "events", True
    if buf[:1] != b"{":
        raise BadTraceError(path, "not a JSON trace (expected '{' or '[' at the start)")
    m = _EVENTS_KEY.search(buf)
    if m is None:
        if len(buf) > _HEADER_LIMIT:
            raise BadTraceError(path, 'no "traceEvents" array found')
        return buf, "start", False
    info.fields.update(_decode_header(path, buf[: m.start()]))
    return buf[m.end():], "events", False


def _finish_header_only(path: Path, buf: bytes, info: TraceText) -> None:
    """A JSON document without a traceEvents array: say which."""
    try:
        value = msgspec.json.decode(buf)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadTraceError(path, f"not a valid JSON trace ({exc})") from None
    if isinstance(value, dict):
        raise BadTraceError(path, 'JSON object without a "traceEvents" array')
    raise BadTraceError(path, "JSON value is not a trace (expected an object with traceEvents)")


def _cut_only(buf: bytes, start: int, piece: int, defer: Any) -> tuple[Any, int] | None:
    """Hand the events ``buf[start:cut]`` (without the array's brackets: the receiver adds them, in
    its own process) to ``defer`` for the first boundary past one piece's length, as a view of
    ``buf`` (valid during the call: ``defer`` must copy or write it before it returns)."""
    m = _CUT.search(buf, start + piece)
    if m is None:
        return None
    with memoryview(buf) as view:
        return defer(view[start: m.start() + 1]), m.end() - 1


class _Uncuttable(Exception):
    """Sixteen event boundaries in a row after a piece's length do not decode: the text before them
    is corrupt (or holds no safe cut); more text would not change that."""


def _cut_and_decode(buf: bytes, start: int, piece: int, decode: Any) -> tuple[Any, int] | None:
    """Decode ``buf[start:cut]`` for the first event boundary past one piece's length.

    Returns the decoded piece and the offset of the next event, or None when the boundaries in
    ``buf`` ran out before one decoded (more text is needed); raises _Uncuttable after 16 that do
    not decode.
    """
    tries = 0
    view = memoryview(buf)
    for m in _CUT.finditer(buf, start + piece):
        try:
            # One copy of the piece, brackets included (a slice and then a concatenation made two).
            result = decode(b"".join((b"[", view[start: m.start() + 1], b"]")))
        except msgspec.DecodeError:
            tries += 1
            if tries >= 16:
                raise _Uncuttable from None
            continue
        return result, m.end() - 1
    return None


def _finish(path: Path, buf: bytes, decode: Any, bare_array: bool) -> tuple[Any, dict[str, Any] | None]:
    """Decode the last events and the fields after the array, at end of file."""
    ends = [m.start() for m in _ARRAY_END.finditer(buf, max(0, len(buf) - _TAIL_BYTES))]
    tried = examined = 0
    problem = ""
    follows = _NOTHING_LEFT if bare_array else _TAIL_START
    for pos in reversed(ends):
        if follows.match(buf, pos + 1) is None:  # cheap: most "]" sit inside events
            continue
        examined += 1
        if examined > _TAIL_TRIES:
            break
        tail: dict[str, Any] | None = {} if bare_array else _decode_tail(buf[pos + 1:])
        if tail is None:
            continue
        tried += 1
        if tried > 64:
            break
        head = buf[:pos].strip()
        if head.endswith(b","):
            head = head[:-1]  # a trailing comma, as some writers leave
        try:
            return decode(b"[" + head + b"]"), tail
        except msgspec.DecodeError as exc:
            # Its byte offset counts from the start of this piece, not of the file: left out.
            problem = problem or re.sub(r"\s*\(byte \d+\)", "", str(exc))
            continue
    if problem:
        raise BadTraceError(path, f"corrupt JSON in the traceEvents array ({problem})")
    raise BadTraceError(path, "truncated or corrupt JSON (the traceEvents array never closes)")


def read_header(path: Path, limit: int = 1 << 20) -> dict[str, Any]:
    """The top-level fields written before ``traceEvents`` (Kineto writes distributedInfo there),
    read from the first bytes only; {} when the events come first or the head is not an object."""
    buf = b""
    for piece in _raw_bytes(path):
        buf += piece
        m = _EVENTS_KEY.search(buf)
        if m is not None:
            head = buf[: m.start()].lstrip().lstrip(b"\xef\xbb\xbf").lstrip()
            if not head.startswith(b"{"):
                return {}
            try:
                return _decode_header(path, head)
            except BadTraceError:
                return {}
        if len(buf) > limit:
            return {}
    return {}
