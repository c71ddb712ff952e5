"""Names as a person reads them: C++ kernel names without their noise."""
from __future__ import annotations

__all__ = ["short_kernel"]


def short_kernel(name: str, width: int = 70) -> str:
    """A kernel name a person can scan: no `void`, no `at::native::`, no argument list; cut to ``width`` with '…'."""
    n = name.removeprefix("void ").replace("at::native::", "").replace("(anonymous namespace)::", "")
    depth = 0
    for i, ch in enumerate(n):  # drop the parameter list: the first "(" outside template brackets
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0:
            n = n[:i]
            break
    return n if len(n) <= width else n[: width - 1] + "…"
