"""``skiprof signal`` signals only a process that asked for it; ``--on-signal`` takes only the users' signals.

The cases that would signal something if skiprof were wrong run inside a PID namespace
(``unshare --pid --fork --mount-proc``), so that even kill(-1) could reach only that namespace.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

_PROBE = r"""
import json, os, subprocess, sys
sleeper = subprocess.Popen(["sleep", "60"])
def skiprof(*args):
    r = subprocess.run([sys.executable, "-m", "skiprof", "signal", *args], capture_output=True, text=True)
    return {"code": r.returncode, "err": r.stderr.strip()}
out = {"minus_one": skiprof("--", "-1"), "zero": skiprof("0"), "sleep": skiprof(str(sleeper.pid)),
       "sleep_usr2": skiprof(str(sleeper.pid), "-s", "USR2"), "self_group": skiprof(str(os.getpgrp()))}
out["sleep_alive"] = sleeper.poll() is None
sleeper.kill()
print(json.dumps(out))
"""


def _in_pid_namespace(code: str, tmp: Path) -> dict[str, object]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a PID namespace here ({probe.stderr.decode().strip()})")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code], capture_output=True,
                       text=True, env=env, cwd=tmp, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_signal_refuses_groups_itself_and_unarmed_processes(tmp_path: Path) -> None:
    got = _in_pid_namespace(_PROBE, tmp_path)
    for case in ("minus_one", "zero", "sleep", "sleep_usr2", "self_group"):
        res = got[case]
        assert isinstance(res, dict) and res["code"] == 2, (case, res)
        assert res["err"].startswith("skiprof: error:") and len(res["err"].splitlines()) == 1, (case, res)
    assert "not a process id" in got["minus_one"]["err"] and "not a process id" in got["zero"]["err"]
    assert "not running under skiprof trace" in got["sleep"]["err"]
    assert got["sleep_alive"] is True


@pytest.mark.parametrize("args, why", [(["99999999999"], "not a process id"), (["1", "-s", "KILL"], "--signal"),
                                       (["1", "-s", "0"], "--signal"), (["1", "-s", "NOPE"], "--signal: unknown")])
def test_signal_arguments_are_checked(args: list[str], why: str) -> None:
    r = run_cli("signal", *args)
    assert r.returncode == 2 and why in r.stderr and "internal" not in r.stderr, r.stderr


@pytest.mark.parametrize("sig", ["SEGV", "TERM", "INT", "HUP", "KILL", "STOP", "0", "999", "CHLD"])
def test_on_signal_takes_only_the_users_signals(tmp_path: Path, sig: str) -> None:
    r = run_cli("trace", "--on-signal", sig, "-o", str(tmp_path / "run"), "x.py", subprocess_=False)
    assert r.returncode == 2 and "--on-signal" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "run").exists()


def test_marker_names_the_armed_process_and_its_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """arm/armed/disarm: a marker is read back for this live process, not for a recycled PID, and goes at disarm."""
    import signal

    from skiprof.capture import _armed

    monkeypatch.setenv("SKIPROF_RUNTIME", str(tmp_path / "rt"))
    path = _armed.arm(int(signal.SIGUSR1), None)
    assert path is not None and (tmp_path / "rt").stat().st_mode & 0o777 == 0o700
    got = _armed.armed(os.getpid())
    assert got is not None and got["signal"] == int(signal.SIGUSR1)
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "start": "1"}))  # as if a dead process with this PID had left it
    assert _armed.armed(os.getpid()) is None
    _armed.disarm(path)
    assert not path.exists()
