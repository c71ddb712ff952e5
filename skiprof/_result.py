"""The result contract: what every analysis returns, and what every output format renders.

An analysis is a function ``run(view, options) -> Result``. A Result has two faces:

- ``to_dict()``: its versioned JSON (keys documented in docs/metrics.md);
- ``sections()``: presentation-neutral pieces (figures with units, tables with typed columns,
  notes, plots) that one set of backends (skiprof.render: terminal, markdown, html, json) turns
  into every output, so that the formats cannot drift apart.

This module holds no formatting: units are data ("ns", "share", "bytes", ...), and the backends
decide how a unit is written.
"""
from __future__ import annotations

from typing import Any, Union

import msgspec

__all__ = ["Col", "Figure", "Figures", "Table", "Note", "Plot", "Section", "Result", "UNITS", "host_cols"]

#: Units a value may carry. ns values are shown as ms (or µs, per column); share as a percentage.
UNITS = ("ns", "us", "share", "count", "bytes", "GB/s", "text", "kernel", "number", "ms", "label", "prose")


class Col(msgspec.Struct, frozen=True):
    """A table column: key in the row dicts, header, unit, and for ns columns the display scale.
    ``device``: a figure of device activity, left out of the tables of a CPU-only scope (see host_cols)."""

    key: str
    header: str
    unit: str = "text"
    show: str = "ms"  # ns columns: "ms" or "us"
    device: bool = False

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r} for column {self.key!r}")


def host_cols(cols: tuple[Col, ...], has_device: bool) -> tuple[Col, ...]:
    """The columns to show: all of them, or without the device ones on a scope with no device activity,
    where they would only repeat zeros and no-gpu-work (the JSON keeps every key)."""
    return cols if has_device else tuple(c for c in cols if not c.device)


class Figure(msgspec.Struct, frozen=True):
    """One labelled value of a summary block."""

    label: str
    value: Any
    unit: str = "text"
    show: str = "ms"


class Figures(msgspec.Struct, frozen=True):
    """A block of labelled values (the report's headline figures)."""

    title: str
    items: tuple[Figure, ...]


class Table(msgspec.Struct, frozen=True):
    """Rows of typed columns; ``rows`` are dicts keyed by Col.key. An empty table says ``empty``."""

    title: str
    cols: tuple[Col, ...]
    rows: tuple[dict[str, Any], ...]
    empty: str = ""


class Note(msgspec.Struct, frozen=True):
    """A sentence the reader must see (what was left out, what a figure does not cover)."""

    text: str
    level: str = "note"  # note | warning | answer (the verdict: shown as plain text, first)


class Plot(msgspec.Struct, frozen=True):
    """A picture, as data: the html backend and ``Result.figure()`` draw it with plotly; text formats
    name it and point to the html output.

    kind: "bars" (x categories, one or more y series), "lines" (x numbers, y series), "stacked"
    (one stacked horizontal bar of named parts), "timeline" (lanes of [start, end) bars).
    """

    title: str
    kind: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


Section = Union[Figures, Table, Note, Plot]


class Result:
    """Base of every analysis result. Subclasses hold their data as frozen fields: msgspec Structs
    (``class R(Result, msgspec.Struct, frozen=True)``, which Python builds far faster than a
    dataclass, a few milliseconds of every short command) or frozen dataclasses."""

    __slots__ = ()  # no instance dict of its own: a Struct subclass stays a plain Struct

    #: Registry name of the analysis (also its key in the report JSON).
    name: str = ""
    #: Versioned identifier of the JSON layout; bump the number on any incompatible change.
    schema: str = ""
    #: Title of the result in text and html output.
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with ``schema`` first."""
        raise NotImplementedError

    def sections(self) -> list[Section]:
        """Presentation-neutral sections, in reading order."""
        raise NotImplementedError

    def plots(self) -> list[Plot]:
        """The pictures among the sections."""
        return [s for s in self.sections() if isinstance(s, Plot)]

    def figure(self, index: int = 0) -> Any:
        """The result's picture as a plotly Figure (None when it has none); needs plotly."""
        plots = self.plots()
        if not plots:
            return None
        from .render.figures import plotly_figure  # presentation is plugged in only when asked for

        return plotly_figure(plots[index])

    def _repr_html_(self) -> str:
        from .render.html import render_sections

        return render_sections(self.title, self.sections(), plots=False)
