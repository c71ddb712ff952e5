"""Output folder names: the default, and nsys-style ``%p`` / ``%q{ENV}`` expansion."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .._errors import UsageError

__all__ = ["expand_output", "default_output"]

_TOKEN = re.compile(r"%q\{([^}]*)\}|%p|%h|%%")


def expand_output(template: str) -> Path:
    """Expand ``%p`` (pid), ``%h`` (host name), ``%q{ENV}`` (environment variable) and ``%%``."""

    def sub(m: re.Match[str]) -> str:
        """Expand one %-token of an output name: %p, %h, %% or %q{ENV}."""
        tok = m.group(0)
        if tok == "%p":
            return str(os.getpid())
        if tok == "%h":
            return os.uname().nodename
        if tok == "%%":
            return "%"
        name = m.group(1)
        if name not in os.environ:
            raise UsageError(f"-o {template}: environment variable {name} (from %q{{{name}}}) is not set")
        return os.environ[name]

    return Path(_TOKEN.sub(sub, template))


def default_output(label: str) -> Path:
    """``skiprof-<script>-<YYYYmmdd-HHMMSS>`` in the current folder."""
    return Path(f"skiprof-{label}-{time.strftime('%Y%m%d-%H%M%S')}")
