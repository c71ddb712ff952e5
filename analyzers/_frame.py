"""Column dicts to pandas, for the public analyzer functions (pandas is imported only here)."""
from __future__ import annotations

from typing import Any

from ._cols import Codes

__all__ = ["frame", "rows"]


def frame(cols: dict[str, Any], columns: list[str] | None = None) -> Any:
    """A DataFrame from numpy arrays, Codes and lists."""
    import pandas as pd

    data = {k: (v.tolist() if isinstance(v, Codes) else v) for k, v in cols.items()}
    return pd.DataFrame(data, columns=columns or list(data))


def rows(cols: dict[str, Any]) -> list[dict[str, Any]]:
    """Column dict as a list of row dicts of plain Python values (for JSON and text renderers)."""
    if not cols:
        return []
    lists = {k: (v.tolist() if hasattr(v, "tolist") else list(v)) for k, v in cols.items()}
    n = len(next(iter(lists.values())))
    return [{k: lists[k][i] for k in lists} for i in range(n)]
