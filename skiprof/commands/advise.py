"""``skiprof advise``: the verdict and the ranked fixes alone, for CI logs and chat."""
from __future__ import annotations

from ..render import Document
from ._common import FolderArg, ForceOpt, FormatOpt, OutputOpt, RankOpt, RegionOpt, StepOpt, check_file, emit, load_view

__all__ = ["command", "HELP"]

HELP = ("Why the GPU is not busy, in a few sentences, and the fixes that would shorten the run most, each scored by "
        "replaying the trace (skiprof whatif) with the command to check it. The first two sections of skiprof report.")


def command(folder: FolderArg, fmt: FormatOpt = None, output: OutputOpt = None, force: ForceOpt = False,
            step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None) -> None:
    """``skiprof advise``: the verdict and the ranked fixes of one view (help text: HELP)."""
    check_file(output, force, [folder])  # before any work
    from ..analyzers import Options, report

    shown = ("verdict", "fixes")
    v = load_view(folder, rank=rank, step=step, region=region, analyses=shown)
    results = report(v, Options(), "json", only=shown)
    emit(Document("advise", f"{folder} ({v.label})", {"trace": str(folder), "scope": v.label, "rank": v.rank}, results),
         fmt, output, force, [folder])
