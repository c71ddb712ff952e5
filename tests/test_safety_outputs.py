"""Outputs never destroy what is not skiprof's: devices, FIFOs, inputs, foreign folders, mount points.

Device cases use nodes made with mknod inside a temporary folder (root only), never /dev itself.
"""
from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import mounted_tmpfs, run_cli
from kineto import linking_trace, write_trace
from skiprof._errors import UsageError
from skiprof._outputs import folder_output, replace_folder, umask


@pytest.fixture(scope="module")
def folder(linked_folder: Path) -> Path:
    """A small imported trace folder, shared by the tests that only read it."""
    return linked_folder


def _node(tmp: Path, name: str, minor: int) -> Path:
    """A copy of a character device (1, minor) inside ``tmp``; the test is skipped where mknod is not allowed."""
    path = tmp / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc})")
    return path


def _is_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def _file_commands(folder: Path, out: Path) -> list[list[str]]:
    """Every command that takes -o FILE, on the shared folder."""
    o = str(out)
    f = str(folder)
    return [["report", f, "-o", o, "--format", "json"], ["advise", f, "-o", o, "--format", "json"],
            ["whatif", f, "--launch-scale", "0.5", "-o", o, "--format", "json"], ["critical", f, "-o", o, "--format", "json"],
            ["fusion", f, "-o", o, "--format", "json"], ["diff", f, f, "-o", o, "--format", "json"],
            ["export", f, "-o", o], ["sql", f, "select count(*) from kernels", "-o", o, "--format", "csv"]]


@pytest.mark.parametrize("minor", [3, 7], ids=["null", "full"])
def test_device_outputs_stay_devices(folder: Path, tmp_path: Path, minor: int) -> None:
    """-o NODE -f writes into a character device as a stream (c 1 3) or fails in one line (c 1 7, always full);
    in neither case is the node replaced. A folder output that names one is refused."""
    node = _node(tmp_path, "nodeish", minor)
    for cmd in _file_commands(folder, node):
        r = run_cli(*cmd, "-f")
        if minor == 3:
            assert r.returncode == 0, (cmd, r.stderr)
        else:
            assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (cmd, r.stderr)
        assert _is_device(node), cmd
    src = write_trace(tmp_path / "t.json", linking_trace())
    script = tmp_path / "s.py"
    script.write_text("print('ran')\n")
    sweep = tmp_path / "sw"
    sweep.mkdir()
    (sweep / "sweep.json").write_text('{"script": "s.py", "params": [["n", ["1"]]], "fixed_args": [], "runs": []}')
    for cmd in (["import", str(src), "--no-report"], ["trace", str(script)], ["sweep", str(script), "--param", "n=1"]):
        r = run_cli(*cmd[:1], "-o", str(node), "-f", *cmd[1:])
        assert r.returncode == 2 and "device" in r.stderr and "ran" not in r.stdout, (cmd, r.stderr)  # before any work
        assert _is_device(node), cmd
    r = run_cli("transition", str(sweep), "-o", str(node), "-f")  # a stream output; the empty sweep is the error
    assert r.returncode == 2 and "no successful runs" in r.stderr and _is_device(node), r.stderr
    r = run_cli("calibrate", "--dry-run", "--repeats", "3", "--json", "-o", str(node), "-f")
    assert r.returncode == (0 if minor == 3 else 2) and _is_device(node), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nodeish", "s.py", "sw", "t.json"]  # no staging or holder


def test_fifo_output_is_a_stream(folder: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = run_cli("report", str(folder), "-o", str(fifo), "--format", "json", "-f")
    reader.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert got and got[0].startswith(b"{")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_stdout_is_written_as_a_stream(folder: Path) -> None:
    r = run_cli("report", str(folder), "-o", "/dev/stdout", "--format", "json", subprocess_=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.lstrip().startswith("{") and '"schema"' in r.stdout


def test_an_output_may_not_be_or_hold_an_input(folder: Path, tmp_path: Path) -> None:
    src = write_trace(tmp_path / "in.json", linking_trace())
    before = src.read_bytes()
    meta = (folder / "meta.json").read_bytes()
    kernels = (folder / "kernels.parquet").read_bytes()
    cases = [["import", str(src), "-o", str(src), "-f"], ["export", str(src), "-o", str(src), "-f"],
             ["report", str(folder), "-o", str(folder / "meta.json"), "-f"],
             ["export", str(folder), "-o", str(folder / "kernels.parquet"), "-f"],
             ["report", str(folder), "-o", str(folder), "-f"], ["import", str(src), "-o", str(tmp_path), "-f"]]
    for cmd in cases:
        r = run_cli(*cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        line = r.stderr.strip()
        assert "input" in line and "partial" not in line and len(line.splitlines()) == 1, (cmd, line)
    assert src.read_bytes() == before
    assert (folder / "meta.json").read_bytes() == meta and (folder / "kernels.parquet").read_bytes() == kernels


def test_resume_refuses_a_folder_that_is_not_a_sweep(folder: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("print('ran')\n")
    names = sorted(p.name for p in folder.iterdir())
    r = run_cli("sweep", str(script), "--param", "n=1", "-o", str(folder), "--resume")
    assert r.returncode == 2 and "needs a sweep folder" in r.stderr, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == names


def test_force_replaces_only_what_skiprof_wrote(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    r = run_cli("import", str(src), "-o", str(mine), "-f", "--no-report")
    assert r.returncode == 2 and "did not write" in r.stderr, r.stderr
    assert (mine / "holiday.jpg").read_bytes() == b"precious"
    # skiprof's own folder, and a plain file, are replaced with -f
    assert run_cli("import", str(src), "-o", str(tmp_path / "B"), "--no-report").returncode == 0
    assert run_cli("import", str(src), "-o", str(tmp_path / "B"), "-f", "--no-report").returncode == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging or holder left


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs mounted inside tmp (root only; skipped elsewhere)."""
    with mounted_tmpfs(tmp_path / "mnt", "1m") as mnt:
        yield mnt


def test_a_mount_point_or_root_is_never_replaced(mount_point: Path, tmp_path: Path) -> None:
    (mount_point / "meta.json").write_text("{}")  # even one that looks like skiprof's
    src = write_trace(tmp_path / "t.json", linking_trace())
    r = run_cli("import", str(src), "-o", str(mount_point), "-f", "--no-report")
    assert r.returncode == 2 and "mount point" in r.stderr, r.stderr
    assert (mount_point / "meta.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnt", "t.json"]
    with pytest.raises(UsageError, match="mount point"):
        folder_output(Path("/"), True)  # only checked: nothing is written at /


def test_outputs_honour_the_umask(folder: Path, tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    old = os.umask(0o022)
    try:
        assert umask() == 0o022
        assert run_cli("import", str(src), "-o", str(tmp_path / "B"), "--no-report").returncode == 0
        assert run_cli("report", str(folder), "-o", str(tmp_path / "r.json")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "B").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_concurrent_writers_of_one_file_all_succeed(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.json"
    procs = [subprocess.Popen(["python", "-m", "skiprof", "report", str(folder), "-o", str(out), "-f"],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert out.read_text().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["same.json"]


def test_a_replaced_folder_never_looks_missing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "meta.json").write_text("0")
    missing = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            if not (out / "meta.json").exists():
                missing.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(200):
            staging = tmp_path / f".s{i}"
            staging.mkdir()
            (staging / "meta.json").write_text(str(i))
            replace_folder(staging, out)
    finally:
        stop.set()
        reader.join()
    assert (out / "meta.json").read_text() == "199"
    assert not missing
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
