"""Names as a person reads them: C++ kernel names without their noise."""
from __future__ import annotations

__all__ = ["short_kernel", "printable"]


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


def printable(text: str, *, one_line: bool = True) -> str:
    """``text`` safe to show on a terminal: every control character (ESC, BEL, C1 codes, and with ``one_line``
    newlines and tabs too) becomes a visible escape such as ``\\x1b``. Names in a trace are data: one must
    never clear the screen, set the title or plant a link, and one name stays one line."""
    if text.isprintable():
        return text
    keep = "" if one_line else "\n\t"
    return "".join(ch if ch.isprintable() or ch in keep else f"\\x{ord(ch):02x}" if ord(ch) < 0x100
                   else f"\\u{ord(ch):04x}" for ch in text)
