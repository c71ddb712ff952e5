"""``skiprof fusion``: kernel chains worth fusing (SKIP's proximity score)."""
from __future__ import annotations

from typing import Annotated

import typer

from ..render import Document
from ._common import FolderArg, ForceOpt, FormatOpt, OutputOpt, RankOpt, RegionOpt, StepOpt, check_file, emit, finite, load_view

__all__ = ["command", "HELP"]

HELP = ("Kernel-fusion candidates: chains of kernels that keep following each other on a stream, scored by SKIP's "
        "proximity score and ranked by the launch time fusing them would save.")


def command(
    folder: FolderArg,
    max_len: Annotated[int, typer.Option("--max-len", help="Longest chain considered.", min=2, max=16)] = 4,
    threshold: Annotated[float, typer.Option("--threshold", help="Minimum proximity score, 0 to 1.", parser=finite(0.0, 1.0), metavar="SCORE")] = 0.8,
    min_count: Annotated[int, typer.Option("--min-count", help="Minimum occurrences of a chain.", min=1, max=10**9)] = 2,
    top: Annotated[int, typer.Option("--top", help="Chains shown.", min=1, max=1_000_000)] = 10,
    step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None, fmt: FormatOpt = None,
    output: OutputOpt = None, force: ForceOpt = False,
) -> None:
    """``skiprof fusion``: the kernel chains worth fusing in one rank (help: HELP)."""
    check_file(output, force, [folder])  # before any work
    from ..analyzers import Options, fusion

    v = load_view(folder, rank=rank, step=step, region=region, analyses=("fusion",))
    res = fusion.run(v, Options(top=top, max_len=max_len, threshold=threshold, min_count=min_count))
    emit(Document("fusion", f"{folder} ({v.label})", {"trace": str(folder), "scope": v.label, "rank": v.rank}, [res]),
         fmt, output, force, [folder])
