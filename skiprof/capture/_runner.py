"""Run a script or module in this process as ``__main__``, the way ``python`` would.

The profiler only sees ops on threads of its own process, so the workload runs
in-process: ``sys.argv`` and ``sys.path[0]`` are set as ``python x.py`` and
``python -m pkg`` set them, and the script's exit status comes back as an int.
"""
from __future__ import annotations

import atexit
import builtins
import gc
import importlib.util
import os
import runpy
import sys
import threading
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ScriptNotFoundError

__all__ = ["Target", "resolve_target", "run_target", "finish_like_python", "release_script", "INTERRUPTED", "ran_user_code",
           "Terminated"]

INTERRUPTED = 130
_ran = False
_main: types.ModuleType | None = None
_saved: tuple[list[str], str | None, Any] = ([], None, None)


def ran_user_code() -> bool:
    """True once a target ran in this process: it then must exit the way python would, not fast."""
    return _ran


@dataclass(frozen=True)
class Target:
    """What to run: a script path or a module name, with its own arguments."""

    script: Path | None
    module: str | None
    args: tuple[str, ...]

    @property
    def label(self) -> str:
        """A short name for output folders: the script's stem or the module's last part."""
        if self.module:
            return self.module.rsplit(".", 1)[-1]
        assert self.script is not None
        return self.script.stem


def resolve_target(script: str | None, module: str | None, args: list[str]) -> Target:
    """Check that the script or module exists before anything is started."""
    if module:
        # python -m looks in the current folder first; the skiprof console script's sys.path does not.
        sys.path.insert(0, os.getcwd())
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as exc:
            raise ScriptNotFoundError(f"{module}: cannot find module ({exc})") from None
        finally:
            sys.path.remove(os.getcwd())
        if spec is None:
            raise ScriptNotFoundError(f"{module}: no module by that name")
        extra = [script] if script else []
        return Target(None, module, tuple(extra + args))
    if not script:
        raise ScriptNotFoundError("no script given (usage: skiprof trace SCRIPT [ARGS...] or -m MODULE)")
    path = Path(script)
    if not path.exists():
        raise ScriptNotFoundError(f"{script}: no such file")
    if path.is_dir() and not (path / "__main__.py").exists():
        raise ScriptNotFoundError(f"{script}: is a folder without __main__.py")
    return Target(path, None, tuple(args))


def _exit_status(code: object) -> int:
    """The exit code a ``sys.exit(code)`` gives under plain python (None 0, ints modulo 256, anything else printed
    and 1)."""
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr)  # sys.exit("message") prints the message and exits 1
    return 1


def _main_module(file: str | None, spec: Any = None) -> types.ModuleType:
    """A fresh ``__main__`` module, installed in sys.modules as python installs the script's."""
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=file, __builtins__=builtins, __spec__=spec, __loader__=getattr(spec, "loader", None),
                         __package__=getattr(spec, "parent", None) if spec is not None else None, __cached__=None)
    sys.modules["__main__"] = main
    return main


def _module_code(name: str) -> tuple[Any, Any]:
    """(spec, code) of a module as ``python -m`` runs it: a package runs its __main__ submodule."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    if spec.submodule_search_locations is not None:
        return _module_code(name + ".__main__")
    return spec, spec.loader.get_code(spec.name)  # type: ignore[attr-defined]


def _execute(target: Target) -> None:
    """Run the target's code in the ``__main__`` module, the way python does."""
    global _main
    if target.module:
        sys.argv = [target.module, *target.args]
        sys.path[0] = os.getcwd()
        spec, code = _module_code(target.module)
        _main = _main_module(spec.origin, spec)
        sys.argv[0] = spec.origin or target.module
        exec(code, _main.__dict__)
        return
    assert target.script is not None
    path = target.script
    sys.argv = [str(path), *target.args]
    sys.path[0] = str(path.resolve().parent if path.is_file() else path.resolve())
    if not path.is_file():  # a folder or zip with __main__.py: runpy knows those layouts
        runpy.run_path(str(path), run_name="__main__")
        return
    _main = _main_module(str(path))
    exec(compile(path.read_bytes(), str(path), "exec"), _main.__dict__)


class Terminated(BaseException):
    """SIGTERM or SIGHUP reached a script that set no handler of its own: it unwinds like Ctrl-C (its ``finally``
    blocks run) so that the trace is saved; the exit status is still 128 + the signal, as the shell shows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _catch_termination() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into Terminated where they would kill the process outright (their handler is the
    default one, not ignored: ``nohup`` and a parent's choice stand); returns the handlers to put back."""
    import signal

    old: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, _terminate)
    return old


def _restore_handlers(old: dict[int, Any]) -> None:
    import signal

    for sig, handler in old.items():
        if signal.getsignal(sig) is _terminate:  # the script may have set its own meanwhile: it stays
            signal.signal(sig, handler)


