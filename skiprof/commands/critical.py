"""``skiprof critical``: the critical path of a run."""
from __future__ import annotations

from ..render import Document
from ._common import FolderArg, ForceOpt, FormatOpt, OutputOpt, RankOpt, RegionOpt, StepOpt, TopOpt, check_file, emit, load_view

__all__ = ["command", "HELP"]

HELP = ("The critical path: the chain of host work, runtime calls, launches, stream order and synchronizations that "
        "ends last, from the same replay skiprof whatif uses, so its length is the latency (IL). Its host and device "
        "shares, and the kernels and ops on it; skiprof export draws it as a track. With --step or --region: the run's "
        "path within that step's or region's time.")


def command(folder: FolderArg, top: TopOpt = 10, step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None,
            fmt: FormatOpt = None, output: OutputOpt = None, force: ForceOpt = False) -> None:
    """``skiprof critical``: the critical path of one rank's run, or its part within a step or region (help: HELP)."""
    check_file(output, force, [folder])  # before any work
    from ..analyzers import Options, critical

    v = load_view(folder, rank=rank, step=step, region=region, analyses=("critical",))
    emit(Document("critical", f"{folder} ({v.label})", {"trace": str(folder), "scope": v.label, "rank": v.rank},
                  [critical.run(v, Options(top=top))]), fmt, output, force, [folder])
