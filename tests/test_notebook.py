"""docs/notebook.ipynb runs from top to bottom, headless, with the public API only, and draws its pictures."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT, TRACES

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_notebook_uses_only_the_public_api() -> None:
    nb = json.loads((ROOT / "docs" / "notebook.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "skiprof.commands" not in code and "skiprof._" not in code and "from skiprof._" not in code
    assert all(c.get("id") for c in nb["cells"])  # nbformat 4.5 wants one per cell (a warning today, an error later)


def test_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKIPROF_CACHE", str(tmp_path / "cache"))  # the kernel inherits it: a cold cache
    nb = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "docs")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "ttft_ms_mean" in text and "prefill" in text
    titles = [json.dumps(o["data"]["application/vnd.plotly.v1+json"]["layout"].get("title"))
              for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert any("Phase breakdown" in t for t in titles), titles
    assert any("Timeline" in t for t in titles), titles
    assert any("Allocated memory over time" in t for t in titles), titles
    if TRACES.is_dir():
        assert any("GPU busy share per step" in t for t in titles), titles
        assert "first load" in text and "second load" in text
        assert len(os.listdir(tmp_path / "cache")) == 3  # BERT, ResNet and the rank pair, each imported once
        assert "device_ms" in text and "nccl_ms" in text  # the SQL cell
