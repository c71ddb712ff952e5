"""Renderers of the report: terminal (rich), JSON and Markdown. They format; they never compute."""
from __future__ import annotations

import json
from typing import Any

from .._report import Report, to_dict
from . import short_kernel

__all__ = ["render_json", "render_markdown", "render_terminal", "RENDERERS", "renderer_for"]


def _ms(ns: float) -> str:
    return f"{ns / 1e6:,.2f} ms"


def _us(ns: float) -> str:
    return f"{ns / 1e3:,.1f} µs"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _short(name: str, width: int = 44) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def summary_rows(r: Report) -> list[tuple[str, str]]:
    """The one-screen summary as (label, value) pairs, shared by every text format."""
    s = r.launch
    rows = [("scope", r.scope), ("boundness", r.overall)]
    if r.has_device:
        rows += [
            ("TKLQT (launch + queue)", _ms(s.tklqt_ns)),
            ("  launch part / queue part", f"{_ms(s.launch_ns)} / {_ms(s.queue_ns)}"),
            ("AKD (mean kernel time)", _us(s.akd_ns)),
            ("IL (latency)", _ms(s.il_ns)),
            ("GPU busy / idle", f"{_ms(s.gpu_busy_ns)} / {_ms(s.gpu_idle_ns)} ({_pct(s.gpu_utilization)} busy)"),
            ("GPU idle, HTA's window", f"{_pct(r.hta.idle_share)} of {_ms(r.hta.window_ns)}"),
            ("kernels (linked / orphan)", f"{s.kernels:,} ({s.linked_kernels:,} / {s.orphan_kernels:,})"),
            ("kernels per second", f"{s.kernels_per_s:,.0f}"),
            ("launches per top-level op", f"{s.launches_per_top_op:.2f}"),
            ("host: launch API / framework", f"{_ms(s.launch_api_ns)} / {_ms(s.framework_ns)}"),
        ]
    else:
        rows += [("host span", _ms(s.il_ns)), ("top-level ops", f"{s.top_level_ops:,}")]
    return rows


def _phase_rows(r: Report) -> list[list[str]]:
    p = r.phases
    return [[n, _ms(ns), _pct(ns / p.span_ns if p.span_ns else 0.0)] for n, ns in zip(p.names, p.ns)]


def render_json(r: Report) -> str:
    return json.dumps(to_dict(r), indent=2) + "\n"


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(r: Report) -> str:
    parts = [f"# skiprof report: {r.path}", "", _md_table(["figure", "value"], [list(x) for x in summary_rows(r)])]
    for note in r.notes:
        parts += ["", f"> {note}"]
    parts += ["", "## Phases", "", _md_table(["phase", "time", "share"], _phase_rows(r))]
    if r.steps:
        parts += ["", "## Boundness per step", "", _md_table(
            ["step", "kernels", "launch/kernel", "queue/kernel", "queue share", "GPU idle", "label"],
            [[x["stretch"], x["kernels"], _us(x["launch_ns_per_kernel"]), _us(x["queue_ns_per_kernel"]),
              _pct(x["queue_share"]), _pct(x["gpu_idle_share"]), x["label"]] for x in r.steps])]
    if r.memcpy:
        parts += ["", "## Data movement", "", _md_table(["direction", "host memory", "count", "bytes", "time", "GB/s"],
                  [[m["copy_kind"], m["host_mem"], m["count"], f"{m['bytes']:,}", _ms(m["ns"]), f"{m['gb_per_s']:.2f}"]
                   for m in r.memcpy])]
    if r.top_kernels:
        parts += ["", "## Top kernels by time", "", _md_table(["kernel", "count", "total", "mean", "share"],
                  [[short_kernel(k["name"], 60), k["count"], _ms(k["total_ns"]), _us(k["mean_ns"]), _pct(k["share"])]
                   for k in r.top_kernels])]
    if r.scenario_metrics:
        parts += ["", "## Scenario metrics", "", _md_table(["scenario", "metric", "value", "unit"],
                  [[m["scenario"], m["name"], f"{m['value']:.4g}", m["unit"]] for m in r.scenario_metrics])]
    if r.regions:
        parts += ["", "## Named regions", "", _md_table(["region", "times", "time", "kernels", "TKLQT", "queue"],
                  [[x["region"], x["occurrences"], _ms(x["time_ns"]), x["kernels"], _ms(x["tklqt_ns"]), _ms(x["queue_ns"])]
                   for x in r.regions])]
    if r.top_ops:
        parts += ["", "## Top-level ops", "", _md_table(["op", "calls", "CPU", "activities", "GPU", "launch+queue"],
                  [[o["name"], o["calls"], _ms(o["cpu_ns"]), o["activities"], _ms(o["gpu_ns"]), _ms(o["launch_queue_ns"])]
                   for o in r.top_ops])]
    return "\n".join(parts) + "\n"


