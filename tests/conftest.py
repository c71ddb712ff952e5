"""Shared fixtures: the real traces beside the checkout, and a CPU trace captured once per session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKIPROF_SHARED", ROOT.parent / "shared"))
TRACES = SHARED / "traces"
ORACLES = SHARED / "oracles"


def real_traces() -> list[Path]:
    return sorted(TRACES.glob("*.json.gz")) if TRACES.is_dir() else []


needs_shared = pytest.mark.skipif(not TRACES.is_dir(), reason=f"real traces not found at {TRACES} (set SKIPROF_SHARED)")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m skiprof ARGS`` in a subprocess, as a user would."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "skiprof", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


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
