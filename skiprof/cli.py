"""The ``skiprof`` command line: it only registers the commands of ``skiprof.commands``.

``main(argv) -> int`` is the one place where errors become exit codes and one-line messages, so
tests can drive the CLI in-process.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from ._errors import SkiprofError
from ._names import printable
from .commands import COMMANDS

try:  # typer >= 0.26 carries its own copy of click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer on real click
    from click import exceptions as _click_errors  # type: ignore[no-redef]

__all__ = ["app_for", "main", "main_entry"]

HELP = ("Trace profiler and analyzer for PyTorch: why is the GPU not busy?\n\n"
        "skiprof trace runs a script under torch.profiler and writes a trace folder (Parquet tables + meta.json); "
        "skiprof import does the same for any Kineto trace; report, advise, diff, critical, whatif, fusion, "
        "transition, sql and export analyze it.")


def _version(value: bool) -> None:
    if value:
        from ._version import __version__

        print(f"skiprof {__version__}")
        raise typer.Exit(0)


def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)] = False,
) -> None:
    """Trace profiler and analyzer for PyTorch: why is the GPU not busy?"""


def app_for(argv: list[str]) -> typer.Typer:
    """The CLI for one command line: every command when it names none (the top-level help, a typo),
    else only the command it names. Importing one command's module instead of all fourteen keeps
    every command's start-up short (a report is over in half a second)."""
    app = typer.Typer(name="skiprof", add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                      pretty_exceptions_enable=False, help=HELP)
    # With a callback the app stays a group even with one command registered: `skiprof report ...`
    # parses as it does with all of them.
    app.callback()(_root)
    named = [c for c in COMMANDS if argv and c[0] == argv[0]]
    for name, module in named or COMMANDS:
        mod = importlib.import_module(f".commands.{module}", __package__)
        app.command(name, help=mod.HELP, context_settings=getattr(mod, "CONTEXT", None))(mod.command)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app_for(argv)(args=argv, prog_name="skiprof", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except _click_errors.NoArgsIsHelpError as exc:  # bare `skiprof` or `skiprof CMD`: the help is the answer
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), file=sys.stderr)
        return 2
    except _click_errors.UsageError as exc:  # the option parser's complaint, in one line
        where = exc.ctx.command_path if exc.ctx is not None else "skiprof"
        print(f"skiprof: error: {printable(exc.format_message())} (see {where} --help)", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("skiprof: interrupted", file=sys.stderr)
        return 130
    except SkiprofError as exc:
        print(f"skiprof: error: {printable(str(exc))}", file=sys.stderr)  # one line, whatever names it holds
        return exc.exit_code
    except OSError as exc:  # a filesystem problem nobody turned into a SkiprofError: still one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(printable(f"skiprof: error: {where}{exc.strerror or exc}"), file=sys.stderr)
        return 2
    except MemoryError:
        print("skiprof: error: out of memory (try fewer --jobs, or one --rank at a time)", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of skiprof's own: still one line, the traceback on request
        if os.environ.get("SKIPROF_DEBUG"):
            raise
        print(f"skiprof: internal error: {type(exc).__name__}: {printable(str(exc))} (set SKIPROF_DEBUG=1 for the traceback, and "
              "please report it)", file=sys.stderr)
        return 3


def main_entry() -> None:
    """Console-script entry point.

    Commands that ran no user code exit without tearing the interpreter down: freeing a large
    trace's objects one by one takes longer than the OS reclaiming the whole process. After
    ``skiprof trace`` the interpreter shuts down normally, as it would under plain python, so that
    files the script left open are flushed and closed.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    runner = sys.modules.get(f"{__package__}.capture._runner")  # only a command that runs a script loads it
    if runner is not None and runner.ran_user_code():
        sys.exit(code)
    os._exit(code)
