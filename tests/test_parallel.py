"""Decoding with a process pool gives exactly the serial result, and falls back when a cut is wrong;
a folder of ranks is ingested by parallel workers into one dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skiprof
import skiprof.ingest as ingest
from conftest import TRACES, needs_shared
from kineto import kernel, op, runtime, write_trace
from skiprof._strings import Coded, Strings
from skiprof.ingest._stream import TraceText


def _tables(path: Path, jobs: int):
    rt, _ = ingest.ingest_file(path, jobs=jobs)
    return rt


def _events(n: int, odd_name: str | None = None) -> list[dict]:
    events = []
    for i in range(n):
        t0 = i * 100
        name = odd_name or f"aten::op{i % 5}"
        events += [op(name, t0, 50), runtime("cudaLaunchKernel", t0 + 10, 5, 500 + i), kernel(f"k{i % 3}", t0 + 30, 10, 500 + i)]
    return events


@pytest.mark.parametrize("odd_name", [None, "weird}, {name"])
def test_parallel_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd_name: str | None) -> None:
    from skiprof.ingest import _parallel

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    src = write_trace(tmp_path / "t.json", _events(120, odd_name))
    serial = _tables(src, 1)
    outcomes = []
    real = _parallel.decode_parallel

    def spy(*a, **k):
        res = real(*a, **k)
        outcomes.append(res is not None)
        return res

    monkeypatch.setattr(_parallel, "decode_parallel", spy)
    for piece in range(1500, 2100, 97):  # cuts fall at many offsets within the events
        monkeypatch.setattr(_parallel, "PIECE_BYTES", piece)
        parallel = _tables(src, 2)
        for name in ("ops", "launches", "kernels"):
            assert serial.tables[name].equals(parallel.tables[name]), (name, piece)
        assert parallel.stats["linked_to_op"] == 120
    if odd_name:
        # The boundary pattern inside a name is a wrong cut: those attempts give up, the rest succeed.
        assert False in outcomes and True in outcomes
        assert set(parallel.tables["ops"]["name"].to_pylist()) == {odd_name}
    else:
        assert all(outcomes)


def test_small_ram_folder_falls_back_to_the_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A /dev/shm without room for the pieces in flight (a container's 64 MB, say) is not used: the
    pieces go through the default temporary folder and the result is the same."""
    import os
    import tempfile

    from skiprof.ingest import _parallel

    class Tiny:
        f_bavail, f_frsize = 1, 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Tiny())
    assert _parallel._scratch(2) is None
    used: list[str | None] = []
    real = tempfile.TemporaryDirectory

    def spy(*a, **k):
        used.append(k.get("dir"))
        return real(*a, **k)

    monkeypatch.setattr(_parallel.tempfile, "TemporaryDirectory", spy)
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "PIECE_BYTES", 4096)
    src = write_trace(tmp_path / "t.json", _events(200))
    assert _tables(src, 2).tables["ops"].equals(_tables(src, 1).tables["ops"])
    assert used == [None]


def _disk_full(*args: object) -> None:
    """A worker's task that finds the scratch folder full (module level: the pool pickles it by name)."""
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1]))


def test_full_scratch_folder_falls_back_to_decoding_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scratch folder filling up mid-import (ENOSPC on a piece's columns) is not the output's problem: the
    file is decoded in this process instead, with the same result."""
    from skiprof.ingest import _parallel

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "PIECE_BYTES", 4096)
    src = write_trace(tmp_path / "t.json", _events(200))
    serial = _tables(src, 1)
    # A worker that cannot write a piece's columns (the pieces themselves go through shared memory).
    monkeypatch.setattr(_parallel, "_decode_slot", _disk_full)
    assert _parallel.decode_parallel(src, TraceText(), 2) is None
    assert _tables(src, 2).tables["ops"].equals(serial.tables["ops"])


def test_pieces_longer_than_a_slot_go_through_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A piece too long for its slot of the shared map (a huge event past the piece's length) goes
    through a file in the scratch folder; the others through the map; the tables are the serial ones."""
    from skiprof.ingest import _parallel

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "PIECE_BYTES", 4096)
    events = _events(200)
    events[300]["args"] = {"Input Dims": [[7] * 3000]}  # an op of about 9 kB: its piece cannot fit a slot
    src = write_trace(tmp_path / "t.json", events)
    serial = _tables(src, 1)
    monkeypatch.setattr(_parallel, "SLOT_BYTES", 6000)
    through_files: list[int] = []
    real = _parallel._write_piece

    def spy(events: memoryview, path: str) -> None:
        through_files.append(len(events))
        real(events, path)

    monkeypatch.setattr(_parallel, "_write_piece", spy)
    assert _parallel.decode_parallel(src, TraceText(), 2) is not None
    parallel = _tables(src, 2)
    for name in ("ops", "launches", "kernels"):
        assert serial.tables[name].equals(parallel.tables[name]), name
    assert through_files and all(n + 2 > 6000 for n in through_files), through_files


