"""Fuzz of skiprof's command line: odd values at every option of every command give an answer or one line and exit 2.

    python bench/fuzz_cli.py --cases 1000 [--seed 1] [--workers 2] [--timeout 60]

The options come from the CLI itself (each command's click parameters), so a new option is fuzzed without
an edit here. Each case starts from a valid command line on a small imported trace and gives one to three of
its options or arguments an odd value: NaN, infinities, 1e308, huge and negative integers, text where a
number belongs, empty strings, control characters, a 5,000-character name, and paths that are missing, a
folder, a FIFO, a regular file that is not a trace, ``/`` or a name with a newline. Outputs only ever point
inside the run's temporary folder (or ``/``, which must be refused). ``trace`` and ``sweep`` run a trivial
script in a subprocess (they run user code); the other commands run in-process under an alarm.
``calibrate`` is fuzzed only with values its parser must refuse (a valid one measures for minutes).
A case that names a Dask scheduler or engine also runs in a subprocess: a Dask client
is only sound in a fresh process. ``signal`` runs with an empty runtime folder, so that no process is armed and nothing can be signalled.

A case fails when a command raises (a traceback), hangs past the timeout, ends in skiprof's internal
error (exit 3), or exits 2 with more than one line. Prints the tally and every failure; exits 1 if
there was any.
"""
from __future__ import annotations

import contextlib
import os
import random
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._fuzz import HUNG, arguments, cli, drive  # noqa: E402

