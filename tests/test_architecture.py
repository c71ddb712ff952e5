"""The house rules, checked: short functions that say what they are for, layers that only import downwards, no import cycle,
and one result contract that puts any analysis in every output format."""
from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import skiprof
from kineto import kernel, op, runtime, write_trace

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"skiprof": ROOT / "skiprof", "skiprof.analyzers": ROOT / "analyzers"}

#: Layers from the bottom up; a module may import only from its own layer or below.
LAYERS = [
    ("skiprof._errors", "skiprof._cores", "skiprof._domain", "skiprof._schema", "skiprof._strings", "skiprof._arrow", "skiprof._meta",
     "skiprof._version", "skiprof._names", "skiprof._result", "skiprof._gcpace", "skiprof._libenv", "skiprof._outputs"),
    ("skiprof._folder", "skiprof._integrity", "skiprof._ingest_summary", "skiprof._spread", "skiprof._dataset", "skiprof._sql"),
    ("skiprof.capture", "skiprof.ingest", "skiprof._cache"),
    ("skiprof.analyzers",),
    ("skiprof.render",),
    ("skiprof._analysis",),
    ("skiprof.commands",),
    ("skiprof.cli", "skiprof._entry", "skiprof.__main__", "skiprof"),
]
#: Deliberate exceptions, each with its reason.
ALLOWED_UP = {
    # Result.figure() and _repr_html_ draw with the html backend, imported only when called.
    ("skiprof._result", "skiprof.render"),
}


def modules() -> Iterator[tuple[str, Path]]:
    for pkg, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield ".".join([pkg, *parts]), path


def layer(module: str) -> int:
    best, level = -1, -1
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return level


def imports(module: str, path: Path, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """skiprof modules imported by ``module`` (absolute names) with their line numbers."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("skiprof"):
                if not node.module and node.level:  # from . import x: each x is a module
                    for a in node.names:
                        yield f"{target}.{a.name}", node.lineno
                else:
                    yield target, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("skiprof"):
                    yield a.name, node.lineno


def test_no_long_functions() -> None:
    long = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long


def test_functions_say_what_they_are_for() -> None:
    """Every function of more than three statements has a docstring (special methods aside)."""
    missing = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("__")
                    and len(node.body) > 3 and ast.get_docstring(node) is None):
                missing.append(f"{module}.{node.name} (line {node.lineno})")
    assert not missing, "functions without a docstring: " + ", ".join(missing)


def test_layers_only_import_downwards() -> None:
    bad = []
    for module, path in modules():
        mine = layer(module)
        for target, line in imports(module, path):
            if target == "skiprof" or module.startswith(target + "."):
                continue  # the package itself (run by Python first anyway)
            if layer(target) > mine and not any(module.startswith(a) and target.startswith(b) for a, b in ALLOWED_UP):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {mine}) imports {target} (layer {layer(target)})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    known = {m for m, _ in modules()}
    for module, path in modules():
        graph[module] = {t for t, _ in imports(module, path, top_level_only=True) if t in known and t != module}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in graph[m]:
            if t.startswith(m + ".") or m.startswith(t + "."):
                continue  # a package and its own modules
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, m, t]))
            if not state.get(t):
                visit(t, [*trail, m])
        state[m] = 2

    for m in graph:
        if not state.get(m):
            visit(m, [])


# --- one result contract ------------------------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    from skiprof.commands.import_ import run_import

    events = [op("ProfilerStep#0", 0, 200, cat="user_annotation"), op("aten::mm", 0, 50),
              runtime("cudaLaunchKernel", 10, 10, 1), kernel("gemm", 25, 100, 1)]
    run_import([write_trace(tmp_path / "t.json", events)], tmp_path / "o", force=False)
    return tmp_path / "o"


def _render_all(folder: Path, tmp_path: Path) -> dict[str, str]:
    from skiprof.cli import main

    out = {}
    for fmt in ("terminal", "markdown", "html", "json"):
        target = tmp_path / f"r.{fmt}"
        assert main(["report", str(folder), "--format", fmt, "-o", str(target)]) == 0
        out[fmt] = target.read_text()
    return out


def test_toy_analysis_appears_in_every_format(tmp_path: Path) -> None:
    """One module and one registry line are all a new analysis needs."""
    from skiprof._result import Col, Result, Table
    from skiprof.analyzers import REGISTRY, Analysis, register

    @dataclass(frozen=True)
    class ToyResult(Result):
        kernels: int
        name = "toy"
        schema = "skiprof.toy/1"
        title = "Toy analysis"

        def to_dict(self) -> dict[str, Any]:
            return {"schema": self.schema, "kernels": self.kernels}

        def sections(self) -> list[Any]:
            return [Table("Toy table", (Col("kernels", "toy kernels", "count"),), ({"kernels": self.kernels},))]

    register(Analysis("toy", lambda v, o: ToyResult(len(v.kernels)), "How many kernels, as a toy?"))
    try:
        out = _render_all(_folder(tmp_path), tmp_path)
    finally:
        del REGISTRY["toy"]
    assert json.loads(out["json"])["toy"] == {"schema": "skiprof.toy/1", "kernels": 1}
    for fmt in ("terminal", "markdown", "html"):
        assert "Toy table" in out[fmt] and "toy kernels" in out[fmt], fmt


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "html"])
def test_same_sections_in_every_format(tmp_path: Path, fmt: str) -> None:
    """Every table and figure block of every text-capable analysis appears in each format, and every
    analysis appears in the JSON."""
    from skiprof._result import Figures, Table

    folder = _folder(tmp_path)
    doc = skiprof.report(folder, fmt=fmt)
    text = _render_all(folder, tmp_path)[fmt]
    data = skiprof.report(folder).to_dict()
    from skiprof.analyzers import REGISTRY

    for r in doc.results:
        assert r.name in data or "json" not in REGISTRY[r.name].formats, r.name
        for s in r.sections():
            if isinstance(s, (Table, Figures)) and (not isinstance(s, Table) or s.rows or s.empty):
                assert s.title in text.replace("&#x27;", "'"), (fmt, s.title)