@needs_shared
def test_parallel_equals_serial_on_real_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from skiprof.ingest import _parallel

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    src = TRACES / "hta_v100_resnet_ns_resolution.json.gz"
    serial, parallel = _tables(src, 1), _tables(src, 2)
    for name in ("ops", "launches", "kernels", "regions"):
        assert serial.tables[name].equals(parallel.tables[name]), name


def test_ranks_in_parallel_workers(tmp_path: Path) -> None:
    """Four rank files, two workers: one dataset, each rank's partition identical to its own import."""
    from skiprof.commands.import_ import run_import

    (tmp_path / "in").mkdir()
    for r in range(4):
        write_trace(tmp_path / "in" / f"rank{r}.json", _events(10 + r), distributedInfo={"rank": r, "world_size": 4})
    s = run_import([tmp_path / "in"], tmp_path / "all", force=False, jobs=2)
    assert [r.rank for r in s.ranks] == [0, 1, 2, 3]
    t = skiprof.load(tmp_path / "all")
    assert t.ranks == [0, 1, 2, 3] and t.meta.world_size == 4
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["meta.json", "rank=0", "rank=1", "rank=2", "rank=3"]
    run_import([tmp_path / "in" / "rank2.json"], tmp_path / "two", force=False)
    one = skiprof.load(tmp_path / "two").table("kernels")
    assert t.table("kernels").filter(t.table("kernels")["rank"].to_numpy() == 2).equals(one)


def test_duplicate_ranks_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skiprof._errors import UsageError
    from skiprof.commands.import_ import run_import

    (tmp_path / "in").mkdir()
    for name in ("a.json", "b.json"):
        write_trace(tmp_path / "in" / name, _events(3), distributedInfo={"rank": 1})
    decoded = []
    monkeypatch.setattr(ingest, "ingest_file", lambda *a, **k: decoded.append(a) or (_ for _ in ()).throw(AssertionError))
    with pytest.raises(UsageError, match="rank 1 is also the rank of"):
        run_import([tmp_path / "in"], tmp_path / "out", force=False, jobs=1)
    assert not decoded and not (tmp_path / "out").exists()


def test_columns_too_large_for_their_region_go_through_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A piece's pickled columns that overflow their region of the shared map are written to a file
    instead (the region is left as it was); the tables are the serial ones."""
    from skiprof.ingest import _parallel

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "PIECE_BYTES", 4096)
    events = _events(200)
    events[300]["args"] = {"Input Dims": [[7] * 3000]}  # its piece's columns take about 12 kB, the others 3.5 kB
    src = write_trace(tmp_path / "t.json", events)
    serial = _tables(src, 1)
    results: list[_parallel.Result] = []
    real = _parallel._load

    def spy(result: _parallel.Result) -> object:
        results.append(result)
        return real(result)

    monkeypatch.setattr(_parallel, "_load", spy)
    for room in (64, 6000):  # every piece's columns overflow; some fit and some do not
        monkeypatch.setattr(_parallel, "RESULT_BYTES", room)
        results.clear()
        parallel = _tables(src, 2)
        for name in ("ops", "launches", "kernels"):
            assert serial.tables[name].equals(parallel.tables[name]), (name, room)
        in_files = [r for r in results if r[0] is not None]
        assert in_files and (room == 64) == (len(in_files) == len(results)), (room, results)


def test_building_on_two_threads_gives_the_same_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large trace's tables are built on two threads (sorts beside the ops, regions and allocations
    beside the linking); a small one's in turn. Forced either way, the tables are the same."""
    from skiprof.ingest import _build

    events = _events(300) + [op("skiprof:step", 0, 30_000, cat="user_annotation"),
                             op("[memory]", 150, None, cat="cpu_instant_event", Bytes=512, **{"Device Id": -1})]
    events[-1]["ph"] = "i"
    src = write_trace(tmp_path / "t.json", events)
    monkeypatch.setattr(_build, "CONCURRENT_ROWS", 10**9)
    in_turn = _tables(src, 1)
    monkeypatch.setattr(_build, "CONCURRENT_ROWS", 0)
    threads = _tables(src, 1)
    assert in_turn.tables["regions"].num_rows == 1 and in_turn.tables["memory"].num_rows == 1
    for name in ("ops", "launches", "kernels", "regions", "memory", "counters"):
        assert in_turn.tables[name].equals(threads.tables[name]), name
    assert in_turn.stats == threads.stats


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, Strings) or isinstance(b, Strings):
        return isinstance(a, Strings) and isinstance(b, Strings) and a.data == b.data and _same_value(a.offsets, b.offsets) \
            and (a.valid is None) == (b.valid is None) and (a.valid is None or _same_value(a.valid, b.valid))
    if isinstance(a, Coded) or isinstance(b, Coded):
        return isinstance(a, Coded) and isinstance(b, Coded) and _same_value(a.codes, b.codes) and _same_value(a.values, b.values)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return bool(a == b)


