"""Run a script or module in this process as ``__main__``, the way ``python`` would.

The profiler only sees ops on threads of its own process, so the workload runs
in-process: ``sys.argv`` and ``sys.path[0]`` are set as ``python x.py`` and
``python -m pkg`` set them, and the script's exit status comes back as an int.
"""
from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from .._errors import ScriptNotFoundError

__all__ = ["Target", "resolve_target", "run_target", "INTERRUPTED"]

INTERRUPTED = 130


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
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as exc:
            raise ScriptNotFoundError(f"{module}: cannot find module ({exc})") from None
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
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr)  # sys.exit("message") prints the message and exits 1
    return 1


def run_target(target: Target) -> int:
    """Run the target to completion; returns its exit status (1 for an uncaught exception, 130 for Ctrl-C)."""
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    try:
        if target.module:
            sys.argv = [target.module, *target.args]  # run_module puts the file path here
            sys.path[0] = os.getcwd()
            runpy.run_module(target.module, run_name="__main__", alter_sys=True)
        else:
            assert target.script is not None
            sys.argv = [str(target.script), *target.args]
            sys.path[0] = str(target.script.resolve().parent if target.script.is_file() else target.script.resolve())
            runpy.run_path(str(target.script), run_name="__main__")
        return 0
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        print("\nskiprof: interrupted; saving the trace", file=sys.stderr)
        return INTERRUPTED
    except BaseException:
        _print_user_traceback()
        return 1
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0


def _print_user_traceback() -> None:
    """The script's traceback without skiprof's and runpy's frames on top."""
    etype, value, tb = sys.exc_info()
    here = os.path.dirname(os.path.dirname(__file__))
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith(here) or "runpy" in tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(etype, value, tb)
