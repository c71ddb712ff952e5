"""Decode pieces of a ``traceEvents`` array into columns, grouped by event kind.

Events are decoded into small typed structs (fast, and unknown fields cost
nothing), sorted into groups by phase and category, and each group is turned
into numpy/Arrow columns at once. ``args`` stay raw until their group is known,
then each group decodes only the args keys it uses.
"""
from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from typing import Any, Union

import msgspec
import numpy as np

from .._strings import Coded, compact_json_texts, encode_strings, raw_json_coded

__all__ = ["Batch", "decode_piece", "HOST_CATS", "RUNTIME_CATS", "DEVICE_KINDS"]

HOST_CATS = frozenset({"cpu_op", "user_annotation", "python_function"})
RUNTIME_CATS = frozenset({"cuda_runtime", "cuda_driver", "runtime", "driver", "Runtime", "Driver"})
DEVICE_KINDS = {
    "kernel": "kernel", "Kernel": "kernel",
    "gpu_memcpy": "memcpy", "Memcpy": "memcpy",
    "gpu_memset": "memset", "Memset": "memset",
}
GPU_ANNOTATION_CATS = frozenset({"gpu_user_annotation"})
FLOW_CATS = frozenset({"ac2g"})

# Float µs timestamps at or above 2**43 µs are spaced more than 1 ns apart in a
# float64, so their decimals cannot be recovered after a float parse.
_EXACT_LIMIT = float(2**43)
#: The largest time in µs (and in ns, exact decoding) whose nanoseconds fit an int64, with room for ts + dur.
_US_LIMIT = 2.0**62 / 1000
_NS_LIMIT = 2**62
_EMPTY_ARGS = msgspec.Raw(b"{}")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
PidLike = Union[int, str]


_EMPTY_NAME = msgspec.Raw(b'""')


class _Args(msgspec.Struct, gc=False):
    """The ``args`` keys any table uses; decoding skips all other keys at no cost.

    Absent integer keys read -1, the tables' "none" value, so that a column converts to numpy in
    one call; an explicit null stays None and takes the slower path of _opt_int."""

    external_id: Union[int, None] = msgspec.field(default=-1, name="External id")
    correlation: Union[int, None] = -1
    stream: Union[int, None] = -1
    device: Union[int, None] = -1
    nbytes: Union[int, None] = msgspec.field(default=-1, name="bytes")
    input_dims: msgspec.Raw = msgspec.field(default=msgspec.Raw(b""), name="Input Dims")
    name: Union[str, None] = None
    labels: Union[str, None] = None
    process_group: Union[str, int, None] = msgspec.field(default=None, name="Process Group Name")
    # [memory] instant events (profile_memory=True)
    mem_bytes: Union[int, None] = msgspec.field(default=-1, name="Bytes")
    total_allocated: Union[int, None] = msgspec.field(default=-1, name="Total Allocated")
    total_reserved: Union[int, None] = msgspec.field(default=-1, name="Total Reserved")
    device_id: Union[int, None] = msgspec.field(default=-1, name="Device Id")
    device_type: Union[int, None] = msgspec.field(default=-1, name="Device Type")


_NO_ARGS = _Args()


# Chrome trace phases. "X" (complete events), flows, metadata and counters are read in full; any
# other phase only needs its category, so decoding skips the rest of those objects.
_FULL_PHASES = ("X", "M", "C", "i", "I")
_FLOW_PHASES = ("s", "f", "t")
_OTHER_PHASES = ("B", "E", "b", "e", "n", "S", "T", "p", "F", "P", "O", "N", "D", "R", "c", "V", "v")
KNOWN_PHASES = frozenset(_FULL_PHASES + _FLOW_PHASES + _OTHER_PHASES)


