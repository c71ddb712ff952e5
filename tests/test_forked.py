"""Replays spread over forked children give exactly what one process computes, whatever the
children do: fail, die, or never start."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from test_advice import copy_bound_events, launch_bound_events

import skiprof
from conftest import run_cli
from kineto import write_trace
from skiprof.analyzers import _forked, advice, select

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


@pytest.fixture(autouse=True)
def _two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork as a machine of several cores would, whatever this one has."""
    monkeypatch.setattr(_forked, "usable_cores", lambda: 3)


def _no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:  # no child at all: every fork was waited for
        return True
    return False


def test_fork_map_equals_map_and_runs_in_children() -> None:
    parent = os.getpid()
    got = _forked.fork_map(lambda x: (x * x, os.getpid() == parent), list(range(7)))
    assert [v for v, _ in got] == [x * x for x in range(7)]
    # This process took the smaller first share; the rest came from children.
    assert [here for _, here in got] == [True, True] + [False] * 5
    assert _no_child_left()


def test_a_child_that_fails_is_computed_here() -> None:
    parent = os.getpid()

    def fn(x: int) -> int:
        if os.getpid() != parent and x == 4:
            raise RuntimeError("only in the child")
        return x + 1

    assert _forked.fork_map(fn, list(range(6))) == [1, 2, 3, 4, 5, 6]
    assert _no_child_left()


def test_a_child_that_dies_is_computed_here() -> None:
    parent = os.getpid()

    def fn(x: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # killed without a word
        return -x

    assert _forked.fork_map(fn, [1, 2, 3]) == [-1, -2, -3]
    assert _no_child_left()


def test_an_error_here_stops_the_children_and_is_raised() -> None:
    parent = os.getpid()

    def fn(x: int) -> int:
        if os.getpid() == parent:
            raise ValueError("here")
        threading.Event().wait(60)  # a child that would run long: it is stopped, not waited for
        return x

    with pytest.raises(ValueError, match="here"):
        _forked.fork_map(fn, [1, 2, 3, 4])
    assert _no_child_left()


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        parent = os.getpid()
        assert _forked.fork_map(lambda x: os.getpid() == parent, [1, 2, 3]) == [True] * 3
    finally:
        stop.set()
        t.join()


@pytest.mark.parametrize("events", [launch_bound_events, copy_bound_events], ids=["launch", "copy"])
def test_forked_replays_equal_serial_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events) -> None:
    src = write_trace(tmp_path / "t.json", events())
    folder = tmp_path / "t"
    assert run_cli("import", str(src), "-o", str(folder), "--no-report").returncode == 0
    forks = []
    real_start = _forked._start
    monkeypatch.setattr(_forked, "_start", lambda *a: forks.append(1) or real_start(*a))

    def fixes(limit: int) -> tuple[list, list]:
        monkeypatch.setattr(advice, "PARALLEL_CALLS", limit)
        view = select(skiprof.load(folder))
        cache: dict = {}
        return advice.ranked(view, "DIR", cache), advice.host_sensitivity(view, cache)

    serial = fixes(10**9)
    assert not forks
    forked = fixes(0)
    assert forks, "the replays did not fork"
    assert forked == serial
