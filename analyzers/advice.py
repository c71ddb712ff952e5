"""Fixes ranked by predicted gain: each candidate is a what-if replay of this trace.

A candidate is suggested by evidence in the trace (launch calls in a repeated region, fusable
chains, pageable copies, preprocessing time, ...) and scored by replaying the trace with the
knobs that model it (analyzers/_replay.py). Candidates the replay cannot model are listed after
the scored ones, with the reason and no number. The host sensitivity (host x0.5 and x2) is the
SKIP paper's question of how a faster or slower CPU moves the run. docs/metrics.md, "Fixes".
"""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from skiprof._domain import LAUNCH_KINDS, REGION_PHASES
from skiprof._result import Col, Note, Result, Section, Table

from . import fusion
from ._options import Options
from ._replay import Knobs
from ._view import View
from .breakdown import memcpy_columns
from .launch import LaunchSummary, summary
from .whatif import Prediction, prepare, replay

__all__ = ["Fix", "FixesResult", "candidates", "ranked", "host_sensitivity", "predict_all", "run", "FUSE_TOP", "HOST_SCALES"]

#: Chains fused by the fusion fix (the N best of skiprof fusion, as ``whatif --fuse topN``).
FUSE_TOP = 3
#: Host speeds of the sensitivity figures: twice as fast, twice as slow.
HOST_SCALES = (0.5, 2.0)
#: Cheaper launches are a candidate when the launch part of TKLQT is at least this share of the IL.
LAUNCH_SHARE = 0.05
#: A region is a CUDA-graph candidate when it occurs at least this often with launches inside.
GRAPH_MIN_OCCURRENCES = 2


class Fix(msgspec.Struct, frozen=True):
    """One candidate: what to do, why, how, and (when the replay models it) the predicted latency."""

    key: str
    title: str
    evidence: str
    how: str
    knobs: Knobs | None
    command: str | None
    predicted_il_ns: int | None = None
    il_change: float | None = None
    boundness: str | None = None
    unscored_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        k = self.knobs
        knobs = None if k is None else {"launch_scale": k.launch_scale, "host_scale": k.host_scale,
                                        "device_scale": k.device_scale, "fuse": [list(c) for c in k.fuse],
                                        "cuda_graph": k.cuda_graph, "async_copies": k.async_copies,
                                        "offload": list(k.offload)}
        return {"key": self.key, "title": self.title, "evidence": self.evidence, "how": self.how, "knobs": knobs,
                "command": self.command, "predicted_il_ns": self.predicted_il_ns, "il_change": self.il_change,
                "boundness": self.boundness, "unscored_reason": self.unscored_reason}


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _target(view: View, folder: str) -> str:
    """The folder and the options that select ``view`` again, quoted for a shell: a fix's command
    replays the same scope the fix was scored on."""
    return " ".join(_q(a) for a in [folder, *view.scope_args()])


def _graph_region(view: View) -> tuple[str, int, int] | None:
    """The region with the most launch calls among those that repeat: (name, occurrences, launch calls)."""
    r, la = view.regions, view.launches
    if not len(r) or not len(la):
        return None
    launches = la["ts"][np.isin(np.array(la["kind"].values + [None], dtype=object)[la["kind"].codes], LAUNCH_KINDS)]
    best: tuple[str, int, int] | None = None
    ok = ~r["kind"].eq("gpu_annotation") & ~r["kind"].eq("step")
    names = r["name"].tolist()
    for name in sorted({names[i] for i in np.flatnonzero(ok)}):
        sel = ok & r["name"].eq(name)
        lo, hi = r["ts"][sel], (r["ts"] + r["dur"])[sel]
        counts = np.searchsorted(np.sort(launches), hi) - np.searchsorted(np.sort(launches), lo)
        used = int((counts > 0).sum())
        total = int(counts.sum())
        if used >= GRAPH_MIN_OCCURRENCES and total > used and (best is None or total > best[2]):
            best = (name, used, total)
    return best