def _event_union(suffix: str, *, exact: bool, raw_args: bool) -> Any:
    """The tagged union of event structs (tag ``ph``): ts/dur as floats or exact, args typed or raw."""
    time_type: Any = Any if exact else float
    time_default: Any = None if exact else math.nan
    args_field: tuple[str, Any, Any] = ("args", msgspec.Raw, _EMPTY_ARGS) if raw_args else ("args", Union[_Args, None], None)
    full = [
        ("cat", str, ""),
        # Kept as raw JSON text: names are numbered by their bytes (raw_json_coded), never made into str.
        ("name", msgspec.Raw, _EMPTY_NAME),
        ("pid", PidLike, 0),
        ("tid", PidLike, 0),
        ("ts", time_type, time_default),
        ("dur", time_type, time_default),
        args_field,
    ]
    flow = [("cat", str, ""), ("id", Union[int, str, None], None), ("pid", PidLike, 0), ("tid", PidLike, 0),
            ("ts", time_type, time_default)]
    other = [("cat", str, "")]
    classes = []
    for phases, fields in ((_FULL_PHASES, full), (_FLOW_PHASES, flow), (_OTHER_PHASES, other)):
        for ph in phases:
            classes.append(msgspec.defstruct(f"_Ev{suffix}_{ph}", fields, tag_field="ph", tag=ph, gc=False,
                                             namespace={"PH": ph}))
    return Union[tuple(classes)]  # type: ignore[return-value]


_Event = _event_union("", exact=False, raw_args=False)
_ExactEvent = _event_union("Exact", exact=True, raw_args=False)
# Counter events carry arbitrary args keys, so pieces that may hold them keep args raw.
_RawEvent = _event_union("Raw", exact=False, raw_args=True)
_RawExactEvent = _event_union("RawExact", exact=True, raw_args=True)


class _ExactNs:
    """A float µs literal converted exactly to integer ns."""

    __slots__ = ("ns",)

    def __init__(self, text: str) -> None:
        whole, _, frac = text.partition(".")
        if "e" in text or "E" in text:
            self.ns = round(float(text) * 1000)
            return
        sign = -1 if whole.startswith("-") else 1
        self.ns = int(whole) * 1000 + sign * int((frac + "000")[:3])


_DECODERS = {
    (exact, raw): msgspec.json.Decoder(list[cls], float_hook=_ExactNs if exact else None)  # type: ignore[valid-type]
    for (exact, raw), cls in {(False, False): _Event, (True, False): _ExactEvent,
                              (False, True): _RawEvent, (True, True): _RawExactEvent}.items()
}
_ARGS_DECODER = msgspec.json.Decoder(list[_Args])
_COUNTER_DECODER = msgspec.json.Decoder(list[dict[str, Any]])
_ANY = msgspec.json.Decoder()
_EXACT_ANY = msgspec.json.Decoder(float_hook=_ExactNs)


class Batch:
    """Columns of one decoded piece, per group (host, runtime, device, gpu_ann, flow, meta, counter)."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.ignored: Counter[str] = Counter()
        self.no_ts = 0
        self.no_dur = 0
        self.pid_labels: dict[str, int] = {}
        self.exact = False
        self.raw_args = False
        self.counters_unknown = False  # decoded with typed args on trial: _group stops at a counter event


class _NeedsExact(Exception):
    """A float timestamp too large for float64 to keep its decimals: decode the piece exactly."""


class _NeedsRaw(Exception):
    """Counter events in a piece decoded with typed args: decode it again with its args raw."""


def decode_piece(text: bytes | memoryview, pid_labels: dict[str, int], counters: bool | None = None) -> Batch:
    """Decode one JSON array of events into a Batch; raises msgspec.DecodeError on bad JSON.
    ``counters``: whether the text may hold counter events (None: not known; decoded with typed args
    first, as most pieces hold none, and again with raw args where counter events turn up)."""
    try:
        return _decode_unknown(text, pid_labels) if counters is None else _decode_piece(text, pid_labels, counters)
    except msgspec.DecodeError:
        fixed = _without_non_finite(text)
        if fixed is None:
            raise
        return decode_piece(fixed, pid_labels, counters)
    except UnicodeDecodeError:
        # Text that is not UTF-8: keep what can be read, with U+FFFD for the bad bytes.
        fixed = bytes(text).decode("utf-8", "replace").encode()
        batch = _decode_piece(fixed, pid_labels, _may_hold_counters(fixed) if counters is None else counters)
        batch.ignored["invalid_utf8_pieces"] += 1
        return batch


#: A JSON string, or a bare NaN / Infinity token (which JavaScript writes and JSON does not allow).
_NON_FINITE = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
#: What such a token becomes: a number far outside any time or id, so that only its own event is spoiled
#: (counted as unreadable by _times), not the whole piece.
_SPOILED = b"1e300"


def _without_non_finite(text: bytes | memoryview) -> bytes | None:
    """The piece with each bare NaN/Infinity token outside strings replaced by _SPOILED; None when it has none
    (the piece is bad for another reason)."""
    data = bytes(text)
    if b"NaN" not in data and b"Infinity" not in data:
        return None
    found = False

    def swap(m: re.Match[bytes]) -> bytes:
        """A string stays as it is; a bare NaN/Infinity becomes _SPOILED."""
        nonlocal found
        if m.group(1) is None:
            return m.group(0)
        found = True
        return _SPOILED

    out = _NON_FINITE.sub(swap, data)
    return out if found else None


def _decode_unknown(text: bytes | memoryview, pid_labels: dict[str, int]) -> Batch:
    """A piece that may or may not hold counter events. Not searched for them first: a search reads
    the whole piece once more, a tenth of a worker's time on a large trace."""
    try:
        return _decode_piece(text, pid_labels, False, unknown=True)
    except _NeedsRaw:  # counter events, or typed args that do not fit: decode as a piece that may hold them
        return _decode_piece(text, pid_labels, _may_hold_counters(text))


