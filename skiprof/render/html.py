"""The HTML report: one self-contained file (plotly's JavaScript embedded) with a zoomable timeline,
the phase breakdown, top kernels and ops, the scenario section and, for a sweep, the transition.

Large traces are thinned for the timeline (top-level ops only, at most MAX_BARS bars per kind and
MAX_LINKS launch->kernel links, evenly sampled) and the page says how much was shown.
"""
from __future__ import annotations

import html
from typing import Any

from .._report import Report
from . import short_kernel
from .report import summary_rows

__all__ = ["render_html", "MAX_BARS", "MAX_LINKS"]

MAX_BARS = 6000
MAX_LINKS = 1500
_ERRORS = """<div id="js-errors"></div><script>
window.addEventListener('error', function (e) {
  document.getElementById('js-errors').textContent += 'JavaScript error: ' + e.message + '\\n';
});
</script>"""


def _sample(n: int, limit: int) -> tuple[Any, int]:
    import numpy as np

    if n <= limit:
        return np.arange(n), 1
    step = -(-n // limit)
    return np.arange(0, n, step), step


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _timeline(view: Any, report: Report) -> tuple[Any, list[str]]:
    """Bars per lane (host threads, runtime calls, device streams), links, boundness shading."""
    import numpy as np
    import plotly.graph_objects as go

    notes = []
    fig = go.Figure()
    ops, la, k = view.ops, view.launches, view.kernels
    origin = min([int(c["ts"].min()) for c in (ops, k) if len(c)] or [0])

    def bars(ts: Any, dur: Any, lanes: list[str], names: list[str], color: str, label: str) -> None:
        idx, step = _sample(len(ts), MAX_BARS)
        if step > 1:
            notes.append(f"{label}: 1 in {step} of {len(ts):,} shown")
        fig.add_trace(go.Bar(
            base=(ts[idx] - origin) / 1e3, x=np.maximum(dur[idx], 1) / 1e3, y=[lanes[i] for i in idx],
            orientation="h", marker_color=color, name=label, hovertext=[names[i] for i in idx],
            hovertemplate="%{hovertext}<br>start %{base:.1f} µs, %{x:.1f} µs<extra></extra>"))

    top = ops["cat"].eq("cpu_op") & (ops["cpu_parent"] < 0)
    if top.any():
        t = ops.take(top)
        lanes = [f"host {p}/{q}" for p, q in zip(t["pid"], t["tid"])]
        bars(t["ts"], t["dur"], lanes, t["name"].tolist(), "#4c78a8", "top-level ops")
    if len(la):
        lanes = [f"runtime {p}/{q}" for p, q in zip(la["pid"], la["tid"])]
        bars(la["ts"], la["dur"], lanes, la["name"].tolist(), "#f58518", "runtime calls")
    if len(k):
        lanes = [f"GPU {d} stream {s}" for d, s in zip(k["device"], k["stream"])]
        bars(k["ts"], k["dur"], lanes, [short_kernel(n, 80) for n in k["name"].tolist()], "#54a24b", "device activity")
        linked = np.flatnonzero(k["launch_id"] >= 0)
        idx, step = _sample(len(linked), MAX_LINKS)
        if step > 1:
            notes.append(f"launch->kernel links: 1 in {step} of {len(linked):,} shown")
        xs, ys = [], []
        for i in linked[idx]:
            xs += [(k["launch_ts"][i] - origin) / 1e3, (k["ts"][i] - origin) / 1e3, None]
            ys += [f"runtime {k['host_pid'][i]}/{k['host_tid'][i]}", f"GPU {k['device'][i]} stream {k['stream'][i]}", None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 0.5, "color": "#888"}, name="launch -> kernel",
                                 hoverinfo="skip"))
    colors = {"cpu-bound": "rgba(228,26,28,0.10)", "gpu-bound": "rgba(55,126,184,0.10)", "mixed": "rgba(152,78,163,0.06)"}
    for s in report.steps or report.windows:
        if s["label"] in colors:
            fig.add_vrect(x0=(s["start_ns"] - origin) / 1e3, x1=(s["end_ns"] - origin) / 1e3, fillcolor=colors[s["label"]],
                          line_width=0, annotation_text=s["label"], annotation_position="top left")
    fig.update_layout(barmode="overlay", height=420, title="Timeline (µs from the first event; drag to zoom)",
                      xaxis_title="µs", margin={"l": 160, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h"})
    return fig, notes


def _phases(report: Report) -> Any:
    import plotly.graph_objects as go

    p = report.phases
    fig = go.Figure()
    for name, ns in zip(p.names, p.ns):
        fig.add_trace(go.Bar(y=["end-to-end"], x=[100 * ns / p.span_ns if p.span_ns else 0], name=name,
                             orientation="h", hovertemplate=f"{name}: %{{x:.1f}}%<extra></extra>"))
    fig.update_layout(barmode="stack", height=220, title="Phase breakdown (% of end-to-end time)", xaxis_title="%",
                      margin={"l": 100, "r": 20, "t": 50, "b": 40})
    return fig


def _sweep(res: Any) -> Any:
    import plotly.graph_objects as go

    tb = res.table
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=tb["value"], y=[v / 1e6 for v in tb["tklqt_ns"]], name="TKLQT (ms)", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=tb["value"], y=[v / 1e6 for v in tb["il_ns"]], name="IL (ms)", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=tb["value"], y=[100 * v for v in tb["gpu_idle_share"]], name="GPU idle (%)",
                             mode="lines+markers", yaxis="y2"))
    for value, name in ((res.transition.queue_over_launch, "queue > launch"), (res.transition.knee, "TKLQT knee")):
        if value is not None:
            fig.add_vline(x=value, line_dash="dash", annotation_text=name)
    fig.update_layout(height=380, title=f"Sweep over {res.param} ({res.transition.confidence} confidence)",
                      xaxis={"type": "log", "title": res.param}, yaxis_title="ms",
                      yaxis2={"overlaying": "y", "side": "right", "range": [0, 100], "title": "%"})
    return fig


