"""Analyzers: pure functions of a loaded trace view, one module per question.

    from skiprof.analyzers import select, launch
    v = select(skiprof.load("run"), step=3)
    launch.summary(v).tklqt_ns

Every analysis has ``run(view, options) -> Result`` (skiprof._result). ``REGISTRY`` lists them: the
report runs the ones marked ``in_report`` in order, the CLI and docs/metrics.md read it, and adding
an analysis is one module plus one line here.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import msgspec

from skiprof._result import Result

from . import verdict
from ._options import Options
from ._view import View, select

__all__ = ["View", "select", "Options", "REGISTRY", "Analysis", "Later", "register", "report", "load_modules", "launch", "boundness",
           "breakdown", "kernels", "hta", "scenario", "fusion", "whatif", "transition", "timeline", "ranks", "verdict", "advice", "diff", "critical", "memory", "modules", "hostsplit", "windows"]


class Analysis(msgspec.Struct, frozen=True):
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


class Later:
    """A run function named by its module, imported on its first call: a one-rank report does not
    load the cross-rank, windows, diff and critical-path analyses, nor a command the ones it does
    not show (a short command's start-up is a large part of its run)."""

    def __init__(self, module: str, attr: str = "run") -> None:
        self.module, self.attr = module, attr

    @property
    def target(self) -> Callable[[Any, Options], Result]:
        """The function itself (its module imported now, once)."""
        fn: Callable[[Any, Options], Result] = getattr(importlib.import_module(f"{__name__}.{self.module}"), self.attr)
        return fn

    def __call__(self, view: Any, options: Options) -> Result:
        return self.target(view, options)


def __getattr__(name: str) -> Any:
    """``skiprof.analyzers.launch`` and the other analysis modules, imported on first use."""
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MODULES = ("launch", "boundness", "breakdown", "kernels", "hta", "scenario", "fusion", "whatif", "transition", "timeline",
            "ranks", "advice", "diff", "critical", "memory", "modules", "hostsplit", "windows")


def register(analysis: Analysis) -> Analysis:
    """Add (or replace) an analysis; the report picks it up in registration order."""
    REGISTRY[analysis.name] = analysis
    return analysis


for _a in (
    Analysis("verdict", Later("verdict"), "Why is the GPU not busy, in a few sentences quoted from the report?",
             needs=verdict.NEEDS),
    Analysis("fixes", Later("advice"), "Which changes would shorten the run most, as the replay predicts?"),
    Analysis("launch", Later("launch"), "TKLQT and its launch/queue parts, AKD, IL, GPU busy and idle, host cost of launching"),
    Analysis("boundness", Later("boundness"), "Is the run, each step and each stretch of time CPU-, GPU-, sync- or dependency-bound, and why?"),
    Analysis("host_overhead", Later("hostsplit"), "How is host orchestration split into framework, library, launch floor "
             "and the rest, and how balanced are host and device (HDBI)?", needs=("boundness",)),
    Analysis("phases", Later("breakdown"), "Where does end-to-end time go: compute, compile, data movement, preprocessing, ...?"),
    Analysis("timeline", Later("timeline"), "What ran when, on the host and on each stream?", formats=("html",)),
    Analysis("memcpy", Later("breakdown", "run_memcpy"), "How much data moves each way, from which host memory, and how fast?"),
    Analysis("kernels", Later("kernels"), "Which kernels take the device time?"),
    Analysis("ops", Later("kernels", "run_ops"), "What does each top-level op cost on host and device?"),
    Analysis("scenario", Later("scenario"), "What did the workload measure itself, and what does each named region cost?"),
    Analysis("modules", Later("modules"), "How much host and device time does each nn.Module take?"),
    Analysis("memory", Later("memory"), "How much memory did each device hold at its peak, and who allocated it?"),
    Analysis("hta", Later("hta"), "HTA's idle/compute/non-compute shares, for comparison"),
    Analysis("ranks", Later("ranks"), "Across ranks: per-rank figures, stragglers, collectives matched with their arrival skew",
             scope="ranks"),
    Analysis("windows", Later("windows"), "Over the windows of a long-running process: boundness, TKLQT, GPU busy, HDBI "
             "and the workload's metrics per window, and what changed when the label did", scope="windows"),
    Analysis("fusion", Later("fusion"), "Which kernel chains are worth fusing?", in_report=False),
    Analysis("critical", Later("critical"), "Which chain of host work, launches and device work ends last?", in_report=False),
    Analysis("whatif", Later("whatif"), "What would faster launches, host or device, fusion or CUDA graphs buy?", in_report=False),
):
    register(_a)


def _chosen(fmt: str, scope: str, only: tuple[str, ...] | None) -> list[Analysis]:
    return [a for a in REGISTRY.values() if a.in_report and fmt in a.formats and a.scope == scope
            and (only is None or a.name in only)]


def load_modules(fmt: str = "json", scope: str = "rank", only: tuple[str, ...] | None = None) -> None:
    """Import the modules of the analyses a report in ``fmt`` runs (``only`` these, when given), now:
    a command does this while its tables are read in the background (Trace.prefetch), not after."""
    chosen = _chosen(fmt, scope, None) if only is None else [REGISTRY[n] for n in only if n in REGISTRY]
    for a in chosen:
        if isinstance(a.run, Later):
            a.run.target  # noqa: B018 - the import is the point


def report(view: View, options: Options | None = None, fmt: str = "json", scope: str = "rank",
           only: tuple[str, ...] | None = None) -> list[Result]:
    """The results ``skiprof report`` shows for ``view`` in output format ``fmt``: the one-rank
    analyses, or (``scope="ranks"``) the cross-rank ones; ``only`` picks some by name."""
    options = options or Options()
    chosen = _chosen(fmt, scope, only)
    done: dict[str, Result] = {}
    for a in sorted(chosen, key=lambda a: bool(a.needs)):  # those that quote others run last, shown where registered
        done[a.name] = a.run(view, msgspec.structs.replace(options, results=done))
    return [done[a.name] for a in chosen]


def registry_markdown() -> str:
    """The table of analyses that docs/metrics.md embeds (generated: ``python -m skiprof.analyzers``)."""
    import typing

    rows = ["| analysis | question | JSON key and schema | in `skiprof report` | formats |", "|---|---|---|---|---|"]
    shown = {"rank": "yes", "ranks": "yes, several ranks and no `--rank`", "windows": "yes, a folder of windows"}
    for a in REGISTRY.values():
        result = typing.get_type_hints(getattr(a.run, "target", a.run)).get("return")
        schema = getattr(result, "schema", "")
        rows.append(f"| `{a.name}` | {a.question} | `{a.name}`: `{schema}` | {shown[a.scope] if a.in_report else 'no'} | "
                    f"{', '.join(a.formats)} |")
    return "\n".join(rows)
