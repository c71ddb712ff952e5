"""The HTML report: self-contained, within size on the biggest trace, and rendering in a real browser."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, TRACES, needs_shared, run_cli
from kineto import linking_trace, write_trace

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--virtual-time-budget=8000"]


def _html(tmp_path: Path, events: list[dict] | None = None) -> Path:
    src = write_trace(tmp_path / "t.json", events or linking_trace())
    assert run_cli("import", str(src), "-o", str(tmp_path / "o")).returncode == 0
    r = run_cli("report", str(tmp_path / "o"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    return tmp_path / "r.html"


def test_html_is_self_contained(tmp_path: Path) -> None:
    text = _html(tmp_path).read_text()
    assert "<script src=" not in text.replace('<script src="data:', "")  # no network: plotly is inline
    assert "Plotly.newPlot" in text and "Timeline" in text and "Phase breakdown" in text
    assert "gemm_kernel" in text and "TKLQT" in text


@needs_shared
def test_html_size_on_the_biggest_trace(tmp_path: Path) -> None:
    run_cli("import", str(TRACES / "hta_v100_ddp2_df_index_resolver.json.gz"), "-o", str(tmp_path / "o"))
    r = run_cli("report", str(tmp_path / "o"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "r.html").read_text()
    assert len(text.encode()) < 10_000_000
    assert "Sampled for the timeline" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium) to render the page")
def test_html_renders_in_a_browser(tmp_path: Path) -> None:
    page = _html(tmp_path)
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'u1'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="main-svg"') >= 2  # plotly drew both figures
    assert '<div id="js-errors"></div>' in dom  # and nothing threw
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'u2'}", "--window-size=1280,1600",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
