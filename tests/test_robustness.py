"""Bad input and a hostile filesystem: one line, a clean exit code, nothing lost or half-written."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import skiprof
from conftest import ROOT, mounted_tmpfs, run_cli
from kineto import linking_trace, write_trace


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root and mount; skipped elsewhere)."""
    with mounted_tmpfs(tmp_path / "full", "64k") as mnt:
        yield mnt


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("skiprof: error:") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_full_disk_on_import(full_disk: Path) -> None:
    line = _one_line(run_cli("import", str(ROOT.parent / "shared" / "traces" / "hta_a100_ws16_rank0.json.gz")
                             if (ROOT.parent / "shared" / "traces").is_dir() else str(ROOT / "traces" / "serving" / "trace.json.gz"),
                             "-o", str(full_disk / "out")))
    assert str(full_disk / "out") in line and "space" in line.lower()
    assert list(full_disk.iterdir()) == []  # no partial folder


def test_full_disk_after_a_capture_keeps_the_raw_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the tables fails (ENOSPC, simulated in-process): the raw trace is moved beside the output,
    the message says where, and skiprof import finishes the job later."""
    import skiprof._folder as folder_mod
    from skiprof.cli import main

    def no_space(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(folder_mod, "write_rank", no_space)
    import skiprof.ingest._pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_rank", no_space)
    script = tmp_path / "s.py"
    script.write_text("import torch\nprint((torch.ones(4) + 1).sum().item())\n")
    out = tmp_path / "run"
    err = tmp_path / "err.txt"
    with open(err, "w") as fh:
        old = sys.stderr
        sys.stderr = fh
        try:
            code = main(["trace", "--no-report", "-o", str(out), str(script)])
        finally:
            sys.stderr = old
    message = err.read_text()
    assert code == 2 and "No space left on device" in message and "skiprof import" in message
    raw = tmp_path / "run.trace.json.gz"
    assert raw.exists() and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]
    monkeypatch.undo()
    assert run_cli("import", str(raw), "-o", str(out)).returncode == 0
    assert len(skiprof.load(out).ops) > 0


def test_unwritable_and_impossible_outputs(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    line = _one_line(run_cli("import", str(src), "-o", "/proc/nope/out"))
    assert "/proc/nope/out" in line
    script = tmp_path / "s.py"
    script.write_text("print('ran')\n")
    r = run_cli("trace", "-o", "/proc/nope/out", str(script))
    assert "ran" not in r.stdout  # refused before running anything
    _one_line(r)
    assert run_cli("import", str(src), "-o", str(tmp_path / "o")).returncode == 0
    _one_line(run_cli("report", str(tmp_path / "o"), "-o", "/proc/nope/r.json"))
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        _one_line(run_cli("import", str(src), "-o", str(ro / "x")))


def test_a_damaged_table_is_one_line(tmp_path: Path) -> None:
    """A trace folder whose Parquet table was truncated or overwritten: the file named, exit 2."""
    src = write_trace(tmp_path / "t.json", linking_trace())
    assert run_cli("import", str(src), "-o", str(tmp_path / "o")).returncode == 0
    table = tmp_path / "o" / "kernels.parquet"
    data = table.read_bytes()
    for damaged in (data[: len(data) // 2], b"not parquet" * 10):
        table.write_bytes(damaged)
        for command in ("report", "advise", "whatif"):  # each reads its tables in the background
            line = _one_line(run_cli(command, str(tmp_path / "o")))
            assert "kernels.parquet" in line and "footer is not the one written" in line, command


def test_export_creates_parents_and_keeps_the_rank(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace(), distributedInfo={"rank": 3, "world_size": 8, "backend": "nccl"})
    assert run_cli("import", str(src), "-o", str(tmp_path / "a")).returncode == 0
    r = run_cli("export", str(tmp_path / "a"), "-o", str(tmp_path / "new" / "dir" / "x.json.gz"))
    assert r.returncode == 0, r.stderr
    assert run_cli("import", str(tmp_path / "new" / "dir" / "x.json.gz"), "-o", str(tmp_path / "b")).returncode == 0
    b = skiprof.load(tmp_path / "b")
    assert b.ranks == [3] and b.meta.world_size == 8
    assert b.meta.trace_fields["distributedInfo"] == {"rank": 3, "world_size": 8, "backend": "nccl"}


@pytest.mark.parametrize(("args", "needle"), [
    (["whatif", "{o}", "--format", "bogus"], "'bogus' is not one of"),
    (["report", "{o}", "--format", "xml"], "'xml' is not one of"),
    (["fusion", "{o}", "--max-len", "99"], "--max-len"),
    (["whatif", "{o}", "--fuse", "best"], "expected topN"),
    (["report", "{o}", "--nope"], "No such option"),
    (["transition", "{o}", "--format", "pdf"], "'pdf' is not one of"),
    (["export", "{o}"], "Missing option"),
    (["report"], "Missing argument"),
])
def test_option_errors_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    run_cli("import", str(src), "-o", str(tmp_path / "o"))
    line = _one_line(run_cli(*[a.format(o=tmp_path / "o") for a in args]))
    assert needle in line


def test_every_analysis_command_writes_every_format(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    run_cli("import", str(src), "-o", str(tmp_path / "o"))
    for cmd in ("report", "fusion", "whatif"):
        for fmt, ext in (("json", "json"), ("markdown", "md"), ("html", "html"), ("terminal", "txt")):
            out = tmp_path / f"{cmd}.{ext}"
            r = run_cli(cmd, str(tmp_path / "o"), "-o", str(out))  # the format follows the extension
            assert r.returncode == 0 and out.stat().st_size > 0, (cmd, fmt, r.stderr)
            again = run_cli(cmd, str(tmp_path / "o"), "-o", str(out))
            assert again.returncode == 2 and "already exists" in again.stderr
            assert run_cli(cmd, str(tmp_path / "o"), "-o", str(out), "-f", "--format", fmt).returncode == 0


def test_help_texts_match_the_cli_guide() -> None:
    """Each command's one-line help appears in docs/cli.md, word for word."""
    from skiprof.commands import COMMANDS

    guide = (ROOT / "docs" / "cli.md").read_text()
    import importlib

    for name, module in COMMANDS:
        help_text = importlib.import_module(f"skiprof.commands.{module}").HELP
        assert help_text in guide.replace("\n", " "), name
    for fmt in ("terminal", "json", "markdown", "html"):
        assert fmt in run_cli("report", "--help").stdout