def render_terminal(r: Report, console: Any) -> None:
    """Print the report with rich: the summary first, then one section per table."""
    from rich.table import Table

    def table(title: str, cols: list[str], rows: list[list[str]], right: int = 1) -> None:
        t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
        for i, c in enumerate(cols):
            t.add_column(c, justify="left" if i < right else "right", overflow="fold")
        for row in rows:
            t.add_row(*row)
        console.print(t)
        console.print()

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, value in summary_rows(r):
        head.add_row(label, value)
    console.print(f"[bold]skiprof report[/] {r.path}")
    console.print(head)
    for note in r.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print()
    table("Phases of end-to-end time", ["phase", "time", "share"], _phase_rows(r))
    if r.steps:
        table("Boundness per step", ["step", "kern", "launch/k", "queue/k", "queue", "idle", "label"],
              [[x["stretch"], f"{x['kernels']:,}", _us(x["launch_ns_per_kernel"]), _us(x["queue_ns_per_kernel"]),
                _pct(x["queue_share"]), _pct(x["gpu_idle_share"]), x["label"]] for x in r.steps])
    idle = r.idle_by_cause()
    if r.has_device and idle:
        total = sum(idle.values())
        table("GPU idle by cause (HTA's categories)", ["cause", "time", "share"],
              [[c, _ms(v), _pct(v / total if total else 0)] for c, v in idle.items()])
    if r.memcpy:
        table("Data movement", ["direction", "host mem", "count", "bytes", "time", "GB/s"],
              [[m["copy_kind"], m["host_mem"], f"{m['count']:,}", f"{m['bytes']:,}", _ms(m["ns"]), f"{m['gb_per_s']:.2f}"]
               for m in r.memcpy], right=2)
    if r.top_kernels:
        table("Top kernels by time", ["kernel", "count", "total", "share"],
              [[short_kernel(k["name"], 44), f"{k['count']:,}", _ms(k["total_ns"]), _pct(k["share"])] for k in r.top_kernels])
    if r.scenario_metrics:
        table("Scenario metrics", ["scenario", "metric", "value", "unit"],
              [[m["scenario"], m["name"], f"{m['value']:.4g}", m["unit"]] for m in r.scenario_metrics], right=2)
    if r.regions:
        table("Named regions", ["region", "times", "time", "kernels", "TKLQT", "queue"],
              [[x["region"], f"{x['occurrences']:,}", _ms(x["time_ns"]), f"{x['kernels']:,}", _ms(x["tklqt_ns"]),
                _ms(x["queue_ns"])] for x in r.regions])
    if r.top_ops:
        table("Top-level ops", ["op", "calls", "CPU", "GPU", "launch+queue"],
              [[_short(o["name"], 30), f"{o['calls']:,}", _ms(o["cpu_ns"]), _ms(o["gpu_ns"]), _ms(o["launch_queue_ns"])]
               for o in r.top_ops])


RENDERERS = {"json": render_json, "markdown": render_markdown}


def renderer_for(fmt: str | None, output: str | None) -> str:
    """The format from --format, else the output file's extension, else terminal."""
    if fmt:
        return fmt
    if output:
        if output.endswith(".json"):
            return "json"
        if output.endswith((".md", ".markdown")):
            return "markdown"
        if output.endswith((".html", ".htm")):
            return "html"
    return "terminal"