FLOATS = ["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "-1", "0", "1e-300", "abc", "", "1e6", "0.5", "1e400"]
INTS = ["-1", "0", "1", "3", str(2**70), str(-(2**70)), "99999999999999999999", "abc", "", "1e3", "1.5", "nan"]
TEXTS = ["", "x", "\x1b[2J\x1b]0;t\x07", "a" * 5000, "nan", "tcp://", "../..", "USR2", "KILL", "top5", "top0",
         "batch_size=1,2", "=", "a=", "line\nbreak", "-1"]
VALID_FMT = ["terminal", "json", "markdown", "html", "csv", "chrome", "local", "dask"]
SUBPROCESS = {"trace", "sweep"}
#: Valid command lines (placeholders: F the trace folder, K its Kineto file, S a trivial script, O an output).
BASE = {
    "import": ["import", "K", "-o", "O", "--no-report"], "report": ["report", "F", "--format", "json"],
    "advise": ["advise", "F"], "transition": ["transition", "F"], "fusion": ["fusion", "F"],
    "whatif": ["whatif", "F", "--launch-scale", "0.5"], "critical": ["critical", "F"], "diff": ["diff", "F", "F"],
    "export": ["export", "F", "-o", "O.json"], "sql": ["sql", "F", "select count(*) from kernels"],
    "signal": ["signal", "1"], "calibrate": ["calibrate", "--dry-run"], "trace": ["trace", "-o", "O", "S"],
    "sweep": ["sweep", "S", "--param", "n=1", "-o", "O"],
}


def _params(command: str) -> list[Any]:
    """The click parameters of one command, read from the CLI itself."""
    from typer.main import get_command

    from skiprof.cli import app_for

    return list(get_command(app_for([command])).commands[command].params)


def _paths(tmp: Path) -> list[str]:
    """Odd paths, all inside ``tmp`` (but ``/``, which every output must refuse)."""
    return [str(tmp / "missing"), "", "/", str(tmp / "fifo"), str(tmp / "dir"), str(tmp / "plain.txt"),
            str(tmp / ("n" * 300)), str(tmp / "x\ny"), str(tmp / "F"), str(tmp / "K.json"), str(tmp / "out" / "deep" / "o.json")]


def _odd(rng: random.Random, param: Any, tmp: Path) -> str:
    """An odd value for one parameter, by its type."""
    kind = type(param.type).__name__
    if kind == "FuncParamType":
        return rng.choice(FLOATS)
    if kind in ("IntRange", "IntParamType"):
        return rng.choice(INTS)
    if kind == "TyperChoice":
        return rng.choice(VALID_FMT + ["", "NOPE", "\x1b"])
    if kind == "TyperPath" or param.name in ("output", "script", "module"):
        return rng.choice(_paths(tmp))
    return rng.choice(TEXTS + _paths(tmp))


def case_argv(rng: random.Random, command: str, tmp: Path) -> list[str]:
    """A command line for ``command`` with one to three odd values."""
    subst = {"F": str(tmp / "F"), "K": str(tmp / "K.json"), "S": str(tmp / "s.py"), "O": str(tmp / "o"),
             "O.json": str(tmp / "o.json")}
    argv = [subst.get(a, a) for a in BASE[command]]
    params = [p for p in _params(command) if not getattr(p, "is_flag", False)]
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(params)
        value = _odd(rng, p, tmp)
        if command == "calibrate" and p.name == "repeats":
            value = rng.choice(["-1", "0", "abc", "nan", str(2**70), "1001"])  # refused by its parser, never run
        elif command == "calibrate":
            return [*argv, "--repeats", "0"]
        if p.opts[0].startswith("-"):
            argv += [p.opts[0], value]
        elif p.nargs == -1:
            argv.append(value)
        else:  # a positional argument: replace the one in the base line
            positions = [i for i, a in enumerate(argv[1:], 1) if not a.startswith("-") and argv[i - 1] not in
                         ("-o", "--format", "--launch-scale", "--param")]
            if positions:
                argv[rng.choice(positions)] = value
    if rng.random() < 0.3:
        argv.append("-f")
    return argv


def _subprocess(argv: list[str], timeout: int, tmp: Path) -> tuple[int | None, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    try:
        r = subprocess.run([sys.executable, "-m", "skiprof", *argv], capture_output=True, text=True, timeout=timeout,
                           env=env, cwd=tmp, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return HUNG, ""
    return r.returncode, r.stderr


def run_case(args: tuple[int, int, int, str]) -> tuple[str, str | None]:
    """One case; returns (outcome, problem or None)."""
    seed, case, timeout, base = args
    rng = random.Random(seed * 1_000_003 + case)
    command = rng.choice(sorted(BASE))
    if command in SUBPROCESS and rng.random() < 0.8:  # a subprocess costs seconds: fewer of these
        command = rng.choice(sorted(set(BASE) - SUBPROCESS))
    with tempfile.TemporaryDirectory(dir=base) as t:
        tmp = Path(t)
        _lay_out(tmp, Path(base))
        argv = case_argv(rng, command, tmp)
        with _draining(tmp / "fifo"):  # a FIFO given as -o has a reader, as it would in real use
            # Dask keeps an event loop and threads per process: a client is only sound in a fresh process, as users run it.
            fresh = command in SUBPROCESS or "--scheduler" in argv or "--engine" in argv
            code, err = _subprocess(argv, timeout, tmp) if fresh else cli(argv, timeout)[::2]
    problem = None
    if code is None or "Traceback" in err:
        problem = f"traceback\n{err[-2000:]}"
    elif code == HUNG:
        problem = "hung (no answer within the timeout)"
    elif code == 3 or "internal error" in err:
        problem = f"internal error: {err[-500:]}"
    elif code == 2 and len([ln for ln in err.splitlines() if ln.strip()]) != 1:
        problem = f"exit 2 with {len(err.splitlines())} lines: {err[-500:]}"
    if problem:
        return "failed", f"case {case}: skiprof {' '.join(repr(a) if len(a) < 80 else repr(a[:80]) + '...' for a in argv)}\n  {problem}"
    return ("answered" if code in (0, 1) or (command in SUBPROCESS and code not in (2,)) else "refused"), None


@contextlib.contextmanager
def _draining(fifo: Path) -> Iterator[None]:
    """A reader on ``fifo`` for as long as the case runs (opened without waiting for a writer, and drained)."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready and not os.read(fd, 1 << 16):
                time.sleep(0.05)  # the writer closed: nothing to read until the next one

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join()
        os.close(fd)


def _lay_out(tmp: Path, base: Path) -> None:
    """The case's inputs: the trace folder, its Kineto file, a script, a folder, a FIFO and a plain file."""
    import shutil

    shutil.copytree(base / "seed", tmp / "F")
    shutil.copy(base / "K.json", tmp / "K.json")
    (tmp / "s.py").write_text("import argparse\nargparse.ArgumentParser().parse_known_args()\n")
    (tmp / "dir").mkdir()
    (tmp / "plain.txt").write_text("not a trace\n")
    os.mkfifo(tmp / "fifo")


def prepare(base: Path) -> None:
    """The seed folder and its Kineto file, made once."""
    sys.path.insert(0, str(ROOT / "tests"))
    from kineto import linking_trace, write_trace
    from skiprof.commands.import_ import run_import

    src = write_trace(base / "K.json", linking_trace())
    run_import([src], base / "seed", force=False)


def main() -> int:
    a = arguments(__doc__, 60, "case")
    with tempfile.TemporaryDirectory() as base:
        for var, sub in (("SKIPROF_CACHE", "cache"), ("SKIPROF_RUNTIME", "runtime")):
            os.environ[var] = str(Path(base) / sub)  # no process is armed: signal can signal nothing
        prepare(Path(base))
        jobs = [(a.seed, i, a.timeout, base) for i in range(a.cases)]
        tally, failures = drive(run_case, jobs, a.cases, a.workers, ("answered", "refused", "failed"))
    print(f"{a.cases} cases (seed {a.seed}): {tally['answered']} answered, {tally['refused']} refused with one line "
          f"and exit 2, {tally['failed']} failed (tracebacks, hangs, internal errors, or more than one line)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
