"""The import summary's figures on the hand-built trace (tests/kineto.py:linking_trace).

Worked by hand: ops span [-10 µs (early_kernel), 190 µs (ProfilerStep#1 end)] -> 200 µs;
7 activities, 1 before the window -> 6 linkable, 6 linked to a launch and 6 to an op.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

import skiprof
from kineto import linking_trace, op, write_trace
from skiprof._ingest_summary import summarize
from skiprof.commands.import_ import run_import
from skiprof.render.ingest_summary import render_summary


def _summary(tmp_path: Path, events: list[dict]):
    src = write_trace(tmp_path / "t.json", events)
    return run_import([src], tmp_path / "o", force=False)


def test_span(tmp_path: Path) -> None:
    s = _summary(tmp_path, linking_trace())
    assert s.ranks[0].span_ns == 200_000


def test_counts(tmp_path: Path) -> None:
    r = _summary(tmp_path, linking_trace()).ranks[0]
    assert (r.ops, r.launches, r.launch_calls, r.activities, r.regions) == (5, 4, 3, 7, 2)
    assert r.events_without_ts == 0


def test_events_without_ts_are_counted(tmp_path: Path) -> None:
    events = [op("aten::a", 0, 5), {"ph": "X", "cat": "cpu_op", "name": "aten::b", "pid": 1, "tid": 1, "dur": 3}]
    r = _summary(tmp_path, events).ranks[0]
    assert (r.ops, r.events_without_ts) == (1, 1)


def test_rates(tmp_path: Path) -> None:
    r = _summary(tmp_path, linking_trace()).ranks[0]
    assert (r.linkable, r.linked_to_launch, r.linked_to_op) == (6, 6, 6)
    assert r.launch_link_rate == 1.0 and r.op_link_rate == 1.0
    assert (r.orphans, r.orphans_before_window) == (1, 1)


def test_render_mentions_every_figure(tmp_path: Path) -> None:
    s = _summary(tmp_path, linking_trace())
    console = Console(record=True, width=100, no_color=True)
    render_summary(s, console)
    text = console.export_text()
    for piece in ("0.2 ms traced", "5 host ops", "4 runtime calls", "3 kernel/graph launches",
                  "7 device activities (6 kernel, 1 memcpy)", "linked to their launch: 6 of 6 (100.00%)", "linked to a CPU op: 6 (100.00%)", "orphans: 1",
                  "1 launched before the trace window", "not tabulated: 1 events"):
        assert piece in text, piece


def test_summary_round_trips_through_meta(tmp_path: Path) -> None:
    s = _summary(tmp_path, linking_trace())
    again = summarize(s.path, skiprof.load(s.path).meta)
    assert again == s


def test_a_table_wider_than_the_console_keeps_every_label_whole() -> None:
    """Nine numeric columns and a label do not fit 60 columns: the table runs past the width instead
    of cutting "dependency-bound" to "dependen"."""
    from skiprof._result import Col, Table
    from skiprof.render.terminal import _table

    cols = tuple(Col(f"n{i}", f"figure {i}", "ns") for i in range(9)) + (Col("label", "boundness", "label"),)
    row = {**{f"n{i}": 123_456_789 for i in range(9)}, "label": "dependency-bound"}
    console = Console(record=True, width=60, no_color=True)
    _table(console, Table("wide", cols, (row,)))
    text = console.export_text()
    assert "dependency-bound" in text and "123.46" in text
