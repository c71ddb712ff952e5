"""HTML backend: one self-contained page (plotly's JavaScript embedded once) with every result's
figures, tables, notes and plots; also the ``_repr_html_`` of a single result in a notebook."""
from __future__ import annotations

import html
from typing import Any

from .._result import Figures, Note, Plot, Section, Table
from ._base import Document, Renderer, fmt, header_of

__all__ = ["HtmlRenderer", "render_sections"]

_STYLE = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;"
          "margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:left}"
          "td.num{text-align:right}.note{color:#8a5a00}.warning{color:#b00}.answer{font-size:1.1em;max-width:60em}#js-errors{color:#b00;white-space:pre}")
_ERRORS = """<div id="js-errors"></div><script>
window.addEventListener('error', function (e) {
  document.getElementById('js-errors').textContent += 'JavaScript error: ' + e.message + '\\n';
});
</script>"""


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _figures(s: Figures) -> str:
    rows = "".join(f"<tr><th>{_esc(f.label)}</th><td>{_esc(fmt(f.value, f.unit, f.show, with_unit=True, width=120))}</td></tr>"
                   for f in s.items)
    return f"<h3>{_esc(s.title)}</h3><table>{rows}</table>"


def _table(s: Table) -> str:
    """A Table section as an HTML table (full kernel names kept in the cell's title)."""
    if not s.rows:
        return f"<h3>{_esc(s.title)}</h3><p>{_esc(s.empty)}</p>" if s.empty else ""
    head = "".join(f"<th>{_esc(header_of(c))}</th>" for c in s.cols)
    body = []
    for r in s.rows:
        cells = []
        for c in s.cols:
            text = fmt(r.get(c.key), c.unit, c.show, width=120)
            full = f' title="{_esc(r.get(c.key))}"' if c.unit == "kernel" else ""
            cls = "" if c.unit in ("text", "kernel", "label", "prose") else ' class="num"'
            cells.append(f"<td{cls}{full}>{_esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h3>{_esc(s.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plot(s: Plot, first: list[bool]) -> str:
    """A Plot section as an embedded plotly div; plotly.js is included with the page's first plot only."""
    import plotly.io as pio

    from .figures import plotly_figure

    div = pio.to_html(plotly_figure(s), full_html=False, include_plotlyjs=first[0], config={"displaylogo": False})
    first[0] = False
    return div


def render_sections(title: str, sections: list[Section], *, plots: bool = True, first: list[bool] | None = None) -> str:
    """HTML of one result's sections (plots drawn only when ``plots``)."""
    first = first if first is not None else [True]
    parts = [f"<h2>{_esc(title)}</h2>"] if title else []
    for s in sections:
        if isinstance(s, Figures):
            parts.append(_figures(s))
        elif isinstance(s, Table):
            parts.append(_table(s))
        elif isinstance(s, Note):
            parts.append(f"<p class={s.level}>{_esc(s.text)}</p>")
        elif isinstance(s, Plot):
            parts.append(f"<h3>{_esc(s.title)}</h3>" + (_plot(s, first) if plots else "<p>(call .figure() to draw it)</p>"))
    return "".join(parts)


class HtmlRenderer(Renderer):
    name = "html"

    def render(self, doc: Document, *, color: bool = False, width: int = 100) -> str:
        """The document as one self-contained HTML page with its plots."""
        first = [True]
        parts = [f"<h1>skiprof {_esc(doc.kind)}</h1><p>{_esc(doc.title)}</p>"]
        parts += [f"<p class=note>{_esc(n)}</p>" for n in doc.notes]
        for r in doc.results:
            secs = r.sections()
            if secs:
                parts.append(render_sections(r.title, secs, first=first))
        return (f"<!doctype html><html><head><meta charset=utf-8><title>skiprof {_esc(doc.kind)}</title>"
                f"<style>{_STYLE}</style></head><body>{_ERRORS}{''.join(parts)}</body></html>")
