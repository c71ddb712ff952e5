"""The one renderer interface, value formatting by unit, and picking a backend by name or file extension."""
from __future__ import annotations

from typing import Any

import msgspec

from .._names import printable, short_kernel
from .._result import Col, Result

__all__ = ["Document", "Renderer", "renderer", "renderer_for", "FORMATS", "fmt", "header_of", "short_kernel",
           "EXTENSIONS"]

#: Every --format name, in help order.
FORMATS = ("terminal", "json", "markdown", "html")
#: Output file endings and the format each implies.
EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
              ".txt": "terminal"}


class Document(msgspec.Struct, frozen=True):
    """What a command renders: a kind (report, fusion, whatif, ...), a header and its results."""

    kind: str
    title: str
    header: dict[str, Any]
    results: list[Result]
    notes: list[str] = msgspec.field(default_factory=list)
    schema_version: int = 2

    @property
    def schema(self) -> str:
        return f"skiprof.{self.kind}/{self.schema_version}"

    def __getitem__(self, name: str) -> Result:
        """The result of one analysis, by registry name."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no result named {name!r} (have {', '.join(r.name for r in self.results)})")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (what --format json prints)."""
        from .json_ import document_dict

        return document_dict(self)

    def render(self, fmt: str = "terminal", *, color: bool = False, width: int = 100) -> str:
        """The document in one output format, as text."""
        return renderer(fmt).render(self, color=color, width=width)

    def _repr_html_(self) -> str:
        from .html import render_sections

        return "".join(render_sections(r.title, r.sections(), plots=False) for r in self.results)


class Renderer:
    """One output format. ``render`` returns the whole output as text."""

    name = ""

    def render(self, doc: Document, *, color: bool = False, width: int = 100) -> str:
        raise NotImplementedError


def renderer(name: str) -> Renderer:
    """The backend called ``name``."""
    if name == "terminal":
        from .terminal import TerminalRenderer

        return TerminalRenderer()
    if name == "markdown":
        from .markdown import MarkdownRenderer

        return MarkdownRenderer()
    if name == "json":
        from .json_ import JsonRenderer

        return JsonRenderer()
    if name == "html":
        from .html import HtmlRenderer

        return HtmlRenderer()
    raise ValueError(f"unknown format {name!r} ({', '.join(FORMATS)})")


def renderer_for(fmt: str | None, output: str | None) -> str:
    """The format from --format, else the output file's extension, else terminal."""
    if fmt:
        return fmt
    if output:
        for ext, name in EXTENSIONS.items():
            if output.lower().endswith(ext):
                return name
    return "terminal"


def header_of(col: Col) -> str:
    """A column header with its unit, e.g. "total (ms)"."""
    suffix = {"ns": col.show.replace("us", "µs"), "us": "µs", "GB/s": "GB/s", "ms": "ms"}.get(col.unit)
    return f"{col.header} ({suffix})" if suffix else col.header


def fmt(value: Any, unit: str, show: str = "ms", *, with_unit: bool = False, width: int = 60) -> str:
    """One value as text by its unit (tables put the unit in the header, figures after the value)."""
    if value is None:
        return "-"
    if unit == "ns":
        text = f"{value / 1e3:,.1f}" if show == "us" else f"{value / 1e6:,.2f}"
        return f"{text} {'µs' if show == 'us' else 'ms'}" if with_unit else text
    if unit == "us":
        return f"{value:,.1f} µs" if with_unit else f"{value:,.1f}"
    if unit == "ms":
        return f"{value:,.2f} ms" if with_unit else f"{value:,.2f}"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit in ("count", "bytes"):
        return f"{int(value):,}"
    if unit == "GB/s":
        return f"{value:.2f} GB/s" if with_unit else f"{value:.2f}"
    if unit == "number":
        return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"
    if unit == "kernel":
        return printable(short_kernel(str(value), width))
    return printable(str(value))
