"""Shared fixtures: the real traces beside the checkout, and a CPU trace captured once per session."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Everything skiprof (and the libraries it loads) would keep in the user's home goes to one temporary
#: folder for the whole run, set before any test starts so that every subprocess inherits it: a test
#: run leaves ~/.cache, ~/.config and the runtime folder as it found them.
_SANDBOX = Path(tempfile.mkdtemp(prefix="skiprof-tests-"))
for _var, _sub in (("SKIPROF_CACHE", "cache/skiprof"), ("SKIPROF_RUNTIME", "runtime"), ("XDG_CACHE_HOME", "cache"),
                   ("XDG_CONFIG_HOME", "config"), ("MPLCONFIGDIR", "config/matplotlib")):
    os.environ[_var] = str(_SANDBOX / _sub)
os.environ.pop("XDG_RUNTIME_DIR", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's home-folder stand-in."""
    import shutil

    shutil.rmtree(_SANDBOX, ignore_errors=True)
SHARED = Path(os.environ.get("SKIPROF_SHARED", ROOT.parent / "shared"))
TRACES = SHARED / "traces"
ORACLES = SHARED / "oracles"


def real_traces() -> list[Path]:
    return sorted(TRACES.glob("*.json.gz")) if TRACES.is_dir() else []


needs_shared = pytest.mark.skipif(not TRACES.is_dir(), reason=f"real traces not found at {TRACES} (set SKIPROF_SHARED)")


#: Commands that run user code or start processes: always tested in a real subprocess.
_SUBPROCESS = {"trace", "sweep"}


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300,
            subprocess_: bool | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``skiprof ARGS`` as a user would: in a subprocess for capture and sweeps (exit codes, the
    script's process), in-process through ``cli.main`` for the rest (the same code path, faster)."""
    if subprocess_ is None:
        subprocess_ = (bool(args) and args[0] in _SUBPROCESS) or cwd is not None
    if not subprocess_:
        return run_main(*args)
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)  # an installed copy first
    env = dict(os.environ, PYTHONPATH=path, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "skiprof", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_main(*args: str) -> subprocess.CompletedProcess[str]:
    """``skiprof.cli.main(args)`` in this process, with its stdout, stderr and exit code."""
    import contextlib
    import io

    from skiprof.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        if old is None:
            os.environ.pop("NO_COLOR", None)
    return subprocess.CompletedProcess(["skiprof", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def imported_real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every real trace imported once (in-process) for the conformance tests."""
    from skiprof.commands.import_ import run_import

    out: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("real")
    for path in real_traces():
        name = path.name.removesuffix(".json.gz")
        run_import([path], base / name, force=False)
        out[name] = base / name
    return out


def assert_same_timeline(a: Any, b: Any, context: object) -> None:
    """Two replay Timelines equal field by field (the loop's and the stretches')."""
    import numpy as np

    for field in ("call_start", "call_end", "act_start", "act_end", "pred"):
        x, y = getattr(a, field), getattr(b, field)
        assert np.array_equal(x, y), (context, field, np.flatnonzero(x != y)[:5])
    assert a.edge == b.edge, (context, "edge")
    assert (a.host_end, a.host_end_call, a.origin) == (b.host_end, b.host_end_call, b.origin), context
    assert (a.removed_calls, a.removed_acts) == (b.removed_calls, b.removed_acts), context


@pytest.fixture(scope="module")
def linked_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/kineto.py's linking trace imported once per module, for tests that only read it (or copy it)."""
    from kineto import linking_trace, write_trace

    base = tmp_path_factory.mktemp("linked")
    src = write_trace(base / "t.json", linking_trace())
    r = run_cli("import", str(src), "-o", str(base / "A"), "--no-report")
    assert r.returncode == 0, r.stderr
    return base / "A"


def mounted_tmpfs(mnt: Path, size: str) -> Any:
    """A context manager: a tmpfs of ``size`` mounted at ``mnt`` (made here) inside a test's temporary folder;
    the test is skipped where mounting is not allowed."""
    import contextlib

    @contextlib.contextmanager
    def mounted() -> Any:
        mnt.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()})")
        try:
            yield mnt
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)

    return mounted()


def reseal(folder: Path) -> None:
    """Record the footers of ``folder``'s tables in its meta.json again, as a writer that changed a table on
    purpose would: a test that simulates an older or edited table then reaches the checks after the footer's."""
    import json

    from skiprof._integrity import footers

    meta = json.loads((folder / "meta.json").read_text())
    meta["files"] = footers(folder)
    (folder / "meta.json").write_text(json.dumps(meta))