def _may_hold_counters(text: bytes | memoryview) -> bool:
    """Whether the text has a counter phase in it at all (a memoryview is searched as bytes)."""
    return b'"C"' in (text if isinstance(text, bytes) else bytes(text))


def _decode_piece(text: bytes | memoryview, pid_labels: dict[str, int], raw: bool, unknown: bool = False) -> Batch:
    """Decode one piece fast (float times, typed args); fall back to a lenient decode of bad events, and to exact
    times where floats would lose nanoseconds. ``raw``: keep args raw (possibly counter events, whose args keys
    are not known in advance). ``unknown``: typed args only on trial; _NeedsRaw where they do not serve."""
    batch = Batch()
    batch.counters_unknown = unknown
    try:
        events = _DECODERS[(False, raw)].decode(text)
    except msgspec.ValidationError:
        if unknown:
            raise _NeedsRaw from None
        events = _lenient(text, exact=False, batch=batch)
        raw = True
    batch.raw_args = raw
    try:
        _group(events, batch, pid_labels)
    except _NeedsExact:
        batch = Batch()
        batch.counters_unknown = unknown
        try:
            events = _DECODERS[(True, raw)].decode(text)
        except msgspec.ValidationError:
            if unknown:
                raise _NeedsRaw from None
            events = _lenient(text, exact=True, batch=batch)
            raw = True
        batch.exact, batch.raw_args = True, raw
        _group(events, batch, pid_labels)
    batch.pid_labels = dict(pid_labels)
    return batch


def _lenient(text: bytes | memoryview, *, exact: bool, batch: Batch) -> list[Any]:
    """Decode events one by one with type coercion (args stay raw); unusable ones are counted and skipped."""
    union = _RawExactEvent if exact else _RawEvent
    raw = (_EXACT_ANY if exact else _ANY).decode(text)
    out = []
    if not isinstance(raw, list):
        raise msgspec.DecodeError("not a list of events")
    for item in raw:
        ph = item.get("ph") if isinstance(item, dict) else None
        if not isinstance(ph, str) or ph not in KNOWN_PHASES:
            batch.ignored[f"{ph if isinstance(ph, str) else type(ph).__name__}:unreadable"] += 1
            continue
        args = item.pop("args", None)
        name = item.pop("name", "")
        try:
            ev = msgspec.convert(item, union, strict=False)
        except msgspec.ValidationError:
            batch.ignored[f"{item.get('ph')}:unreadable"] += 1
            continue
        if hasattr(ev, "name"):
            ev.name = msgspec.Raw(msgspec.json.encode(name if isinstance(name, str) else str(name)))
            ev.args = msgspec.Raw(msgspec.json.encode(args)) if isinstance(args, dict) else _EMPTY_ARGS
        out.append(ev)
    return out


