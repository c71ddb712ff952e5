"""``skiprof diff``: two runs side by side, matched by name."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..render import Document
from ._common import ForceOpt, FormatOpt, OutputOpt, RankOpt, RegionOpt, StepOpt, TopOpt, check_file, emit, load_view

__all__ = ["command", "HELP"]

HELP = ("Compare two runs (trace folders, sweep runs or Kineto files): ops, kernels, regions and phases matched by name "
        "(kernel template arguments and tile sizes normalised), each with A, B and the change; the latency change split "
        "by phase and by top-level op, each summing exactly to it; boundness and TKLQT per region.")


def command(
    a: Annotated[Path, typer.Argument(help="The first run (A, the baseline).", show_default=False)],
    b: Annotated[Path, typer.Argument(help="The second run (B).", show_default=False)],
    top: TopOpt = 10, step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None, fmt: FormatOpt = None,
    output: OutputOpt = None, force: ForceOpt = False,
) -> None:
    """``skiprof diff``: compare run A with run B (help: HELP)."""
    check_file(output, force, [a, b])  # before any work
    from ..analyzers import diff

    # The same step or region of both runs: step 5 of A against step 5 of B.
    va, vb = load_view(a, rank=rank, step=step, region=region), load_view(b, rank=rank, step=step, region=region)
    res = diff.diff(va, vb, top=top, names=(str(a), str(b)))
    emit(Document("diff", f"{a} -> {b}", {"a": str(a), "b": str(b), "rank": va.rank}, [res]), fmt, output, force, [a, b])