def render_html(report: Report, view: Any = None, sweep: Any = None) -> str:
    """The whole page as one string."""
    import plotly.io as pio

    figs, notes = [], []
    if report.has_device or len(view.ops):
        tl, notes = _timeline(view, report)
        figs.append(tl)
    figs.append(_phases(report))
    if sweep is not None:
        figs.append(_sweep(sweep))
    divs = [pio.to_html(f, full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
            for i, f in enumerate(figs)]
    parts = [f"<h1>skiprof report</h1><p>{html.escape(report.path)} — {html.escape(report.scope)}</p>",
             _table(["figure", "value"], [list(r) for r in summary_rows(report)])]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in report.notes]
    if notes:
        parts.append("<p class=note>Sampled for the timeline: " + html.escape("; ".join(notes)) + ".</p>")
    parts += divs
    if report.top_kernels:
        parts.append("<h2>Top kernels by time</h2>" + _table(["kernel", "count", "total ms", "share"], [
            [short_kernel(k["name"], 90), f"{k['count']:,}", f"{k['total_ns'] / 1e6:,.3f}", f"{100 * k['share']:.1f}%"]
            for k in report.top_kernels]))
    if report.top_ops:
        parts.append("<h2>Top-level ops</h2>" + _table(["op", "calls", "CPU ms", "activities", "GPU ms", "launch+queue ms"], [
            [o["name"], o["calls"], f"{o['cpu_ns'] / 1e6:,.3f}", o["activities"], f"{o['gpu_ns'] / 1e6:,.3f}",
             f"{o['launch_queue_ns'] / 1e6:,.3f}"] for o in report.top_ops]))
    if report.scenario_metrics:
        parts.append("<h2>Scenario</h2>" + _table(["scenario", "metric", "value", "unit"], [
            [m["scenario"], m["name"], f"{m['value']:.4g}", m["unit"]] for m in report.scenario_metrics]))
    if report.regions:
        parts.append("<h2>Named regions</h2>" + _table(["region", "times", "ms", "kernels", "TKLQT ms"], [
            [r["region"], r["occurrences"], f"{r['time_ns'] / 1e6:,.3f}", r["kernels"], f"{r['tklqt_ns'] / 1e6:,.3f}"]
            for r in report.regions]))
    style = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;"
             "margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:left}"
             ".note{color:#8a5a00}#js-errors{color:#b00;white-space:pre}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>skiprof report</title><style>{style}</style>"
            f"</head><body>{_ERRORS}{''.join(parts)}</body></html>")