def test_fuzz_slice() -> None:
    """A short seeded slice of bench/fuzz_import.py: no traceback, exit 0 or 2, nothing partial."""
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "fuzz_import.py"), "--cases", "60", "--seed", "7"],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 failed" in r.stdout


def test_a_corrupt_file_is_refused_in_linear_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte broken early in a file whose events hold thousands of "]" (input shapes): the end of the
    events array is looked for among a bounded number of candidates, not at every "]" with the rest of
    the file copied each time (that took minutes on some fuzz cases)."""
    import json

    from skiprof.ingest import _stream

    events = [{"ph": "X", "cat": "cpu_op", "name": f"aten::op{i % 7}", "pid": 1, "tid": 1, "ts": 10 * i, "dur": 5,
               "args": {"Input Dims": [[1, 2], [3], []]}} for i in range(20_000)]
    text = json.dumps({"traceEvents": events}).encode()
    broken = text[:200] + b"\x00" + text[201:]
    src = tmp_path / "broken.json"
    src.write_bytes(broken)
    calls = []
    real = _stream._decode_tail
    monkeypatch.setattr(_stream, "_decode_tail", lambda t: calls.append(len(t)) or real(t))
    r = run_cli("import", str(src), "-o", str(tmp_path / "o"), "-j", "1")
    assert r.returncode == 2 and "corrupt" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
    assert broken.count(b"]") > 50_000 and len(calls) <= _stream._TAIL_TRIES


def test_names_that_are_not_utf8_import_with_a_replacement_character(tmp_path: Path) -> None:
    """A name with bytes that are not UTF-8 is kept with U+FFFD for them, also when another name of the
    same trace is written with escapes (which sends the names through a JSON decode)."""
    events = [b'{"ph": "X", "cat": "cpu_op", "name": "aten::\\u006dm", "pid": 1, "tid": 1, "ts": 0, "dur": 5}',
              b'{"ph": "X", "cat": "cpu_op", "name": "bad \xff byte", "pid": 1, "tid": 1, "ts": 10, "dur": 5}']
    for escaped in (True, False):
        src = tmp_path / f"t{escaped}.json"
        src.write_bytes(b'{"traceEvents": [' + b", ".join(events if escaped else events[1:]) + b"]}")
        res = run_cli("import", str(src), "-o", str(tmp_path / f"o{escaped}"), "--no-report")
        assert res.returncode == 0, res.stderr
        names = skiprof.load(tmp_path / f"o{escaped}").ops["name"].tolist()
        assert names == (["aten::mm", "bad \ufffd byte"] if escaped else ["bad \ufffd byte"])
