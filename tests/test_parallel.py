"""Decoding in a forked helper gives exactly the serial result, and falls back when a cut is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

import skiprof.ingest as ingest
from conftest import TRACES, needs_shared
from kineto import kernel, op, runtime, write_trace


def _tables(path: Path, workers: int):
    rt, _ = ingest.ingest_file(path, workers=workers)
    return rt


def _events(n: int, odd_name: str | None = None) -> list[dict]:
    events = []
    for i in range(n):
        t0 = i * 100
        name = odd_name or f"aten::op{i % 5}"
        events += [op(name, t0, 50), runtime("cudaLaunchKernel", t0 + 10, 5, 500 + i), kernel(f"k{i % 3}", t0 + 30, 10, 500 + i)]
    return events


@pytest.mark.parametrize(("odd_name", "slot_bytes"), [(None, None), ("weird}, {name", None), (None, 1000)])
def test_parallel_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd_name: str | None,
                                slot_bytes: int | None) -> None:
    from skiprof.ingest import _helper

    monkeypatch.setattr(ingest, "_PARALLEL_MIN_BYTES", 0)
    if slot_bytes:  # pieces larger than a shared-memory slot travel through the pipe instead
        monkeypatch.setattr(_helper, "_SLOT_BYTES", slot_bytes)
    src = write_trace(tmp_path / "t.json", _events(120, odd_name))
    serial = _tables(src, 1)
    outcomes = []
    real = ingest._parallel_batches

    def spy(*a, **k):
        res = real(*a, **k)
        outcomes.append(res is not None)
        return res

    monkeypatch.setattr(ingest, "_parallel_batches", spy)
    for piece in range(1500, 2100, 37):  # cuts fall at many offsets within the events
        monkeypatch.setattr(ingest, "_PARALLEL_PIECE", piece)
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


@needs_shared
def test_parallel_equals_serial_on_real_trace() -> None:
    src = TRACES / "hta_v100_resnet_ns_resolution.json.gz"
    serial, parallel = _tables(src, 1), _tables(src, 2)
    for name in ("ops", "launches", "kernels", "regions"):
        assert serial.tables[name].equals(parallel.tables[name]), name


def test_early_start_knows_the_import_options() -> None:
    """start_early parses argv before the CLI exists: its list of value-taking options must match the CLI's."""
    import typer.main

    from skiprof.cli import app
    from skiprof.ingest import _helper

    cmd = typer.main.get_command(app).commands["import"]
    takes_value = {o for p in cmd.params if not getattr(p, "is_flag", False) and p.param_type_name == "option"
                   for o in p.opts}
    assert takes_value == set(_helper.IMPORT_VALUE_OPTIONS)


def test_early_start_only_for_one_big_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skiprof.ingest import _helper

    started = []
    monkeypatch.setattr(_helper, "spawn", lambda p: started.append(p) or None)
    monkeypatch.setattr(ingest, "_PARALLEL_MIN_BYTES", 10)
    f = write_trace(tmp_path / "t.json", _events(5))
    for argv in (["trace", str(f)], ["import", str(f), "-j", "1"], ["import", str(f), str(f)], ["import", str(tmp_path)]):
        _helper.start_early(argv)
    assert started == []
    _helper.start_early(["import", "-o", "x", str(f), "-f"])
    assert started == [f]
