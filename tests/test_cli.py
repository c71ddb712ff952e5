"""The CLI end to end, in subprocesses as a user runs it: capture, import, bad input."""
from __future__ import annotations

import gzip
import importlib.util
import json
import os
import textwrap
from pathlib import Path

import pytest

import skiprof
from conftest import TRACES, needs_shared, run_cli
from kineto import linking_trace, write_trace

SCRIPT = textwrap.dedent(
    """
    import sys, torch, skiprof
    print("ARGV", sys.argv)
    print("PATH0", sys.path[0])
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    for _ in range(3):
        with skiprof.region("preprocess"):
            x = torch.randn(8, 32)
        with skiprof.region("compute"):
            model(x)
        skiprof.step()
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    if mode == "raise":
        raise ValueError("boom from the workload")
    if mode.startswith("exit"):
        sys.exit(int(mode[4:]))
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    p = tmp_path / "work" / "wl.py"
    p.parent.mkdir()
    p.write_text(SCRIPT)
    return p


def test_trace_passes_arguments_and_writes_folder(tmp_path: Path, script: Path) -> None:
    r = run_cli("trace", "-o", str(tmp_path / "out"), str(script), "ok", "--output", "y", "-f", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"ARGV ['{script}', 'ok', '--output', 'y', '-f']" in r.stdout
    assert f"PATH0 {script.parent}" in r.stdout
    t = skiprof.load(tmp_path / "out")
    assert (tmp_path / "out" / "trace.json.gz").exists()
    names = set(t.ops["name"])
    assert {"aten::linear", "aten::addmm"} <= names
    regions = t.regions
    assert sorted(set(regions.loc[regions["kind"] == "skiprof", "name"])) == ["compute", "preprocess"]
    steps = sorted(regions.loc[regions["kind"] == "step", "step"])
    assert steps[:3] == [0, 1, 2]
    assert t.ops["input_dims"].notna().any()  # shapes recorded by default
    assert t.meta.capture.exit_code == 0
    assert "skiprof: wrote" in r.stderr


@pytest.mark.parametrize(("mode", "code"), [("exit3", 3), ("raise", 1)])
def test_exit_codes(tmp_path: Path, script: Path, mode: str, code: int) -> None:
    r = run_cli("trace", "-o", str(tmp_path / "out"), str(script), mode)
    assert r.returncode == code
    assert (tmp_path / "out" / "meta.json").exists()  # the trace is saved either way
    if mode == "raise":
        assert "ValueError: boom from the workload" in r.stderr
        assert "runpy" not in r.stderr


EXIT_SCRIPT = textwrap.dedent(
    """
    import atexit, gc, os, pathlib, sys, threading, time, torch
    out = pathlib.Path(sys.argv[1])
    (out / "gc.txt").write_text(repr((gc.isenabled(), gc.get_threshold())))
    (out / "env.txt").write_text(repr([os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")]))

    def late():
        time.sleep(0.5)  # still running when the script's last line is done
        (out / "thread.txt").write_text("thread")

    def at_exit():
        (out / "atexit.txt").write_text("atexit")

    def broken():
        raise RuntimeError("atexit handler fails")

    atexit.register(at_exit)
    atexit.register(broken)  # runs first (last registered), fails; the others still run
    left_open = open(out / "open.txt", "w")  # never closed: python's shutdown flushes it
    left_open.write("left open")
    threading.Thread(target=late).start()  # not a daemon: python waits for it
    torch.ones(4).sum()
    """
)


@pytest.mark.parametrize("under", ["python", "skiprof"])
def test_exit_as_under_python(tmp_path: Path, under: str) -> None:
    """What the script leaves at exit (a non-daemon thread's file, an atexit handler's file, the
    exit code despite a failing handler) is the same under skiprof trace as under python, and the
    trace is saved."""
    import subprocess
    import sys

    script = tmp_path / "exits.py"
    script.write_text(EXIT_SCRIPT)
    out = tmp_path / "files"
    out.mkdir()
    if under == "python":
        r = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300)
    else:
        r = run_cli("trace", "-o", str(tmp_path / "t"), str(script), str(out))
        assert (tmp_path / "t" / "meta.json").exists(), r.stderr
    assert r.returncode == 0, r.stderr
    assert (out / "thread.txt").read_text() == "thread"
    assert (out / "atexit.txt").read_text() == "atexit"
    assert (out / "open.txt").read_text() == "left open"
    assert "atexit handler fails" in r.stderr
    # skiprof's own commands pace the garbage collector their way; the script gets python's pace
    pace = subprocess.run([sys.executable, "-c", "import gc; print(repr((gc.isenabled(), gc.get_threshold())))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert (out / "gc.txt").read_text() == pace
    # and the environment it would have had (skiprof's own commands set OpenBLAS and pyarrow their way)
    assert (out / "env.txt").read_text() == repr([os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")])


TEARDOWN_SCRIPT = textwrap.dedent(
    """
    import atexit, torch

    class Model:
        def __init__(self):
            self.torch = torch  # the script's globals may be gone when __del__ runs

        def __del__(self):  # runs when python's shutdown frees the script's globals
            with self.torch.profiler.record_function("teardown_marker"):
                self.torch.ones(2).sum()
            print("teardown ran")

    def at_exit():
        with torch.profiler.record_function("atexit_marker"):
            torch.ones(2).sum()

    model = Model()
    atexit.register(at_exit)
    torch.ones(4).sum()
    """
)


def test_atexit_work_is_traced_and_teardown_is_not(tmp_path: Path) -> None:
    """An atexit handler's work is the script's and is in the trace; the destructors that run as the
    script's globals are freed (python's shutdown) run after the profiler has stopped."""
    script = tmp_path / "teardown.py"
    script.write_text(TEARDOWN_SCRIPT)
    r = run_cli("trace", "-o", str(tmp_path / "t"), str(script))
    assert r.returncode == 0, r.stderr
    names = set(skiprof.load(tmp_path / "t").ops["name"])
    assert "atexit_marker" in names and "teardown_marker" not in names
    assert "teardown ran" in r.stdout and "Exception ignored" not in r.stderr


@pytest.mark.parametrize(("argv", "env", "want"), [
    (["skiprof", "report", "run"], {}, ("1", "system")),
    (["skiprof", "import", "t.json"], {}, ("1", "system")),
    # the user's choices stay
    (["skiprof", "import", "t.json"], {"OPENBLAS_NUM_THREADS": "8"}, ("8", "system")),
    (["skiprof", "report", "run"], {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}, ("1", "jemalloc")),
    (["skiprof", "trace", "train.py"], {}, (None, None)),  # user code: python's environment
    (["skiprof", "sweep", "train.py"], {}, (None, None)),  # its children run user code
    (["skiprof", "calibrate"], {}, (None, None)),
    (["skiprof"], {}, (None, None)),
])
def test_library_settings_only_where_no_user_code_runs(argv: list[str], env: dict[str, str],
                                                       want: tuple[str | None, str | None]) -> None:
    from skiprof._entry import tune_libraries

    tune_libraries(argv, env)
    assert (env.get("OPENBLAS_NUM_THREADS"), env.get("ARROW_DEFAULT_MEMORY_POOL")) == want


def test_commands_without_user_code_use_the_system_allocator() -> None:
    """pyarrow reads ARROW_DEFAULT_MEMORY_POOL once, when it makes its default pool: set as the
    entry point sets it, before pyarrow loads, it takes effect."""
    import subprocess
    import sys

    code = ("import os; from skiprof import _entry; import sys; assert 'pyarrow' not in sys.modules\n"
            "_entry.tune_libraries(['skiprof', 'report', 'run'], os.environ)\n"
            "import pyarrow; print(pyarrow.default_memory_pool().backend_name)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "system"


def test_module_mode(tmp_path: Path) -> None:
    pkg = tmp_path / "pkgx"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "job.py").write_text("import sys, torch\nprint('ARGV', sys.argv[1:])\ntorch.ones(3).sum()\nsys.exit(5)\n")
    r = run_cli("trace", "-o", "o", "-m", "pkgx.job", "a", "--b", cwd=tmp_path)
    assert r.returncode == 5, r.stderr
    assert "ARGV ['a', '--b']" in r.stdout


def test_refuses_to_overwrite(tmp_path: Path, script: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = run_cli("trace", "-o", str(out), str(script))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "already exists" in r.stderr
    assert "ARGV" not in r.stdout  # the script never ran
    assert (out / "keep.txt").read_text() == "precious"


def test_missing_script(tmp_path: Path) -> None:
    r = run_cli("trace", str(tmp_path / "nope.py"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"skiprof: error: {tmp_path / 'nope.py'}: no such file"


def test_output_template(tmp_path: Path, script: Path) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, RANK="7", NO_COLOR="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    r = subprocess.run([sys.executable, "-m", "skiprof", "trace", "--no-report", "-o", "runs/%q{RANK}", str(script)],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs" / "7" / "meta.json").exists()
    assert "skiprof: wrote" not in r.stderr


def test_steps_window(tmp_path: Path, script: Path) -> None:
    r = run_cli("trace", "--steps", "1", "--skip-first", "1", "-o", str(tmp_path / "o"), str(script))
    assert r.returncode == 0, r.stderr
    t = skiprof.load(tmp_path / "o")
    assert t.regions.loc[t.regions["kind"] == "step", "step"].tolist() == [1]
    assert t.meta.capture.options.steps == 1


def test_import_and_load(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    r = run_cli("import", str(src), "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert "linked to their launch: 6 of 6 (100.00%)" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    t = skiprof.load(tmp_path / "o")
    assert len(t.kernels) == 7
    import pandas as pd
    import pyarrow.parquet as pq

    assert len(pd.read_parquet(tmp_path / "o" / "kernels.parquet")) == 7
    assert pq.read_table(tmp_path / "o" / "ops.parquet").num_rows == 5


def test_report_of_a_kineto_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """skiprof report FILE reads a raw Kineto file through the cache, as skiprof.load and whatif do: the
    same figures as the imported folder's report; a truncated file is one line and exit 2."""
    monkeypatch.setenv("SKIPROF_CACHE", str(tmp_path / "cache"))
    src = write_trace(tmp_path / "t.json", linking_trace())
    assert run_cli("import", str(src), "-o", str(tmp_path / "o"), "--no-report").returncode == 0
    direct = run_cli("report", str(src), "--format", "json")
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout)["launch"] == json.loads(run_cli("report", str(tmp_path / "o"), "--format", "json").stdout)["launch"]
    assert any((tmp_path / "cache").iterdir()) and json.loads(direct.stdout)["trace"] == str(src)
    # export and sql read the same cached import
    assert run_cli("export", str(src), "-o", str(tmp_path / "e.json")).returncode == 0
    if importlib.util.find_spec("duckdb"):
        n = run_cli("sql", str(src), "select count(*) as n from kernels", "--format", "csv")
        assert n.returncode == 0 and n.stdout.split() == ['"n"', "7"], (n.stdout, n.stderr)
    (tmp_path / "cut.json").write_text('{"traceEvents": [')
    bad = run_cli("report", str(tmp_path / "cut.json"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "truncated" in bad.stderr, bad.stderr


def test_import_folder_of_ranks(tmp_path: Path) -> None:
    folder = tmp_path / "ranks"
    folder.mkdir()
    for rank in (0, 1):
        write_trace(folder / f"worker_rank{rank}.json.gz", linking_trace(), distributedInfo={"rank": rank, "world_size": 2})
    r = run_cli("import", str(folder), "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "rank=1" / "kernels.parquet").exists()
    t = skiprof.load(tmp_path / "o")
    assert t.ranks == [0, 1]
    assert t.kernels.groupby("rank").size().tolist() == [7, 7]
    import pyarrow.dataset as ds

    files = sorted(str(p) for p in (tmp_path / "o").glob("rank=*/kernels.parquet"))
    d = ds.dataset(files, format="parquet").to_table()
    assert d.num_rows == 14 and sorted(set(d["rank"].to_pylist())) == [0, 1]


def test_cpu_only_import_says_so(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "cpu.json.gz", [linking_trace()[4]])
    r = run_cli("import", str(src), "-o", str(tmp_path / "o"))
    assert r.returncode == 0
    assert "no device activity" in r.stdout


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = write_trace(tmp / "good.json", linking_trace()).read_bytes()
    gz = gzip.compress(good)
    cases = {
        "empty": (b"", "empty file"),
        "truncated_json": (good[: len(good) // 2], "truncated or corrupt JSON"),
        "truncated_gz": (gz[: len(gz) // 2], "truncated gzip"),
        "corrupt_gz": (gz[:20] + b"\x00garbage" * 50 + gz[-10:], "corrupt gzip"),
        "not_json": (b"hello, this is not json", "not a JSON trace"),
        "wrong_shape": (json.dumps({"events": []}).encode(), 'without a "traceEvents"'),
        "a_number": (b"42", "not a JSON trace"),
    }
    out = {}
    for name, (data, msg) in cases.items():
        suffix = ".json.gz" if "gz" in name else ".json"
        p = tmp / f"{name}{suffix}"
        p.write_bytes(data)
        out[name] = (p, msg)
    return out


def test_bad_inputs_get_one_line(tmp_path: Path) -> None:
    for name, (path, msg) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out_{name}"
        r = run_cli("import", str(path), "-o", str(out))
        assert r.returncode == 2, (name, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, (name, r.stderr)
        assert str(path) in lines[0] and msg in lines[0], (name, lines[0])
        assert "Traceback" not in r.stderr
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_missing_trace_file(tmp_path: Path) -> None:
    r = run_cli("import", str(tmp_path / "nope.json.gz"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(skiprof.SkiprofError, match="not a trace folder"):
        skiprof.load(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"schema_version": 999}))
    with pytest.raises(skiprof.SkiprofError, match="schema version 999"):
        skiprof.load(tmp_path)


def test_help_explains() -> None:
    r = run_cli("trace", "--help")
    assert r.returncode == 0
    for flag in ("--output", "--force", "--delay", "--duration", "--steps", "--skip-first", "--record-shapes", "--with-stack", "--no-report", "--module"):
        assert flag in r.stdout


@needs_shared
def test_import_real_rocm_trace(tmp_path: Path) -> None:
    r = run_cli("import", str(TRACES / "hta_mi250_rocm_minitoy.json.gz"), "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert "(100.00%)" in r.stdout


def test_library_trace_context(tmp_path: Path) -> None:
    import torch

    with skiprof.trace(tmp_path / "lib") as handle, skiprof.region("compute"):
        torch.ones(4, 4) @ torch.ones(4, 4)
    t = skiprof.load(handle["path"])
    assert "compute" in set(t.regions["name"])
    assert handle["summary"].ranks[0].ops > 0


def test_ctrl_c_saves_trace(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "loop.py"
    script.write_text("import time, torch\nprint('READY', flush=True)\nwhile True:\n    torch.ones(8).sum()\n    time.sleep(0.01)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), NO_COLOR="1")
    import select

    # Ctrl-C as in a terminal: a test run started in the background by a shell inherits SIGINT
    # ignored, and Python (so the script under skiprof trace, as under python) would keep ignoring it.
    proc = subprocess.Popen([sys.executable, "-m", "skiprof", "trace", "-o", str(tmp_path / "o"), str(script)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    try:
        # Generous: on a loaded machine importing torch alone can take a minute. Never a blocking
        # read: a child that prints nothing must fail the test, not hang it.
        deadline, seen = time.time() + 240, ""
        while "READY" not in seen:
            assert time.time() < deadline and proc.poll() is None, (proc.returncode, seen)
            if select.select([proc.stdout], [], [], 1.0)[0]:
                seen += proc.stdout.readline()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:  # never leave the endless script running
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    t = skiprof.load(tmp_path / "o")
    assert "aten::ones" in set(t.ops["name"])


def test_delay_and_duration(tmp_path: Path) -> None:
    script = tmp_path / "steps.py"
    script.write_text(
        "import time, torch, skiprof\n"
        "for i in range(30):\n"
        "    torch.ones(64).sum()\n"
        "    time.sleep(0.05)\n"
        "    skiprof.step()\n"
    )
    r = run_cli("trace", "--delay", "0.4", "--duration", "0.5", "-o", str(tmp_path / "o"), str(script))
    assert r.returncode == 0, r.stderr
    t = skiprof.load(tmp_path / "o")
    sums = (t.ops["name"] == "aten::sum").sum()
    # 30 iterations of ~50 ms; a 0.5 s window holds about 10 of them, never all.
    assert 3 <= sums <= 20, sums
    assert t.meta.capture.options.delay == 0.4


def test_delay_longer_than_script(tmp_path: Path) -> None:
    script = tmp_path / "short.py"
    script.write_text("print('done')\n")
    r = run_cli("trace", "--delay", "30", "-o", str(tmp_path / "o"), str(script))
    assert r.returncode == 2
    assert "no trace recorded" in r.stderr and "--delay" in r.stderr
    assert not (tmp_path / "o").exists()


def test_report_end_to_end_on_captured_model(tmp_path: Path) -> None:
    r = run_cli("trace", "--no-report", "-o", str(tmp_path / "run"), "-m", "skiprof.workloads.example", "--steps", "3")
    assert r.returncode == 0, r.stderr
    term = run_cli("report", str(tmp_path / "run"))
    assert term.returncode == 0, term.stderr
    assert "Phases of end-to-end time" in term.stdout and "no-gpu-work" in term.stdout
    assert max(len(line) for line in term.stdout.splitlines()) <= 80
    js = run_cli("report", str(tmp_path / "run"), "--format", "json")
    d = json.loads(js.stdout)
    assert d["launch"]["has_device_activity"] is False
    phases = d["phases"]["by_phase"]
    assert phases["preprocessing"]["ns"] > 0 and phases["compute"]["ns"] > 0
    assert abs(sum(p["share"] for p in phases.values()) - 1) < 1e-9
    assert len(d["ops"]["top_ops"]) > 0 and len(d["boundness"]["steps"]) == 3
    md = run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "r.md"))
    assert md.returncode == 0 and (tmp_path / "r.md").read_text().startswith("# skiprof report")
    again = run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "r.md"))
    assert again.returncode == 2 and "already exists" in again.stderr
    step = run_cli("report", str(tmp_path / "run"), "--step", "1", "--format", "json")
    assert json.loads(step.stdout)["scope"].endswith("step 1")
    bad = run_cli("report", str(tmp_path / "run"), "--step", "99")
    assert bad.returncode == 2 and "no step 99" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("report", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "not a trace folder" in missing.stderr


@needs_shared
def test_report_on_real_gpu_trace(tmp_path: Path) -> None:
    run_cli("import", str(TRACES / "tl_h100_bert_small_inference.json.gz"), "-o", str(tmp_path / "b"))
    js = run_cli("report", str(tmp_path / "b"), "--format", "json", "--top", "3")
    assert js.returncode == 0, js.stderr
    d = json.loads(js.stdout)
    assert d["launch"]["kernels"] == 60 and d["launch"]["tklqt_ns"] > 0 and len(d["kernels"]["by_time"]) == 3
    assert abs(100 * d["hta"]["idle_share"] - 93.5) <= 1.0


def test_fusion_command(tmp_path: Path) -> None:
    from test_analyzers import _chain_trace

    src = write_trace(tmp_path / "c.json", _chain_trace())
    assert run_cli("import", str(src), "-o", str(tmp_path / "o")).returncode == 0
    r = run_cli("fusion", str(tmp_path / "o"), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [x["chain"] for x in json.loads(r.stdout)["fusion"]["chains"]] == [["C", "A", "B"], ["A", "B"], ["C", "A"]]
    t = run_cli("fusion", str(tmp_path / "o"))
    assert "Kernel chains worth fusing" in t.stdout and "aten::op_C" in t.stdout


def test_whatif_command(tmp_path: Path) -> None:
    from test_analyzers import _chain_trace

    src = write_trace(tmp_path / "c.json", _chain_trace())
    assert run_cli("import", str(src), "-o", str(tmp_path / "o")).returncode == 0
    r = run_cli("whatif", str(tmp_path / "o"), "--fuse", "top1", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["whatif"]
    assert (d["il_ns"], d["measured_il_ns"], d["knobs"]["fuse"]) == (810_000, 850_000, [["C", "A", "B"]])
    t = run_cli("whatif", str(tmp_path / "o"), "--launch-scale", "0.5")
    assert "predicted" in t.stdout
    bad = run_cli("whatif", str(tmp_path / "o"), "--cuda-graph", "nope")
    assert bad.returncode == 2 and "no region named 'nope'" in bad.stderr


def test_import_of_a_skiprof_folder_is_refused(tmp_path: Path) -> None:
    src = write_trace(tmp_path / "t.json", linking_trace())
    run_cli("import", str(src), "-o", str(tmp_path / "o"))
    r = run_cli("import", str(tmp_path / "o"), "-o", str(tmp_path / "again"))
    assert r.returncode == 2 and "is a skiprof trace folder" in r.stderr and not (tmp_path / "again").exists()
