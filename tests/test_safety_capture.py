"""Captures that survive ordinary process life: forks, SIGTERM/SIGHUP, Ctrl-C while the folder is written, os._exit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import skiprof
from conftest import ROOT


def _start(tmp: Path, script: str, *args: str) -> subprocess.Popen[str]:
    path = tmp / "s.py"
    path.write_text(script)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "skiprof", "trace", "-o", str(tmp / "out"), *args, str(path)],
                            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trace_in_process(tmp: Path) -> tuple[int, Any]:
    """``skiprof trace`` of a two-line script in this process (so that a test can patch it): exit code, stderr."""
    import contextlib
    import io

    from skiprof.cli import main

    script = tmp / "s.py"
    script.write_text("import torch\ntorch.ones(4).sum()\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["trace", "-o", str(tmp / "out"), "--no-report", str(script)])
    return code, err


def _partials(tmp: Path) -> list[str]:
    return [p.name for p in tmp.iterdir() if p.name.endswith(".partial")]


def test_a_forked_child_that_exits_leaves_the_capture_to_the_parent(tmp_path: Path) -> None:
    proc = _start(tmp_path, "import os, sys, torch\nx = torch.ones(8).sum()\npid = os.fork()\nif pid == 0:\n"
                            "    print('child', flush=True)\n    sys.exit(0)\nos.waitpid(pid, 0)\ny = torch.ones(4) * 2\n"
                            "print('parent', flush=True)\n")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sorted(out.split()) == ["child", "parent"]
    t = skiprof.load(tmp_path / "out")
    assert "aten::mul" in set(t.ops["name"])  # the parent's work after the fork is in its one folder
    assert not _partials(tmp_path)


def test_sighup_is_caught_like_sigterm_unless_ignored() -> None:
    """Both become Terminated where their handler is the default one; an ignored one (nohup) stays ignored."""
    from skiprof.capture import _runner

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        saved = _runner._catch_termination()
        assert signal.getsignal(signal.SIGTERM) is _runner._terminate and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        _runner._restore_handlers(saved)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        saved = _runner._catch_termination()
        with pytest.raises(_runner.Terminated):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)  # the handler runs at the next bytecode
        _runner._restore_handlers(saved)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_during_the_script_saves_the_trace(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _start(tmp_path, "import time, torch\nx = torch.ones(8)\nprint('ready', flush=True)\n"
                            "try:\n    while True:\n        x = x * 1.0001\n        time.sleep(0.001)\n"
                            "finally:\n    print('cleanup ran', flush=True)\n")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "cleanup ran" in out
    assert "aten::mul" in set(skiprof.load(tmp_path / "out").ops["name"])
    assert not _partials(tmp_path)


def test_a_script_handler_for_sigterm_is_kept(tmp_path: Path) -> None:
    """A script that handles SIGTERM itself gets it, as under python."""
    proc = _start(tmp_path, "import signal, time, sys, torch\nseen = []\nsignal.signal(signal.SIGTERM, lambda *a: seen.append(1))\n"
                            "print('ready', flush=True)\nwhile not seen:\n    time.sleep(0.01)\ntorch.ones(3).sum()\n"
                            "print('handled', flush=True)\n")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "handled" in out, err


def test_os_exit_is_reported_and_the_raw_trace_kept(tmp_path: Path) -> None:
    proc = _start(tmp_path, "import os, torch\ntorch.ones(8).sum()\nos._exit(3)\n")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert "os._exit(3)" in err and "raw trace is kept at" in err, err
    raw = Path(err.split("kept at ", 1)[1].split(":", 1)[0])
    assert raw.is_file() and raw.stat().st_size > 0


def test_a_second_ctrl_c_while_writing_keeps_the_raw_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is being written when Ctrl-C comes twice: exit 130, and the raw trace is kept and named."""
    import skiprof.commands.trace as trace_mod

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trace_mod, "finish_capture", interrupted)
    code, err = _trace_in_process(tmp_path)
    assert code == 130, err.getvalue()
    raw = tmp_path / "out.trace.json.gz"
    assert raw.is_file() and str(raw) in err.getvalue() and "skiprof import" in err.getvalue()
    assert not (tmp_path / "out").exists() and not _partials(tmp_path)


def test_the_first_signal_while_writing_lets_the_folder_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import skiprof.commands.trace as trace_mod

    real = trace_mod.finish_capture

    def with_a_signal(*a: object, **k: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)  # handled at once, on this (the main) thread
        return real(*a, **k)

    monkeypatch.setattr(trace_mod, "finish_capture", with_a_signal)
    code, _err = _trace_in_process(tmp_path)
    assert code == 130
    assert skiprof.load(tmp_path / "out").meta.ranks == [0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_killed_capture_is_named_by_the_next_run(tmp_path: Path) -> None:
    """SIGKILL while the profiler's raw trace sits in the staging folder: the next trace or import to the same
    output says where it is and how to finish it; nothing removes it."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    staging = tmp_path / f".out.{dead.pid}.abc123.partial"
    staging.mkdir()
    (staging / "trace.json.gz").write_bytes(b"raw")
    from conftest import run_cli
    from kineto import linking_trace, write_trace

    src = write_trace(tmp_path / "t.json", linking_trace())
    r = run_cli("import", str(src), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split() + r.stderr.split())
    assert f"raw trace is at {staging / 'trace.json.gz'}" in said and "skiprof import" in said
    assert (staging / "trace.json.gz").read_bytes() == b"raw"


def test_steps_without_any_step_record_nothing_misleading(tmp_path: Path) -> None:
    proc = _start(tmp_path, "import torch\nfor _ in range(3):\n    torch.ones(4).sum()\n", "--steps", "2")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "never called skiprof.step()" in " ".join(err.split()), err
    assert not (tmp_path / "out").exists() and not _partials(tmp_path)


def test_the_cache_sees_a_file_replaced_by_one_of_the_same_size_and_time(tmp_path: Path) -> None:
    from kineto import linking_trace, write_trace
    from skiprof._cache import load_kineto

    events = linking_trace()
    src = write_trace(tmp_path / "t.json", events)
    first = load_kineto(src)
    st = src.stat()
    text = src.read_text().replace("gemm_kernel", "gemm_kerneX")  # same size
    src.write_text(text)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = load_kineto(src)
    assert second.path != first.path
    assert "gemm_kerneX" in set(second.kernels["name"])


def test_an_executor_left_open_ends_as_under_python(tmp_path: Path) -> None:
    """A ThreadPoolExecutor the script never shut down (torch.compile leaves one): python tells its idle workers
    to exit before it joins threads, and so does skiprof (it used to wait for them for ever)."""
    proc = _start(tmp_path, "from concurrent.futures import ThreadPoolExecutor\nimport torch\nex = ThreadPoolExecutor(2)\n"
                            "print(ex.submit(lambda: torch.ones(3).sum().item()).result(), flush=True)\n")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "3.0", err
    assert skiprof.load(tmp_path / "out").meta.ranks == [0]
