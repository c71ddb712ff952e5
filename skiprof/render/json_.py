"""JSON backend: the document's header and each result's ``to_dict()`` under its name."""
from __future__ import annotations

import json
import math
from typing import Any

from ._base import Document, Renderer

__all__ = ["JsonRenderer", "document_dict"]


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def document_dict(doc: Document) -> dict[str, Any]:
    """The JSON object of a document (schema first)."""
    out: dict[str, Any] = {"schema": doc.schema, **doc.header, "notes": list(doc.notes)}
    for r in doc.results:
        if getattr(r, "merge_into_document", False):  # its keys belong at the top (the cross-rank report's ranks, ...)
            out.update(r.to_dict())
        else:
            out[r.name] = r.to_dict()
    return _clean(out)


class JsonRenderer(Renderer):
    name = "json"

    def render(self, doc: Document, *, color: bool = False, width: int = 100) -> str:
        return json.dumps(document_dict(doc), indent=2, default=str) + "\n"