_COUNTER = {"ph": "C", "name": "skiprof.nvml", "pid": "GPU 0", "tid": 0, "ts": 35, "args": {"device": 0, "gpu_util_pct": 50}}


@pytest.mark.parametrize("extra", [
    [],  # no counter event and no "C" in the text
    [_COUNTER],  # a counter event: decoded again with raw args
    [op("C", 40, 5)],  # "C" in the text, no counter event
    [{**_COUNTER, "args": {"External id": "not a number", "value": 3}}],  # typed args that do not fit
    [_COUNTER, op("aten::late", 2**44 + 0.5, 1)],  # a time float64 cannot keep: decoded exactly as well
])
def test_pieces_decode_as_when_searched_for_counters(extra: list[dict]) -> None:
    """A piece decoded without first searching it for counter events gives what decoding it with that
    search's answer gives: the same columns, the same counts of what was skipped."""
    import json

    from skiprof.ingest._events import _may_hold_counters, decode_piece

    text = json.dumps(_events(6) + extra).encode()
    searched = decode_piece(text, {}, _may_hold_counters(text))
    for handed in (text, memoryview(text)):
        found = decode_piece(handed, {})
        assert _same_value(found.groups, searched.groups) and found.ignored == searched.ignored
        assert found.exact == searched.exact and found.pid_labels == searched.pid_labels
    if any(e.get("ph") == "C" for e in extra):
        assert "counter" in searched.groups


# Names as a trace may spell them: escapes, two spellings of one string, non-ASCII, invalid UTF-8
# (written as raw bytes), and values that are not strings at all.
_NAME_LITERALS = [b'"aten::mm"', b'"aten::\\u006dm"', b'"k<a > b>"', b'""', b'"\xc3\xa9"', b'"bad \xff byte"',
                  b'"bad \xfe byte"', b"12", b"null", b'"tab\\tname"', b'"q\\"uote"']


@given(st.lists(st.sampled_from(_NAME_LITERALS), max_size=40), st.lists(st.integers(0, 40), max_size=4))
@settings(max_examples=300, deadline=None)
def test_coded_names_join_to_the_names_they_spell(literals: list[bytes], cuts: list[int]) -> None:
    """Names sent by pieces as codes into each piece's distinct literals, then joined into one dictionary,
    read as the names decoded one by one (invalid UTF-8 as U+FFFD, null as "", numbers as their text),
    wherever the pieces are cut; the joined dictionary holds each string once."""
    import json

    import msgspec

    from skiprof._strings import raw_json_coded
    from skiprof.ingest._build import _join_coded

    raws = [msgspec.Raw(x) for x in literals]
    bounds = sorted({0, len(raws), *[min(c, len(raws)) for c in cuts]})
    parts = [raw_json_coded(raws[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    joined = _join_coded(parts)

    def one(x: bytes) -> str:
        v = json.loads(x.decode("utf-8", "replace"))
        return v if isinstance(v, str) else ("" if v is None else str(v))

    assert joined.to_pylist() == [one(x) for x in literals]
    values = joined.dictionary.to_pylist()
    assert len(values) == len(set(values)) or any(b"\xff" in x or b"\xfe" in x for x in literals)


def test_a_literal_holding_a_nul_byte_is_still_one_name() -> None:
    """raw_json_coded cuts literals apart at NUL bytes; a literal holding one (the decoder refuses such
    text in a file, so only a direct caller can pass one) is still one row, not two."""
    import msgspec

    from skiprof._strings import raw_json_coded, strings_list

    got = raw_json_coded([msgspec.Raw(b'"a\x00b"'), msgspec.Raw(b'"a"'), msgspec.Raw(b'"a\x00b"')])
    assert got.codes.tolist() == [0, 1, 0] and strings_list(got.values) == [b"a\x00b", b"a"]
