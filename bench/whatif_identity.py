"""Identity replay error of `skiprof whatif` on every trace it can find (no knobs: prediction = measurement).

    python bench/whatif_identity.py > table.md

Imports each real trace in ../shared/traces and each sample in traces/, replays it without knobs,
and prints a Markdown table of measured IL, replayed IL and the error (docs/whatif.md holds a copy).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _util import ROOT, SHARED

sys.path.insert(0, str(ROOT))

import skiprof
from skiprof.analyzers import select, whatif
from skiprof.commands.import_ import run_import


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted((SHARED / "traces").glob("*.json.gz")):
            out = Path(tmp) / src.name
            run_import([src], out, force=False)
            rows.append((src.name.removesuffix(".json.gz"), whatif.replay(select(skiprof.load(out)))))
    for folder in sorted(p for p in (ROOT / "traces").iterdir() if (p / "meta.json").exists()):
        rows.append((f"traces/{folder.name} (CPU)", whatif.replay(select(skiprof.load(folder)))))
    print("| trace | measured IL (ms) | replayed IL (ms) | error |")
    print("|---|---|---|---|")
    for name, p in rows:
        print(f"| {name} | {p.measured_il_ns / 1e6:,.3f} | {p.il_ns / 1e6:,.3f} | {100 * p.il_change:+.3f}% |")
    within = sum(abs(p.il_change) <= 0.05 for _, p in rows)
    print(f"\n{within} of {len(rows)} within 5%.")


if __name__ == "__main__":
    main()
