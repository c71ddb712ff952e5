"""Kineto numbers out of range, and JavaScript's NaN/Infinity tokens, spoil only their own event."""
from __future__ import annotations

from pathlib import Path

import pytest

import skiprof
from conftest import run_cli
from kineto import linking_trace, write_trace


def _import(tmp_path: Path, text: str) -> tuple[skiprof.Trace, str]:
    src = tmp_path / "t.json"
    src.write_text(text)
    r = run_cli("import", str(src), "-o", str(tmp_path / "A"), subprocess_=True)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "overflow" not in r.stderr, r.stderr
    return skiprof.load(tmp_path / "A"), r.stderr


def _base(tmp_path: Path) -> str:
    return write_trace(tmp_path / "base.json", linking_trace()).read_text()


@pytest.mark.parametrize("value", ["9223372036854775808", "1e300", "-1e300", "18446744073709551616"])
def test_a_duration_out_of_range_spoils_only_its_event(tmp_path: Path, value: str) -> None:
    text = _base(tmp_path).replace('"dur": 50,', f'"dur": {value},', 1)  # aten::addmm
    t, _ = _import(tmp_path, text)
    assert "aten::addmm" not in set(t.ops["name"])
    assert len(t.ops) == 4 and len(t.kernels) == 7
    assert t.meta.stats["0"].ignored_events.get("X:unreadable") == 1
    assert (t.ops["dur"] >= 0).all() and t.ops["dur"].max() < 10**12


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_token_spoils_only_its_event(tmp_path: Path, token: str) -> None:
    text = _base(tmp_path).replace('"dur": 50,', f'"dur": {token},', 1)
    text = text.replace('"name": "tail_kernel"', '"name": "tail NaN Infinity"', 1)  # inside a string: kept as it is
    t, _ = _import(tmp_path, text)
    assert "aten::addmm" not in set(t.ops["name"]) and len(t.ops) == 4
    assert "tail NaN Infinity" in set(t.kernels["name"])
    assert t.meta.stats["0"].ignored_events.get("X:unreadable") == 1


def test_without_bad_numbers_nothing_is_unreadable(tmp_path: Path) -> None:
    t, _ = _import(tmp_path, _base(tmp_path))
    assert "X:unreadable" not in t.meta.stats["0"].ignored_events and len(t.ops) == 5
