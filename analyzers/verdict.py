"""The verdict: a few plain sentences that answer "why is my GPU not busy?", at the top of the report.

Every number in a sentence is quoted from another analysis's JSON (``launch``, ``boundness``,
``phases``, ``fixes``), and each quote keeps the path it came from, so the sentences can never
disagree with the tables below them (tests/test_verdict.py checks every quote against the report
JSON). docs/metrics.md, "Verdict".
"""
from __future__ import annotations

from typing import Any

import msgspec

from skiprof._result import Note, Result, Section

from ._options import Options
from ._view import View

__all__ = ["VerdictResult", "Quote", "resolve", "sentences", "run"]

#: The analyses the verdict quotes (run before it in the report, or here when it runs alone).
NEEDS = ("launch", "boundness", "phases", "fixes")


class Quote(msgspec.Struct, frozen=True):
    """One number of a sentence: where it comes from in the report JSON, its value and unit."""

    path: str
    value: Any
    unit: str


def resolve(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a report JSON (list items by index: ``fixes.fixes.0.title``)."""
    cur: Any = doc
    for part in path.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


class _Writer:
    """Builds sentences whose numbers are quotes of the analyses' JSON."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.quotes: list[Quote] = []

    def q(self, path: str, unit: str) -> str:
        """Quote the report's figure at ``path`` in the verdict, formatted by its unit, and record the quote for the
        check."""
        value = resolve(self.doc, path)
        self.quotes.append(Quote(path, value, unit))
        if unit == "share":
            return f"{100 * value:.1f}%"
        if unit == "ns":
            return f"{value / 1e6:,.2f} ms"
        if unit == "change":
            return f"{100 * value:+.1f}%"
        return str(value)


def _where(w: _Writer, b: dict[str, Any]) -> str | None:
    """The step (or time window) with the largest GPU idle share."""
    for kind in ("steps", "windows"):
        rows = b.get(kind) or []
        if len(rows) > 1:
            i = max(range(len(rows)), key=lambda k: (rows[k]["gpu_idle_share"], -k))
            return (f"The GPU idles most in {w.q(f'boundness.{kind}.{i}.stretch', 'text')} "
                    f"({w.q(f'boundness.{kind}.{i}.gpu_idle_share', 'share')} idle, "
                    f"{w.q(f'boundness.{kind}.{i}.label', 'label')}).")
    return None


def _host(w: _Writer) -> str:
    return (f"With a host CPU twice as fast the replay predicts {w.q('fixes.host_sensitivity.0.predicted_il_ns', 'ns')} "
            f"({w.q('fixes.host_sensitivity.0.il_change', 'change')}); twice as slow, "
            f"{w.q('fixes.host_sensitivity.1.predicted_il_ns', 'ns')} ({w.q('fixes.host_sensitivity.1.il_change', 'change')}).")


#: A fix is worth naming in the verdict when the replay predicts at least this much shorter latency.
WORTH = -0.005


def _first_fix(w: _Writer, fixes: list[dict[str, Any]]) -> str:
    if not fixes or fixes[0]["il_change"] is None or fixes[0]["il_change"] > WORTH:
        return f"No fix the replay can model shortens this run by more than {-100 * WORTH:.1f}%."
    return (f"Best predicted fix: {w.q('fixes.fixes.0.title', 'text')}, latency "
            f"{w.q('fixes.fixes.0.predicted_il_ns', 'ns')} ({w.q('fixes.fixes.0.il_change', 'change')}).")


def sentences(doc: dict[str, Any], has_device: bool) -> tuple[list[str], list[Quote]]:
    """The verdict's sentences from the report JSON of the analyses in NEEDS, with their quotes."""
    w = _Writer(doc)
    out: list[str] = []
    if has_device:
        out.append(f"The GPU was busy {w.q('boundness.evidence.gpu_busy_share', 'share')} of the "
                   f"{w.q('launch.il_ns', 'ns')} latency: the run is {w.q('boundness.overall', 'label')}.")
        out.append(f"The GPU sat idle {w.q('boundness.evidence.idle_host_share', 'share')} of it waiting for the "
                   f"host to launch work, {w.q('boundness.evidence.idle_launch_share', 'share')} waiting for launched work "
                   f"to reach it, {w.q('boundness.evidence.idle_dependency_share', 'share')} with launched work held back "
                   f"by a dependency, and {w.q('boundness.evidence.idle_sync_share', 'share')} while the host was blocked "
                   "in a synchronization or collective.")
    else:
        out.append(f"No device activity: a CPU-only trace of {w.q('launch.il_ns', 'ns')}; host compute took "
                   f"{w.q('phases.by_phase.compute.share', 'share')} of it.")
    out.append(f"Data movement took {w.q('phases.by_phase.data_movement.share', 'share')} of the latency and "
               f"preprocessing {w.q('phases.by_phase.preprocessing.share', 'share')}.")
    where = _where(w, doc["boundness"]) if has_device else None
    out += [where] if where else []
    out.append(_host(w))
    out.append(_first_fix(w, doc["fixes"]["fixes"]))
    return out, w.quotes


class VerdictResult(Result, msgspec.Struct, frozen=True):
    """The answer first: plain sentences, each number quoted from the report."""

    scope: str
    text: tuple[str, ...]
    quotes: tuple[Quote, ...]

    name = "verdict"
    schema = "skiprof.verdict/1"
    title = "Verdict"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "sentences": list(self.text),
                "quotes": [{"path": q.path, "value": q.value, "unit": q.unit} for q in self.quotes]}

    def sections(self) -> list[Section]:
        return [Note(" ".join(self.text), level="answer")]


def run(view: View, options: Options) -> VerdictResult:
    """The verdict of a view, from the results the report already computed (``options.results``)
    or, run alone, from the analyses it quotes."""
    from . import REGISTRY

    done = dict(options.results or {})
    doc: dict[str, Any] = {}
    for name in NEEDS:
        result = done.get(name) or REGISTRY[name].run(view, options)
        doc[name] = result.to_dict()
    text, quotes = sentences(doc, view.has_device)
    return VerdictResult(view.label, tuple(text), tuple(quotes))