def _preprocessing_regions(view: View) -> list[str]:
    """Host regions the phase breakdown counts as preprocessing (skiprof regions and DataLoader iterations)."""
    r = view.regions
    names = r["name"].tolist()
    sk = {names[i] for i in np.flatnonzero(r["kind"].eq("skiprof"))}
    out = [n for n in sk if REGION_PHASES.get(n) == "preprocessing"]
    out += sorted({names[i] for i in np.flatnonzero(r["kind"].eq("dataloader"))})
    return sorted(out)


def _held(s: LaunchSummary) -> str:
    """The launch part's dependency share in words, when there is one."""
    return f" ({s.launch_held_ns / 1e6:,.2f} ms of it held back by a dependency)" if s.launch_held_ns else ""


def _device_candidates(view: View, folder: str) -> list[Fix]:
    """Fixes that change how work reaches the device: graphs, fusion, cheaper launches, async copies."""
    out: list[Fix] = []
    s = summary(view)
    graph = _graph_region(view)
    if graph:
        name, n, calls = graph
        out.append(Fix("cuda_graph", f"Capture region '{name}' as a CUDA graph",
                       f"{calls:,} launch calls in {n:,} occurrences of '{name}'; launch part of TKLQT "
                       f"{s.launch_ns / 1e6:,.2f} ms{_held(s)}", "torch.cuda.graphs / torch.compile(mode='reduce-overhead') "
                       "over the region's code; its shapes must not change between occurrences",
                       Knobs(cuda_graph=name), f"skiprof whatif {_target(view, folder)} --cuda-graph {_q(name)}"))
    chains = fusion.chain_columns(view, top=FUSE_TOP)["chain"]
    if len(chains):
        out.append(Fix("fusion", f"Fuse the {len(chains)} best kernel chains",
                       f"{len(chains)} chains with proximity >= 0.8 (skiprof fusion)",
                       "torch.compile, or a hand-written fused kernel for the chain", Knobs(fuse=tuple(tuple(c) for c in chains)),
                       f"skiprof whatif {_target(view, folder)} --fuse top{FUSE_TOP}"))
    # Time held back by a dependency is in the launch part but no cheaper launch shortens it.
    if s.launch_calls and s.launch_ns - s.launch_held_ns >= LAUNCH_SHARE * s.il_ns:
        out.append(Fix("launch", "Halve the cost of launches",
                       f"{s.launch_calls:,} launch calls taking {s.launch_call_ns / 1e6:,.2f} ms; launch part of TKLQT "
                       f"{s.launch_ns / 1e6:,.2f} ms{_held(s)}", "fewer, larger kernels; a lighter launch path (CUDA graphs, "
                       "a faster driver or runtime)", Knobs(launch_scale=0.5), f"skiprof whatif {_target(view, folder)} --launch-scale 0.5"))
    copies = memcpy_columns(view)
    slow = [i for i, m in enumerate(copies["host_mem"]) if m == "pageable"]
    sync = [n for n in view.launches["name"].values if n and n.lower() in ("cudamemcpy", "hipmemcpy")]
    if slow or sync:
        moved = sum(copies["bytes"][i] for i in slow)
        speed = ", ".join(f"{copies['copy_kind'][i]} {copies['gb_per_s'][i]:.2f} GB/s" for i in slow)
        out.append(Fix("async_copies", "Pinned memory and asynchronous copies",
                       f"{sum(copies['count'][i] for i in slow):,} pageable copies ({moved / 1e6:,.1f} MB; {speed or '-'})"
                       + (f"; {len(sync):,} synchronous memcpy calls" if sync else ""),
                       "pin_memory=True in the DataLoader (or tensor.pin_memory()), .to(device, non_blocking=True), "
                       "and a side stream to overlap copies with compute", Knobs(async_copies=True),
                       f"skiprof whatif {_target(view, folder)} --async-copies"))
    return out


