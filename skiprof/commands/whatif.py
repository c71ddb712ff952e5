"""``skiprof whatif``: replay the trace with changed costs and predict latency, idle and boundness."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import UsageError
from ..render import Document
from ._common import SCALE_MAX, FolderArg, ForceOpt, FormatOpt, OutputOpt, RankOpt, RegionOpt, StepOpt, check_file, emit, finite, load_view

__all__ = ["command", "HELP", "parse_fuse"]

HELP = ("Predict latency, GPU idle and boundness with faster or slower launches, host or device, fused kernel chains, "
        "a region run as one CUDA graph, asynchronous copies or preprocessing moved off the critical path, by replaying "
        "the trace's own timeline.")


def parse_fuse(text: str) -> int:
    """``topN`` -> N."""
    m = re.fullmatch(r"top(\d+)", text)
    if not m or int(m.group(1)) < 1:
        raise UsageError(f"--fuse {text!r}: expected topN, e.g. top5")
    return int(m.group(1))


def command(
    folder: FolderArg,
    launch_scale: Annotated[float, typer.Option("--launch-scale", help="Multiply launch cost (call and wait to kernel start).", parser=finite(0.0, SCALE_MAX), metavar="X")] = 1.0,
    host_scale: Annotated[float, typer.Option("--host-scale", help="Multiply host work between calls (a slower or faster CPU).", parser=finite(0.0, SCALE_MAX), metavar="X")] = 1.0,
    device_scale: Annotated[float, typer.Option("--device-scale", help="Multiply device activity durations.", parser=finite(0.0, SCALE_MAX), metavar="X")] = 1.0,
    fuse: Annotated[Optional[str], typer.Option("--fuse", help="topN: fuse the N best chains of skiprof fusion.", show_default=False)] = None,
    cuda_graph: Annotated[Optional[str], typer.Option("--cuda-graph", help="Run each occurrence of this region as one graph launch.", show_default=False)] = None,
    async_copies: Annotated[bool, typer.Option("--async-copies", help="Copies from pageable memory and synchronous memcpy calls become asynchronous (pinned memory, non_blocking=True).")] = False,
    offload: Annotated[Optional[list[str]], typer.Option("--offload", metavar="REGION", show_default=False, help="Take this region's host time off the critical path (preprocessing done ahead); repeatable.")] = None,
    compare: Annotated[Optional[Path], typer.Option("--compare", metavar="DIR", show_default=False, help="A real second run (say, with the change applied): its measured latency beside the prediction, and the error.")] = None,
    step: StepOpt = None, region: RegionOpt = None, rank: RankOpt = None, fmt: FormatOpt = None,
    output: OutputOpt = None, force: ForceOpt = False,
) -> None:
    """``skiprof whatif``: replay one view with the given knobs and show the prediction (help: HELP)."""
    check_file(output, force, [folder, *([compare] if compare else [])])  # before any work
    from ..analyzers import Options, fusion, whatif

    n = parse_fuse(fuse) if fuse else 0
    v = load_view(folder, rank=rank, step=step, region=region, analyses=("whatif",))
    for flag, name in [("--cuda-graph", cuda_graph)] + [("--offload", n) for n in offload or []]:
        if name and not v.regions["name"].eq(name).any():
            raise UsageError(f"{flag}: no region named {name!r} in {folder}")
    chains = tuple(tuple(c) for c in fusion.chain_columns(v, top=n)["chain"]) if n else ()
    knobs = whatif.Knobs(launch_scale, host_scale, device_scale, chains, cuda_graph, async_copies, tuple(offload or ()))
    res = whatif.run(v, Options(knobs=knobs))
    if compare is not None:
        import msgspec

        res = msgspec.structs.replace(res, compare=whatif.measured_against(res.prediction, load_view(compare, rank=rank, step=step, region=region), str(compare)))
    emit(Document("whatif", f"{folder} ({v.label})", {"trace": str(folder), "scope": v.label, "rank": v.rank}, [res]),
         fmt, output, force, [folder, *([compare] if compare else [])])
