"""Option values that are not usable numbers, and sweeps that lose runs, are never taken quietly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def folder(linked_folder: Path) -> Path:
    return linked_folder


BAD = ["nan", "inf", "-inf", "1e308", "1e12", "-1", "NaN", "abc", ""]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", ["--launch-scale", "--host-scale", "--device-scale"])
def test_whatif_scales_are_finite_and_bounded(folder: Path, option: str, value: str) -> None:
    r = run_cli("whatif", str(folder), option, value)
    assert r.returncode == 2 and option in r.stderr and "internal" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Warning" not in r.stderr


def test_the_largest_scale_stays_in_int64(folder: Path) -> None:
    r = run_cli("whatif", str(folder), "--launch-scale", "1000", "--host-scale", "1000", "--device-scale", "1000",
                "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["whatif"]["measured_il_ns"] * 999 < doc["whatif"]["il_ns"] < 2**63


@pytest.mark.parametrize("args", [["fusion", "{f}", "--threshold", "nan"], ["fusion", "{f}", "--threshold", "1.5"],
                                  ["sweep", "x.py", "--param", "a=1", "--timeout", "nan"],
                                  ["sweep", "x.py", "--param", "a=1", "--timeout", "0"],
                                  ["trace", "--delay", "inf", "x.py"], ["trace", "--duration", "nan", "x.py"],
                                  ["trace", "--every", "1e400", "x.py"],
                                  ["import", "{f}/../t.json", "--scheduler", "not a url"]])
def test_numbers_and_addresses_are_checked(folder: Path, args: list[str]) -> None:
    r = run_cli(*[a.replace("{f}", str(folder)) for a in args], subprocess_=False)
    assert r.returncode == 2 and "internal" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_sweep_exit_codes() -> None:
    """A sweep exits 0 only when every run succeeded (tests/test_sweep.py checks 4 end to end)."""
    from skiprof.commands.sweep import SOME_FAILED, sweep_exit_code

    assert (sweep_exit_code(2, 2), sweep_exit_code(0, 2), sweep_exit_code(1, 2)) == (0, 1, SOME_FAILED)
