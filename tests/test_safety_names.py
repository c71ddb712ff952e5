"""Names in a trace are data: no command prints a control character of theirs to the terminal.

A hostile trace names its kernels, ops and regions with a clear-screen sequence, a title-setting OSC,
an OSC 8 hyperlink, a BEL, a newline and rich markup; every command's output, in every format meant
for a person, must hold none of ESC or BEL, and each name stays on one line.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from kineto import linking_trace, write_trace

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://example.invalid\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = {"gemm_kernel": f"gemm{CLEAR}_kernel", "aten::addmm": f"aten::addmm{TITLE}",
           "skiprof:preprocess": f"skiprof:pre\nprocess{LINK}", "tail_kernel": "tail[/]kernel[bold]",
           "tick": "ti\x1bck"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("names")
    events = []
    for ev in linking_trace():
        if ev.get("name") in HOSTILE:
            ev = {**ev, "name": HOSTILE[ev["name"]]}
        events.append(ev)
    src = write_trace(base / "hostile.json", events)
    r = run_cli("import", str(src), "-o", str(base / "H"))
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout + r.stderr and "\x07" not in r.stdout + r.stderr
    return base / "H"


def _commands(f: str) -> list[list[str]]:
    out = []
    for fmt in ("terminal", "markdown"):
        out += [["report", f, "--format", fmt], ["advise", f, "--format", fmt], ["critical", f, "--format", fmt],
                ["fusion", f, "--format", fmt, "--threshold", "0"], ["diff", f, f, "--format", fmt],
                ["whatif", f, "--launch-scale", "0.5", "--format", fmt]]
    out += [["sql", f, "select name from kernels"], ["sql", f, "select name from ops", "--format", "markdown"],
            ["sql", f, "select name from regions", "--format", "json"],
            ["whatif", f, "--offload", "nope\x1b[2J"], ["report", f, "--region", "x\x1b]0;t\x07"]]
    return out


def test_no_command_prints_a_control_character(hostile: Path) -> None:
    for cmd in _commands(str(hostile)):
        r = run_cli(*cmd)
        text = r.stdout + r.stderr
        assert "\x1b" not in text and "\x07" not in text, (cmd, text[:400])
        assert "internal error" not in text, (cmd, text)
        if r.returncode:
            assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (cmd, r.stderr)


def test_names_are_shown_escaped_on_one_line(hostile: Path) -> None:
    r = run_cli("sql", str(hostile), "select name from regions", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    assert "pre\\x0aprocess" in r.stdout
    r = run_cli("report", str(hostile), "--format", "markdown", "--top", "20")
    assert "gemm\\x1b[2J_kernel" in r.stdout
    term = run_cli("report", str(hostile), "--top", "20")
    assert "tail[/]kernel[bold]" in term.stdout  # printed, not read as markup


def test_printable_escapes_every_control_character() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from skiprof._names import printable

    @given(st.text())
    def check(text: str) -> None:
        shown = printable(text)
        assert shown.isprintable()
        assert printable(text, one_line=False).replace("\n", "").replace("\t", "").isprintable()
        if text.isprintable():
            assert shown == text

    check()