def candidates(view: View, folder: str = "DIR") -> list[Fix]:
    """Every fix the trace's evidence suggests, unscored, in a fixed order."""
    from .boundness import overall_columns
    from .breakdown import phases

    out = _device_candidates(view, folder) if view.has_device else []
    overall = overall_columns(view)
    # On a CPU-only trace everything is host time: a faster CPU is no fix there, only a fact (the
    # host sensitivity in the verdict).
    if view.has_device:
        # The evidence is the measured share, not a claim: where the GPU hardly waited for the host,
        # the row says so beside the replay's (small) gain.
        waited = overall["idle_host_share"][0]
        out.append(Fix("host", "A host CPU twice as fast", f"the GPU idled {100 * waited:.1f}% of the latency waiting "
                       "for the host to launch work (host time between calls)",
                       "a faster CPU, less Python per step, or moving host work off the loop",
                       Knobs(host_scale=0.5), f"skiprof whatif {_target(view, folder)} --host-scale 0.5"))
    pre = _preprocessing_regions(view)
    ph = phases(view)
    share = ph.share("preprocessing") if "preprocessing" in ph.names else 0.0
    if pre and share > 0:
        out.append(Fix("offload", "Move preprocessing off the critical path",
                       f"preprocessing is {100 * share:.1f}% of the latency (regions {', '.join(pre)})",
                       "DataLoader workers that prepare the next batch while this one runs, or decode/resize on the "
                       "device (torchvision.io.decode_jpeg on CUDA, DALI)", Knobs(offload=tuple(pre)),
                       f"skiprof whatif {_target(view, folder)} " + " ".join(f"--offload {_q(n)}" for n in pre)))
    label = overall["label"][0]
    if label == "cpu-bound":
        out.append(Fix("batch", "A larger batch", f"the run is {label}: the GPU waits for the host",
                       "skiprof sweep SCRIPT --param batch_size=... finds the batch where it turns GPU-bound", None,
                       None, unscored_reason="the replay keeps the trace's work; a different batch is a different run "
                       "(measure it with skiprof sweep)"))
    if label == "dependency-bound":
        held = overall["idle_dependency_share"][0]
        out.append(Fix("dependency", "Find what holds launched work back",
                       f"the run is {label}: {100 * held:.1f}% of the latency the GPU idled with launched work held back "
                       "(its call had returned and its stream was free)",
                       "in a multi-rank run, skiprof report on all ranks names the rank the collectives wait for; "
                       f"skiprof critical {_target(view, folder)} shows the run's chain that ends last{' (its part in this scope)' if view.windows else ''}, and skiprof export puts "
                       "it on a timeline beside the other streams' events", None, None,
                       unscored_reason="the replay keeps such a wait as measured: what it waited on (another device, "
                       "a peer rank, work the trace does not show) is not in this trace"))
    if view.regions["name"].eq("wait").any() and view.regions["name"].eq("h2d").any():
        out.append(Fix("prefetch", "Prefetch experts before they are needed",
                       "the MoE scenario waits for expert weights to arrive (regions 'wait' and 'h2d')",
                       "issue the next layer's expert copies on a side stream while this layer computes "
                       "(workloads/moe.py --prefetch)", None, None,
                       unscored_reason="the replay cannot issue a copy earlier than the trace did"))
    return out


def _scored(fix: Fix, p: Prediction) -> Fix:
    return Fix(fix.key, fix.title, fix.evidence, fix.how, fix.knobs, fix.command, p.il_ns, p.il_change, p.boundness)


#: Replays worth spreading over processes: a trace with at least this many runtime calls. A forked
#: child costs a few milliseconds (the fork and its page-table copy); below this size a replay
#: takes about that long (measured on the V100 trace, 42,000 calls, about 15 ms a replay).
PARALLEL_CALLS = 5_000


def predict_all(view: View, knobs: list[Knobs], cache: dict[Knobs, Prediction]) -> dict[Knobs, Prediction]:
    """Replay ``view`` once per distinct knob setting not yet in ``cache`` (the verdict and the fixes
    share replays: host x0.5 is both a fix and half of the host sensitivity). The replays of a trace
    of some size run side by side, one process per core (this one and forked children, _forked.py)."""
    from ._forked import fork_map

    todo = [k for k in dict.fromkeys(knobs) if k not in cache]
    if len(todo) > 1 and len(view.launches) >= PARALLEL_CALLS:
        # The replay graph and the measured figures are built once, here: the children inherit them.
        prepare(view)
        cache.update(zip(todo, fork_map(lambda k: replay(view, k), todo)))
    else:
        cache.update((k, replay(view, k)) for k in todo)
    return cache


