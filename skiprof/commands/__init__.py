"""One module per subcommand, each with ``command`` (the typer function) and ``HELP``; what they
share (options, output handling) is in ``_common``. ``COMMANDS`` is what the CLI registers."""
from __future__ import annotations

__all__ = ["COMMANDS"]

#: (name, module) in help order.
COMMANDS = (
    ("trace", "trace"), ("import", "import_"), ("report", "report"), ("advise", "advise"), ("sweep", "sweep"),
    ("transition", "transition"), ("fusion", "fusion"), ("whatif", "whatif"), ("critical", "critical"), ("diff", "diff"), ("export", "export"),
    ("sql", "sql"), ("signal", "signal"), ("calibrate", "calibrate"),
)
