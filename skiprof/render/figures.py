"""Plot specs (skiprof._result.Plot) drawn with plotly: the html page and ``Result.figure()`` share these."""
from __future__ import annotations

from typing import Any

from .._result import Plot

__all__ = ["plotly_figure"]

LABEL_COLORS = {"cpu-bound": "#e45756", "gpu-bound": "#4c78a8", "sync-bound": "#b279a2", "dependency-bound": "#f58518",
                "no-gpu-work": "#bab0ac"}


def _timeline(go: Any, d: dict[str, Any]) -> Any:
    """A plotly Gantt-style figure: one bar per activity on its lane, and the launch -> kernel links."""
    fig = go.Figure()
    for s in d.get("series", []):
        fig.add_trace(go.Bar(base=s["start"], x=s["dur"], y=s["lane"], orientation="h", marker_color=s["color"],
                             name=s["name"], hovertext=s["text"],
                             hovertemplate="%{hovertext}<br>start %{base:.1f} µs, %{x:.1f} µs<extra></extra>"))
    links = d.get("links")
    if links and links["x"]:
        fig.add_trace(go.Scatter(x=links["x"], y=links["y"], mode="lines", line={"width": 0.5, "color": "#888"},
                                 name="launch -> kernel", hoverinfo="skip"))
    for sh in d.get("shading", []):
        color = LABEL_COLORS.get(sh["label"], "#999")
        fig.add_vrect(x0=sh["x0"], x1=sh["x1"], fillcolor=color, opacity=0.08, line_width=0,
                      annotation_text=sh["label"], annotation_position="top left")
    fig.update_layout(barmode="overlay", height=420, xaxis_title="µs from the first event (drag to zoom)",
                      margin={"l": 160, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h"})
    return fig


def _stacked(go: Any, d: dict[str, Any]) -> Any:
    """A plotly figure of one horizontal bar split into named parts (the phase bar)."""
    fig = go.Figure()
    for name, value in d["parts"]:
        fig.add_trace(go.Bar(y=[d.get("label", "")], x=[value], name=name, orientation="h",
                             hovertemplate=f"{name}: %{{x:.1f}}{d.get('unit', '')}<extra></extra>"))
    fig.update_layout(barmode="stack", height=220, xaxis_title=d.get("unit", ""), margin={"l": 100, "r": 20, "t": 50, "b": 40})
    return fig


def _bars(go: Any, d: dict[str, Any]) -> Any:
    """A plotly grouped bar chart, each bar coloured by its label where the series has labels."""
    fig = go.Figure()
    for s in d["series"]:
        colors = [LABEL_COLORS.get(c, "#4c78a8") for c in s["labels"]] if s.get("labels") else None
        fig.add_trace(go.Bar(x=d["x"], y=s["y"], name=s["name"], marker_color=colors, hovertext=s.get("labels"),
                             hovertemplate="%{x}: %{y:.1f}<br>%{hovertext}<extra></extra>"))
    fig.update_layout(height=320, yaxis_title=d.get("y_title", ""), barmode="group")
    return fig


def _lines(go: Any, d: dict[str, Any]) -> Any:
    """A plotly line chart, with an optional second y axis, step lines and marked x positions."""
    fig = go.Figure()
    for s in d["series"]:
        # A series may carry its own x (memory per device); "steps" draws levels held until the next point.
        fig.add_trace(go.Scatter(x=s.get("x", d.get("x")), y=s["y"], name=s["name"],
                                 mode="lines" if d.get("steps") else "lines+markers",
                                 line_shape="hv" if d.get("steps") else "linear",
                                 yaxis="y2" if s.get("axis") == "y2" else "y"))
    for x, label in d.get("vlines", []):
        fig.add_vline(x=x, line_dash="dash", annotation_text=label)
    layout: dict[str, Any] = {"height": 380, "xaxis": {"title": d.get("x_title", ""), "type": "log" if d.get("log_x") else "linear"},
                              "yaxis_title": d.get("y_title", "")}
    if any(s.get("axis") == "y2" for s in d["series"]):
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "title": d.get("y2_title", "")}
    fig.update_layout(**layout)
    return fig


_DRAW = {"timeline": _timeline, "stacked": _stacked, "bars": _bars, "lines": _lines}


def plotly_figure(plot: Plot) -> Any:
    """A plotly Figure for the spec (raises ImportError without plotly)."""
    import plotly.graph_objects as go

    fig = _DRAW[plot.kind](go, plot.data)
    fig.update_layout(title=plot.title)
    return fig
