"""Output backends: they turn Results (skiprof._result) into text, Markdown, HTML and JSON.

Nothing here computes a figure; rich and plotly are imported here and nowhere else.
``Document`` is what a command renders: a header and a list of results. A backend is picked by
``--format`` or by the output file's extension (``renderer_for``).
"""
from __future__ import annotations

from ._base import FORMATS, Document, Renderer, renderer, renderer_for, short_kernel

__all__ = ["Document", "Renderer", "renderer", "renderer_for", "FORMATS", "short_kernel"]