def run_target(target: Target) -> int:
    """Run the target to completion; returns its exit status (1 for an uncaught exception, 130 for Ctrl-C,
    128 + N for SIGTERM or SIGHUP).

    The script's ``__main__`` module stays in place until release_script, so its globals live
    on for its threads and atexit handlers, as under python. A child the script forks that ends
    here (``sys.exit`` or the end of the script) ends as python would end it, without any of
    skiprof's work: that belongs to the parent.
    """
    global _ran, _saved, _origin_pid
    from .._gcpace import restore

    _ran = True
    _origin_pid = os.getpid()
    restore()  # the script runs at python's own collector pace
    _saved = (sys.argv[:], sys.path[0] if sys.path else None, sys.modules.get("__main__"))
    old = _catch_termination()
    os._exit = _reported_exit  # type: ignore[assignment]
    try:
        code = _run_guarded(target)
    finally:
        os._exit = _REAL_EXIT
        if os.getpid() == _origin_pid:
            _restore_handlers(old)
    if os.getpid() != _origin_pid:
        _exit_child(code)
    return code


def _run_guarded(target: Target) -> int:
    """Execute the target; its exit status however it ends."""
    try:
        _execute(target)
        return 0
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        if os.getpid() == _origin_pid:
            print("\nskiprof: interrupted; saving the trace", file=sys.stderr)
        return INTERRUPTED
    except Terminated as exc:
        import signal

        if os.getpid() == _origin_pid:
            print(f"\nskiprof: {signal.Signals(exc.signum).name} received; saving the trace", file=sys.stderr)
        return 128 + exc.signum
    except BaseException:
        _print_user_traceback()
        return 1


def _exit_child(code: int) -> None:
    """End a process the script forked the way python ends one: its threads joined, its atexit handlers run, its
    output flushed; then exit, before any of skiprof's work (the parent writes the trace)."""
    try:
        _join_threads()
    except KeyboardInterrupt:
        code = INTERRUPTED
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    _REAL_EXIT(code)


_REAL_EXIT = os._exit
_origin_pid = -1


def _reported_exit(code: int) -> None:
    """``os._exit`` while skiprof records: the process still ends at once with ``code``, as under python; in the
    process skiprof runs in (not a forked child, which uses it routinely), on the main thread, the profiler is
    stopped first so that its raw trace is kept, and one line says where."""
    if os.getpid() == _origin_pid:
        where = "its trace was not saved"
        try:
            from ._session import active_session

            session = active_session()
            if session is not None and threading.current_thread() is threading.main_thread():
                session.stop()
                if session.exported:
                    where = (f"its raw trace is kept at {session.trace_path}: `skiprof import {session.trace_path} "
                             "-o DIR` makes the trace folder")
        except Exception:  # nothing may stop the exit the script asked for
            pass
        try:
            os.write(2, f"skiprof: the script called os._exit({code}); {where}\n".encode())
        except OSError:
            pass
    _REAL_EXIT(code)


def finish_like_python(code: int) -> int:
    """Do what the interpreter does after ``__main__`` returns, up to its globals: join the
    non-daemon threads, then run the atexit handlers (each failure is printed and the rest still
    run, as python does). ``release_script`` then frees the globals, once the profiler is stopped.

    Returns the exit status: Ctrl-C while waiting gives 130, otherwise ``code`` is kept.
    """
    try:
        _join_threads()
    except KeyboardInterrupt:
        print("\nskiprof: interrupted while waiting for the script's threads; saving the trace", file=sys.stderr)
        code = INTERRUPTED
    atexit._run_exitfuncs()
    return code


def release_script() -> None:
    """Free the script's globals, as python's shutdown does, which flushes and closes the files it left
    open, and give skiprof back its own argv, path and ``__main__``.

    Called after the profiler has stopped: the destructors that run here (a model's, a process
    group's) are teardown, not the script's work, and a gloo rank was once seen hanging in them
    with the profiler still on (tests/test_ranks.py retries such a world)."""
    global _main
    if _main is not None:
        _main.__dict__.clear()
        _main = None
    argv, path0, main = _saved
    sys.argv = argv
    if path0 is not None and sys.path:
        sys.path[0] = path0
    if main is not None:
        sys.modules["__main__"] = main
    gc.collect()  # functions and their globals form cycles that only a collection frees


def _stop_idle_executors() -> None:
    """What python's shutdown does for concurrent.futures before it joins threads: each ThreadPoolExecutor's
    workers are told to finish their queue and exit (their threads are not daemons, and an idle one would
    otherwise wait for work for ever). The module's shutdown flag is set only while they leave: skiprof's own
    writers use executors after the script."""
    import concurrent.futures.thread as cft

    queues = list(getattr(cft, "_threads_queues", {}).items())
    if not queues or not hasattr(cft, "_shutdown"):
        return
    cft._shutdown = True
    try:
        for _, work in queues:
            work.put(None)
        for worker, _ in queues:
            worker.join()
    finally:
        cft._shutdown = False


def _join_threads() -> None:
    """Wait for every non-daemon thread the script left running (they may start more)."""
    _stop_idle_executors()
    me = threading.current_thread()
    while True:
        alive = [t for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
        if not alive:
            return
        for t in alive:
            t.join()


def _print_user_traceback() -> None:
    """The script's traceback without skiprof's and runpy's frames on top."""
    etype, value, tb = sys.exc_info()
    here = os.path.dirname(os.path.dirname(__file__))
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith(here) or "runpy" in tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(etype, value, tb)