def _key(ph: str, cat: str) -> str:
    if ph == "X":
        if cat in HOST_CATS:
            return "host"
        if cat in RUNTIME_CATS:
            return "runtime"
        if cat in DEVICE_KINDS:
            return "device"
        if cat in GPU_ANNOTATION_CATS:
            return "gpu_ann"
    elif ph in ("s", "f", "t") and cat in FLOW_CATS:
        return "flow"
    elif ph == "M":
        return "meta"
    elif ph == "C":
        return "counter"
    elif ph in ("i", "I") and cat == "cpu_instant_event":
        return "instant"
    return "ignored"


class _Chunk:
    """Columns of the timed (``X``) events of a piece; groups take rows from them."""

    def __init__(self, events: list[Any], batch: Batch, labels: dict[str, int]) -> None:
        self.events = events
        self.raw_args = batch.raw_args
        self.pid = _ids([e.pid for e in events], labels)
        self.tid = _ids([e.tid for e in events], labels)
        self.ts, self.ts_ok, ts_bad = _times(events, "ts", batch.exact)
        self.dur, self.dur_ok, dur_bad = _times(events, "dur", batch.exact)
        self.bad = ts_bad | dur_bad  # a time out of range spoils its own event only


_TIMED = ("host", "runtime", "device", "gpu_ann", "instant")


