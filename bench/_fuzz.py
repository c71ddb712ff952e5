"""What the fuzzers share: the CLI run in-process under an alarm, the verdict on one command's ending, and the
loop that runs the cases in worker processes and tallies them."""
from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: The exit code ``cli`` reports for a command that ran past its alarm.
HUNG = -1


class _Hang(BaseException):
    """A command ran past the alarm (a BaseException: skiprof's own last-resort handler must not take it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Hang


def cli(argv: list[str], timeout: int = 0) -> tuple[int | None, str, str]:
    """``skiprof ARGV`` in this process: (exit code, stdout, stderr). The code is None when an exception escaped
    (a traceback, written to stderr), HUNG when ``timeout`` seconds passed first (0: no alarm)."""
    from skiprof.cli import main

    out, err = io.StringIO(), io.StringIO()
    if timeout:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = main(argv)
    except _Hang:
        code = HUNG
    except BaseException:
        err.write(traceback.format_exc())
        code = None
    finally:
        if timeout:
            signal.alarm(0)
    return code, out.getvalue(), err.getvalue()


def problem(cmd: str, code: int | None, err: str) -> str | None:
    """What is wrong with how a command ended, or None: only 0, or 2 with one line, is right."""
    if code is None or "Traceback" in err:
        return f"{cmd}: traceback\n{err[-2000:]}"
    if code == HUNG:
        return f"{cmd}: hung (no answer within the timeout)"
    if code not in (0, 2):
        return f"{cmd}: exit {code}: {err[-500:]}"
    if code == 2 and len([ln for ln in err.splitlines() if ln.strip()]) != 1:
        return f"{cmd}: exit 2 with {len(err.splitlines())} lines: {err[-500:]}"
    return None


def arguments(doc: str | None, timeout: int, what: str) -> argparse.Namespace:
    """The fuzzers' shared options: --cases, --seed, --workers and --timeout (seconds one ``what`` may take)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=min(2, multiprocessing.cpu_count()))
    ap.add_argument("--timeout", type=int, default=timeout, help=f"Seconds one {what} may take before it counts as a hang.")
    return ap.parse_args()


def drive(run_case: Callable[[Any], tuple[str, str | None]], jobs: Iterable[Any], total: int, workers: int,
          outcomes: tuple[str, ...], initializer: Callable[[], None] | None = None) -> tuple[dict[str, int], list[str]]:
    """Run every case in ``workers`` forked processes (not multiprocessing.Pool's daemons: a case may start a pool
    of its own); returns the tally of outcomes and the problems, printing progress every 100 cases."""
    tally = dict.fromkeys(outcomes, 0)
    failures: list[str] = []
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=initializer) as pool:
        for i, (outcome, bad) in enumerate(pool.map(run_case, jobs, chunksize=2), 1):
            tally[outcome] += 1
            if bad:
                failures.append(bad)
            if i % 100 == 0:
                print(f"  {i}/{total}: {tally}", file=sys.stderr, flush=True)
    for f in failures:
        print(f)
    return tally, failures
