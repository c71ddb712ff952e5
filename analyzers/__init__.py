"""Analyzers: pure functions of a loaded trace view, one module per question.

    from skiprof.analyzers import select, launch
    v = select(skiprof.load("run"), step=3)
    launch.summary(v).tklqt_ns

Every analysis has ``run(view, options) -> Result`` (skiprof._result). ``REGISTRY`` lists them: the
report runs the ones marked ``in_report`` in order, the CLI and docs/metrics.md read it, and adding
an analysis is one module plus one line here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skiprof._result import Result

from . import (
    advice,
    boundness,
    breakdown,
    critical,
    diff,
    fusion,
    hostsplit,
    hta,
    kernels,
    launch,
    memory,
    modules,
    ranks,
    scenario,
    timeline,
    transition,
    verdict,
    whatif,
    windows,
)
from ._options import Options
from ._view import View, select

__all__ = ["View", "select", "Options", "REGISTRY", "Analysis", "register", "report", "launch", "boundness",
           "breakdown", "kernels", "hta", "scenario", "fusion", "whatif", "transition", "timeline", "ranks", "verdict", "advice", "diff", "critical", "memory", "modules", "hostsplit", "windows"]


@dataclass(frozen=True)
class Analysis:
    """One named analysis: its run function, the question it answers, and where it appears.

    ``in_report``: part of ``skiprof report``. ``formats``: the outputs that show it (a picture-only
    analysis such as the timeline appears in html alone). ``scope``: "rank" looks at one rank (the
    report of a single-rank trace, or of ``--rank R``); "ranks" compares all ranks of a multi-rank
    trace (its report without ``--rank``); "windows" reads a folder of capture windows (a
    windows.WindowSeries, not a View).
    """

    name: str
    run: Callable[[Any, Options], Result]  # a View; for scope "windows" a windows.WindowSeries
    question: str
    in_report: bool = True
    formats: tuple[str, ...] = ("terminal", "markdown", "html", "json")
    scope: str = "rank"
    needs: tuple[str, ...] = ()  # analyses whose results it reads (options.results): the report runs them first


REGISTRY: dict[str, Analysis] = {}


def register(analysis: Analysis) -> Analysis:
    """Add (or replace) an analysis; the report picks it up in registration order."""
    REGISTRY[analysis.name] = analysis
    return analysis


for _a in (
    Analysis("verdict", verdict.run, "Why is the GPU not busy, in a few sentences quoted from the report?",
             needs=verdict.NEEDS),
    Analysis("fixes", advice.run, "Which changes would shorten the run most, as the replay predicts?"),
    Analysis("launch", launch.run, "TKLQT and its launch/queue parts, AKD, IL, GPU busy and idle, host cost of launching"),
    Analysis("boundness", boundness.run, "Is the run, each step and each stretch of time CPU-, GPU-, sync- or dependency-bound, and why?"),
    Analysis("host_overhead", hostsplit.run, "How is host orchestration split into framework, library, launch floor "
             "and the rest, and how balanced are host and device (HDBI)?", needs=("boundness",)),
    Analysis("phases", breakdown.run, "Where does end-to-end time go: compute, compile, data movement, preprocessing, ...?"),
    Analysis("timeline", timeline.run, "What ran when, on the host and on each stream?", formats=("html",)),
    Analysis("memcpy", breakdown.run_memcpy, "How much data moves each way, from which host memory, and how fast?"),
    Analysis("kernels", kernels.run, "Which kernels take the device time?"),
    Analysis("ops", kernels.run_ops, "What does each top-level op cost on host and device?"),
    Analysis("scenario", scenario.run, "What did the workload measure itself, and what does each named region cost?"),
    Analysis("modules", modules.run, "How much host and device time does each nn.Module take?"),
    Analysis("memory", memory.run, "How much memory did each device hold at its peak, and who allocated it?"),
    Analysis("hta", hta.run, "HTA's idle/compute/non-compute shares, for comparison"),
    Analysis("ranks", ranks.run, "Across ranks: per-rank figures, stragglers, collectives matched with their arrival skew",
             scope="ranks"),
    Analysis("windows", windows.run, "Over the windows of a long-running process: boundness, TKLQT, GPU busy, HDBI "
             "and the workload's metrics per window, and what changed when the label did", scope="windows"),
    Analysis("fusion", fusion.run, "Which kernel chains are worth fusing?", in_report=False),
    Analysis("critical", critical.run, "Which chain of host work, launches and device work ends last?", in_report=False),
    Analysis("whatif", whatif.run, "What would faster launches, host or device, fusion or CUDA graphs buy?", in_report=False),
):
    register(_a)


def report(view: View, options: Options | None = None, fmt: str = "json", scope: str = "rank",
           only: tuple[str, ...] | None = None) -> list[Result]:
    """The results ``skiprof report`` shows for ``view`` in output format ``fmt``: the one-rank
    analyses, or (``scope="ranks"``) the cross-rank ones; ``only`` picks some by name."""
    from dataclasses import replace

    options = options or Options()
    chosen = [a for a in REGISTRY.values() if a.in_report and fmt in a.formats and a.scope == scope
              and (only is None or a.name in only)]
    done: dict[str, Result] = {}
    for a in sorted(chosen, key=lambda a: bool(a.needs)):  # those that quote others run last, shown where registered
        done[a.name] = a.run(view, replace(options, results=done))
    return [done[a.name] for a in chosen]


def registry_markdown() -> str:
    """The table of analyses that docs/metrics.md embeds (generated: ``python -m skiprof.analyzers``)."""
    import typing

    rows = ["| analysis | question | JSON key and schema | in `skiprof report` | formats |", "|---|---|---|---|---|"]
    shown = {"rank": "yes", "ranks": "yes, several ranks and no `--rank`", "windows": "yes, a folder of windows"}
    for a in REGISTRY.values():
        result = typing.get_type_hints(a.run).get("return")
        schema = getattr(result, "schema", "")
        rows.append(f"| `{a.name}` | {a.question} | `{a.name}`: `{schema}` | {shown[a.scope] if a.in_report else 'no'} | "
                    f"{', '.join(a.formats)} |")
    return "\n".join(rows)
