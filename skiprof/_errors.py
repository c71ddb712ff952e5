"""One error hierarchy for everything skiprof refuses to do.

Each error carries the exit code the CLI returns, so the CLI catches
``SkiprofError`` once, in ``main``, prints the message on one line and exits.
"""
from __future__ import annotations

__all__ = [
    "SkiprofError",
    "UsageError",
    "BadTraceError",
    "OutputExistsError",
    "ScriptNotFoundError",
    "TraceFolderError",
    "OutputError",
]


class SkiprofError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code: int = 2

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its message alone, whatever its __init__ takes: an error raised in a worker
        # process (one rank of a parallel import, a Dask task) reaches the parent intact.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[SkiprofError], message: str, state: dict[str, object]) -> SkiprofError:
    """Recreate a pickled SkiprofError with its message and attributes (errors cross process boundaries)."""
    err = Exception.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class UsageError(SkiprofError):
    """Options that do not make sense together or a bad option value."""


class BadTraceError(SkiprofError):
    """A trace file that is missing, empty, truncated, corrupt or of the wrong shape."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class OutputExistsError(SkiprofError):
    """The output folder exists and ``--force`` was not given."""

    def __init__(self, path: object) -> None:
        super().__init__(f"{path}: output already exists; pass -f/--force to overwrite it")
        self.path = path


class ScriptNotFoundError(SkiprofError):
    """The script or module to profile cannot be found."""


class TraceFolderError(SkiprofError):
    """A trace folder that cannot be loaded: missing files, wrong schema version."""


class OutputError(SkiprofError):
    """An output path that cannot be created or written (permissions, a full disk, a path that cannot exist)."""

    def __init__(self, path: object, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        where = exc.filename if exc.filename and str(exc.filename) != str(path) else None
        super().__init__(f"{path}: cannot write output ({why}{f': {where}' if where else ''})")
        self.path = path