def ranked(view: View, folder: str = "DIR", predictions: dict[Knobs, Prediction] | None = None) -> list[Fix]:
    """The candidates, scored by the replay, best predicted latency first; unscored ones last."""
    cache = predictions if predictions is not None else {}
    found = candidates(view, folder)
    predict_all(view, [f.knobs for f in found if f.knobs is not None] + [Knobs(host_scale=s) for s in HOST_SCALES], cache)
    scored, unscored = [], []
    for fix in found:
        if fix.knobs is None:
            unscored.append(fix)
            continue
        scored.append(_scored(fix, cache[fix.knobs]))
    scored.sort(key=lambda f: (f.predicted_il_ns, f.key))
    return scored + unscored


def host_sensitivity(view: View, predictions: dict[Knobs, Prediction] | None = None) -> list[dict[str, Any]]:
    """The replayed latency with a host twice as fast and twice as slow."""
    cache = predict_all(view, [Knobs(host_scale=s) for s in HOST_SCALES], predictions if predictions is not None else {})
    out = []
    for scale in HOST_SCALES:
        p = cache[Knobs(host_scale=scale)]
        out.append({"host_scale": scale, "predicted_il_ns": p.il_ns, "il_change": p.il_change, "boundness": p.boundness})
    return out


_FIX_COLS = (Col("rank", "#", "count"), Col("title", "fix", "prose"), Col("predicted_il_ns", "predicted IL", "ns"),
             Col("il_change", "change", "share"), Col("boundness", "then", "label"))
_DETAIL_COLS = (Col("rank", "#", "count"), Col("evidence", "evidence", "prose"), Col("how", "how", "prose"),
                Col("command", "check it", "prose"))
_HOST_COLS = (Col("host_scale", "host speed (time x)", "number"), Col("predicted_il_ns", "predicted IL", "ns"),
              Col("il_change", "change", "share"), Col("boundness", "then", "label"))


class FixesResult(Result, msgspec.Struct, frozen=True):
    """Ranked fixes and the host sensitivity of one view."""

    scope: str
    measured_il_ns: int
    fixes: tuple[Fix, ...]
    host: tuple[dict[str, Any], ...]

    name = "fixes"
    schema = "skiprof.fixes/1"
    title = "Fixes, ranked by predicted latency"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "scope": self.scope, "measured_il_ns": self.measured_il_ns,
                "fixes": [f.to_dict() for f in self.fixes], "host_sensitivity": list(self.host)}

    def sections(self) -> list[Section]:
        """The ranked fixes, why and how to apply each, and the host sensitivity."""
        rows = tuple({"rank": i, **f.to_dict()} for i, f in enumerate(self.fixes, 1))
        out: list[Section] = [
            Table(f"Fixes, ranked by the replay's predicted latency (measured {self.measured_il_ns / 1e6:,.2f} ms)",
                  _FIX_COLS, rows, empty="no fix suggested by this trace"),
            Table("Why and how", _DETAIL_COLS, tuple({**r, "command": r["command"] or f"not scored: {r['unscored_reason']}"}
                                                      for r in rows)),
            Table("Host sensitivity (the replay with a faster or slower CPU)", _HOST_COLS, self.host)]
        out.append(Note("each prediction replays this trace with the fix's knobs (skiprof whatif); docs/whatif.md "
                        "says what the replay models and what it leaves out"))
        return out


def run(view: View, options: Options) -> FixesResult:
    """Ranked fixes and host sensitivity (the replays shared through ``options.results`` when the report runs)."""
    cache: dict[Knobs, Prediction] = {}
    folder = str(view.trace.path)
    return FixesResult(view.label, summary(view).il_ns, tuple(ranked(view, folder, cache)), tuple(host_sensitivity(view, cache)))