def _pair_codes(events: list[Any]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Each event's index in the sorted list of distinct (phase, category) pairs, and that list.

    Phase (the struct's class) and category are numbered apart and combined with numpy: cheaper
    than making and hashing a tuple per event."""
    n = len(events)
    cats, types = [e.cat for e in events], list[Any](map(type, events))  # the event structs' classes (their PH)
    cat_list, type_list = list(dict.fromkeys(cats)), list(dict.fromkeys(types))
    cat_no, type_no = {c: i for i, c in enumerate(cat_list)}, {t: i for i, t in enumerate(type_list)}
    width = len(type_list)
    raw = np.fromiter(map(cat_no.__getitem__, cats), np.int64, n) * width \
        + np.fromiter(map(type_no.__getitem__, types), np.int64, n)
    # The codes are small non-negative numbers: counting them is cheaper than np.unique, whose first
    # call imports numpy.ma (15-25 ms in every worker process).
    present = np.flatnonzero(np.bincount(raw)).tolist()
    pair_of = {x: (type_list[x % width].PH, cat_list[x // width]) for x in present}
    pairs = sorted(pair_of.values())
    index = {pair: i for i, pair in enumerate(pairs)}
    remap = np.zeros(len(cat_list) * width, np.int64)
    for x, pair in pair_of.items():
        remap[x] = index[pair]
    return remap[raw], pairs


def _group(events: list[Any], batch: Batch, pid_labels: dict[str, int]) -> None:
    """Sort decoded events into groups by (phase, category) and turn each group into columns of ``batch``; count the
    rest as ignored."""
    codes, pairs = _pair_codes(events)
    if batch.counters_unknown and any(p == "C" for p, _ in pairs):
        raise _NeedsRaw  # counter args have keys of their own: typed args dropped them
    counts = np.bincount(codes, minlength=len(pairs))
    members: dict[str, list[int]] = {}
    for code, (p, c) in enumerate(pairs):
        g = _key(p, c)
        if g == "ignored":
            batch.ignored[f"{p}:{c}"] += int(counts[code])
        else:
            members.setdefault(g, []).append(code)
    timed_codes = [c for g in _TIMED for c in members.get(g, [])]
    cat_of = [c for _, c in pairs]
    if timed_codes:
        # Only timed events pay for name/pid/tid/ts/dur columns; flows and metadata are cheaper.
        xidx = np.flatnonzero(np.isin(codes, timed_codes))
        chunk = _Chunk([events[i] for i in xidx.tolist()], batch, pid_labels)
        xcodes = codes[xidx]
        for g in _TIMED:
            if g in members:
                idx = np.flatnonzero(np.isin(xcodes, members[g]))
                group_cats = (xcodes[idx], cat_of) if g in ("host", "device") else None
                batch.groups[g] = _COLUMNS[g](chunk, idx, batch, group_cats)
    for g in ("flow", "meta", "counter"):
        if g in members:
            sub = [events[i] for i in np.flatnonzero(np.isin(codes, members[g])).tolist()]
            batch.groups[g] = _OTHER[g](sub, batch, pid_labels)


def _ids(values: list[PidLike], labels: dict[str, int]) -> np.ndarray:
    """pid/tid as int64; non-numeric strings get stable negative ids recorded in ``labels``."""
    try:
        return np.fromiter(values, np.int64, len(values))
    except (ValueError, TypeError, OverflowError):
        pass
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        if isinstance(v, int) and _INT64_MIN <= v <= _INT64_MAX:
            out[i] = v
        elif isinstance(v, str) and v.lstrip("-").isdigit() and _INT64_MIN <= int(v) <= _INT64_MAX:
            out[i] = int(v)
        else:
            v = str(v)  # a label, or a number no int64 holds: a stable id from its text
            # A stable id from the text, so that pieces decoded apart agree on it.
            out[i] = labels.setdefault(v, -1 - (zlib.crc32(v.encode()) & 0x7FFFFFFF))
    return out


def _times(sub: list[Any], field: str, exact: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ns int64, valid mask, out-of-range mask) for ts or dur. A value whose nanoseconds an int64 cannot hold
    (or an infinity) is out of range: its event is unreadable, not a time of 0 or of whatever overflow leaves."""
    vals = [e.ts for e in sub] if field == "ts" else [e.dur for e in sub]
    if exact:
        ns = np.zeros(len(vals), np.int64)
        ok = np.ones(len(vals), bool)
        bad = np.zeros(len(vals), bool)
        for i, v in enumerate(vals):
            if isinstance(v, _ExactNs):
                if abs(v.ns) < _NS_LIMIT:
                    ns[i] = v.ns  # exact: never through a float
                else:
                    ok[i], bad[i] = False, True
            elif isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
                if abs(v) < _US_LIMIT:
                    ns[i] = round(v * 1000)
                else:
                    ok[i], bad[i] = False, True
            else:
                ok[i] = False
        return ns, ok, bad
    a = np.fromiter(vals, np.float64, len(vals))
    ok = ~np.isnan(a)
    bad = ok & ~(np.abs(a) < _US_LIMIT)
    ok &= ~bad
    a = np.where(ok, a, 0.0)
    whole = np.floor(a)
    if field == "ts" and np.any((np.abs(a) >= _EXACT_LIMIT) & (a != whole)):
        raise _NeedsExact
    return whole.astype(np.int64) * 1000 + np.rint((a - whole) * 1000).astype(np.int64), ok, bad


def _args(chunk: _Chunk, idx: np.ndarray) -> list[Any]:
    events = chunk.events
    if chunk.raw_args:
        return _decode_args([events[i].args for i in idx.tolist()])
    return [events[i].args or _NO_ARGS for i in idx.tolist()]


def _decode_args(raws: list[msgspec.Raw]) -> list[Any]:
    """Decode raw ``args`` objects into _Args."""
    text = b"[" + b",".join(raws) + b"]"
    try:
        return _ARGS_DECODER.decode(text)
    except msgspec.ValidationError:
        out = []
        for item in _ANY.decode(text):
            try:
                out.append(msgspec.convert(item if isinstance(item, dict) else {}, _Args, strict=False))
            except msgspec.ValidationError:
                out.append(_Args())
        return out


def _text(raw: msgspec.Raw) -> str:
    """A raw JSON value as text (strings decoded, anything else as written)."""
    value = msgspec.json.decode(raw)
    return value if isinstance(value, str) else str(value)


def _compact(raw: msgspec.Raw) -> str:
    """Shapes as compact JSON text, whatever the writer's indentation."""
    text = bytes(raw)
    if b'"' in text:
        return msgspec.json.encode(msgspec.json.decode(text)).decode()
    return text.translate(None, b" \n\t\r").decode()


def _opt_int(values: list[Any]) -> np.ndarray:
    """Optional integer args as int64; absent ones, and any an int64 cannot hold, become -1."""
    try:
        # Absent keys already read -1 (see _Args): most columns convert in one call.
        return np.fromiter(values, np.int64, len(values))
    except (TypeError, OverflowError):
        return np.array([v if v is not None and _INT64_MIN <= v <= _INT64_MAX else -1 for v in values], dtype=np.int64)


def _coded(codes: np.ndarray, values: list[str]) -> Coded:
    """A column of few values (an event's category or kind) as its codes into them."""
    return Coded(codes.astype(np.int32), encode_strings(values))


def _base(chunk: _Chunk, idx: np.ndarray, batch: Batch) -> tuple[dict[str, Any], np.ndarray]:
    """Columns every timed group shares; drops events without a timestamp, and those with a time out of
    range (counted as unreadable)."""
    bad = chunk.bad[idx]
    if bad.any():
        batch.ignored["X:unreadable"] += int(bad.sum())
        idx = idx[~bad]
    ok = chunk.ts_ok[idx]
    batch.no_dur += int((~chunk.dur_ok[idx] & ok).sum())
    if not ok.all():
        batch.no_ts += int((~ok).sum())
        idx = idx[ok]
    cols = {
        # As codes into the piece's distinct names: each name travels to the parent once per piece.
        "name": raw_json_coded([chunk.events[i].name for i in idx.tolist()]),
        "pid": chunk.pid[idx],
        "tid": chunk.tid[idx],
        "ts": chunk.ts[idx],
        "dur": np.maximum(chunk.dur[idx], 0),
    }
    return cols, idx


def _host(chunk: _Chunk, idx: np.ndarray, batch: Batch, cat: Any) -> dict[str, Any]:
    """Columns of host events (cpu ops, annotations, Python frames): the shared ones plus category, External id,
    input shapes and process group."""
    keep_all = chunk.ts_ok[idx].all()
    cols, idx2 = _base(chunk, idx, batch)
    args = _args(chunk, idx2)
    codes, cat_of = cat
    cols["cat"] = _coded(codes if keep_all else codes[chunk.ts_ok[idx]], cat_of)
    cols["external_id"] = _opt_int([a.external_id for a in args])
    dims = [a.input_dims for a in args]
    cols["input_dims"] = compact_json_texts(dims) or encode_strings([_compact(d) if d else None for d in dims])
    cols["process_group"] = encode_strings([None if a.process_group is None else str(a.process_group) for a in args])
    return cols


def _runtime(chunk: _Chunk, idx: np.ndarray, batch: Batch, cat: Any) -> dict[str, Any]:
    """Columns of runtime/driver calls: the shared ones plus External id and correlation (the link to device
    activity)."""
    cols, idx = _base(chunk, idx, batch)
    args = _args(chunk, idx)
    cols["external_id"] = _opt_int([a.external_id for a in args])
    cols["correlation"] = _opt_int([a.correlation for a in args])
    return cols


def _device(chunk: _Chunk, idx: np.ndarray, batch: Batch, cat: Any) -> dict[str, Any]:
    """Columns of device activities (kernels, memcpys, memsets): the shared ones plus kind, ids, stream, device and
    bytes."""
    keep_all = chunk.ts_ok[idx].all()
    cols, idx2 = _base(chunk, idx, batch)
    args = _args(chunk, idx2)
    codes, cat_of = cat
    cols["kind"] = _coded(codes if keep_all else codes[chunk.ts_ok[idx]], [DEVICE_KINDS.get(c, "") for c in cat_of])
    cols["external_id"] = _opt_int([a.external_id for a in args])
    cols["correlation"] = _opt_int([a.correlation for a in args])
    cols["stream"] = _opt_int([a.stream for a in args])
    cols["device"] = _opt_int([a.device for a in args])
    cols["bytes"] = _opt_int([a.nbytes for a in args])
    return cols


def _gpu_ann(chunk: _Chunk, idx: np.ndarray, batch: Batch, cat: Any) -> dict[str, Any]:
    return _base(chunk, idx, batch)[0]


_MEMORY_NAME = msgspec.Raw(b'"[memory]"')  # compared with each raw name as it is, without a copy


def _instant(chunk: _Chunk, idx: np.ndarray, batch: Batch, cat: Any) -> dict[str, Any]:
    """Allocator events (``[memory]``); any other instant event is counted as ignored."""
    mem = np.array([chunk.events[i].name == _MEMORY_NAME for i in idx.tolist()], bool)
    if (~mem).any():
        batch.ignored["i:cpu_instant_event"] += int((~mem).sum())
    idx = idx[mem]
    chunk.dur_ok[idx] = True  # an instant has no duration by design: not a missing one
    cols, idx = _base(chunk, idx, batch)
    args = _args(chunk, idx)
    cols["bytes"] = _opt_int([a.mem_bytes for a in args])
    cols["total_allocated"] = _opt_int([a.total_allocated for a in args])
    cols["total_reserved"] = _opt_int([a.total_reserved for a in args])
    cols["device"] = _opt_int([a.device_id for a in args])
    cols["device_type"] = _opt_int([a.device_type for a in args])
    return cols


def _flow(sub: list[Any], batch: Batch, labels: dict[str, int]) -> dict[str, Any]:
    """Columns of ac2g flow events (launch -> activity arrows): start or end, id, pid, tid and time."""
    ts, ok, _ = _times(sub, "ts", batch.exact)  # out of range: not ok, so dropped like a missing time
    ids = [e.id for e in sub]
    try:
        id_arr = np.fromiter(ids, np.int64, len(ids))
    except (TypeError, ValueError, OverflowError):
        as_int = [v if isinstance(v, int) else (int(v) if isinstance(v, str) and v.isdigit() else -1) for v in ids]
        id_arr = np.array([v if 0 <= v <= _INT64_MAX else -1 for v in as_int], dtype=np.int64)
    return {
        "start": np.array([e.PH == "s" for e in sub], dtype=bool),
        "id": id_arr,
        "pid": _ids([e.pid for e in sub], labels),
        "tid": _ids([e.tid for e in sub], labels),
        "ts": ts,
        "ok": ok,
    }


def _meta(sub: list[Any], batch: Batch, labels: dict[str, int]) -> dict[str, Any]:
    args = _decode_args([e.args for e in sub]) if batch.raw_args else [e.args or _NO_ARGS for e in sub]
    return {
        "name": [_text(e.name) for e in sub],
        "pid": [e.pid for e in sub],
        "tid": [e.tid for e in sub],
        "value": [a.name if a.name is not None else a.labels for a in args],
    }


def _counter(sub: list[Any], batch: Batch, labels: dict[str, int]) -> dict[str, Any]:
    """Counter (``C``) events as one row per numeric value: time, device, name and value."""
    ts, ok, _ = _times(sub, "ts", batch.exact)  # out of range: not ok, so dropped like a missing time
    args = _COUNTER_DECODER.decode(b"[" + b",".join([e.args for e in sub]) + b"]")
    rows_ts, rows_dev, rows_name, rows_val = [], [], [], []
    for e, t, good, a in zip(sub, ts, ok, args):
        name = _text(e.name)
        if not good:
            batch.no_ts += 1
            continue
        device = a.get("device", -1)
        for k, v in a.items():
            if k == "device" or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            rows_ts.append(t)
            rows_dev.append(device if isinstance(device, int) else -1)
            rows_name.append(k if name == "" or name.startswith("skiprof.") else f"{name}.{k}")
            rows_val.append(float(v))
    return {
        "ts": np.array(rows_ts, np.int64),
        "device": np.array(rows_dev, np.int64),
        "name": encode_strings(rows_name),
        "value": np.array(rows_val, np.float64),
    }


_OTHER = {"flow": _flow, "meta": _meta, "counter": _counter}


_COLUMNS = {
    "host": _host,
    "runtime": _runtime,
    "device": _device,
    "gpu_ann": _gpu_ann,
    "instant": _instant,
}
