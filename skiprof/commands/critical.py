"""``skiprof critical``: the critical path of a run."""
from __future__ import annotations

from ..render import Document
from ._common import FolderArg, ForceOpt, FormatOpt, OutputOpt, RankOpt, TopOpt, emit, load_view

__all__ = ["command", "HELP"]

HELP = ("The critical path: the chain of host work, runtime calls, launches, stream order and synchronizations that "
        "ends last, from the same replay skiprof whatif uses, so its length is the latency (IL). Its host and device "
        "shares, and the kernels and ops on it; skiprof export draws it as a track.")


def command(folder: FolderArg, top: TopOpt = 10, rank: RankOpt = None, fmt: FormatOpt = None, output: OutputOpt = None,
            force: ForceOpt = False) -> None:
    """``skiprof critical``: the critical path of one rank's whole run (help: HELP). No --step or
    --region: a chain of bound starts spans the run, and a scope of several windows has gaps."""
    from ..analyzers import Options, critical

    v = load_view(folder, rank=rank)
    emit(Document("critical", f"{folder} ({v.label})", {"trace": str(folder), "scope": v.label, "rank": v.rank},
                  [critical.run(v, Options(top=top))]), fmt, output, force)
