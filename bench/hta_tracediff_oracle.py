"""Write tests/oracles/hta_tracediff.json: what HTA's TraceDiff.compare_traces reports for pairs of
real traces, for the conformance test of skiprof diff (tests/test_diff.py).

    pip install holistictraceanalysis==0.5.0   # in a separate environment: it pins its own pandas
    python bench/hta_tracediff_oracle.py [--shared ../shared]

HTA compares the first iteration (ProfilerStep) of each trace, host events only here
(DeviceType.CPU: every event without a stream), counted by name.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: (label, control file, test file) under SHARED/traces.
PAIRS = [
    ("sampled pair: rank 0 against rank 1", "multirank/hta_sampled_pair/sampled_rank-0.json.gz",
     "multirank/hta_sampled_pair/sampled_rank-1.json.gz"),
    ("DDP on A100 against DDP on V100", "hta_a100_ddp2_nccl.json.gz", "hta_v100_ddp2_df_index_resolver.json.gz"),
]


def main() -> None:
    import hta
    from hta.trace_diff import DeviceType, LabeledTrace, TraceDiff

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    a = ap.parse_args()
    out = {"hta_version": getattr(hta, "__version__", "0.5.0"), "device_type": "CPU", "pairs": []}
    for label, control, test in PAIRS:
        with tempfile.TemporaryDirectory() as tmp:
            dirs = []
            for side, f in (("control", control), ("test", test)):
                d = Path(tmp) / side
                d.mkdir()
                shutil.copy(a.shared / "traces" / f, d)
                dirs.append(LabeledTrace(label=side, trace_dir=str(d)))
            df = TraceDiff.compare_traces(dirs[0], dirs[1], device_type=DeviceType.CPU)
            out["pairs"].append({"label": label, "control": control, "test": test,
                                 "control_iteration": int(dirs[0].iterations()[0]), "test_iteration": int(dirs[1].iterations()[0]),
                                 "counts": {str(n): [int(r["control_counts"]), int(r["test_counts"])] for n, r in df.iterrows()}})
    path = ROOT / "tests" / "oracles" / "hta_tracediff.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
