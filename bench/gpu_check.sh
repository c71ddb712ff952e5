#!/usr/bin/env bash
# One command for a GPU machine: the GPU-marked tests, a gpu-small trace of every workload (real-model
# variants included), the serving prefill sweep over batch sizes 1..128 with its transition table and
# plot, `skiprof calibrate` when it exists, and a what-if check (predicted effect of a CUDA graph on the
# serving decode loop against the same loop run for real as a CUDA graph). Everything goes to one folder
# ($OUT when set, else bench/out/gpu_check), with SUMMARY.md listing what ran and what failed.
#
#   bash bench/gpu_check.sh            # on a GPU, about 5-8 minutes on one H100/H200
#   bash bench/gpu_check.sh --dry-run  # every step on the CPU at the smallest sizes (CI keeps it working)
#   ONLY="gpu-tests calibrate windows host-overhead" bash bench/gpu_check.sh   # some steps only
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUTDIR=${OUT:-$ROOT/bench/out/gpu_check}
mkdir -p "$OUTDIR"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 NO_COLOR=1
# skiprof from this checkout when it is not installed: a copy laid out as installed (analyzers/ and
# workloads/ inside the package), and every command runs from there, since `python -m skiprof` looks
# in the current folder first and the checkout's own skiprof/ lacks them.
if ! "$PY" -c "import skiprof.analyzers" >/dev/null 2>&1; then
    SHADOW=$(mktemp -d)
    cp -r skiprof "$SHADOW/skiprof" && cp -r analyzers "$SHADOW/skiprof/analyzers" && cp -r workloads "$SHADOW/skiprof/workloads"
    export PYTHONPATH="$SHADOW${PYTHONPATH:+:$PYTHONPATH}"
    cd "$SHADOW"
fi
if [ $DRY = 1 ]; then PRESET=cpu-tiny; DEV=cpu; SIZES=1,2,4,8; else PRESET=gpu-small; DEV=cuda; SIZES=1,2,4,8,16,32,64,128; fi
SUMMARY="$OUTDIR/SUMMARY.md"
echo "# gpu_check $(date -u +%FT%TZ) (dry run: $DRY)" > "$SUMMARY"
"$PY" - >> "$SUMMARY" <<'PYEOF'
import platform, torch
print(f"- python {platform.python_version()}, torch {torch.__version__}, cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print(f"- device: {torch.cuda.get_device_name(0)}")
PYEOF
FAILED=0
step() {  # step NAME COMMAND...: run, log to OUTDIR/logs/NAME.log, record the outcome and the time
    local name=$1; shift
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" ${name%%-*} "* && " $ONLY " != *" $name "* ]]; then
        return 0
    fi
    mkdir -p "$OUTDIR/logs"
    local t0=$SECONDS
    if "$@" > "$OUTDIR/logs/$name.log" 2>&1; then
        echo "- ok: $name ($((SECONDS - t0)) s)" | tee -a "$SUMMARY"
    else
        echo "- FAILED: $name ($((SECONDS - t0)) s; see logs/$name.log)" | tee -a "$SUMMARY"
        FAILED=$((FAILED + 1))
    fi
}
trace() {  # trace NAME WORKLOAD ARGS...: a trace folder per workload, gzipped raw trace kept beside it
    local name=$1 w=$2; shift 2
    "$PY" -m skiprof trace --no-report -f -o "$OUTDIR/traces/$name" "$ROOT/workloads/$w.py" --preset $PRESET --device $DEV "$@" \
        && cp "$OUTDIR/traces/$name/trace.json.gz" "$OUTDIR/traces/$name.json.gz" 2>/dev/null || [ -f "$OUTDIR/traces/$name/meta.json" ]
}

step gpu-tests "$PY" -m pytest -q -m gpu "$ROOT/tests/test_gpu.py" -p no:cacheprovider --rootdir "$ROOT"
step trace-serving trace serving serving --requests 16 --gen-len 32
step trace-serving-qwen2 trace serving-qwen2 serving --model qwen2 --requests 8 --gen-len 16
step trace-serving-llama trace serving-llama serving --model llama --requests 8 --gen-len 16
step trace-moe trace moe moe --mode prefetch
step trace-moe-mixtral trace moe-mixtral moe --model mixtral --mode prefetch --steps 3
step trace-diffusion trace diffusion diffusion
step trace-diffusion-sd trace diffusion-sd diffusion --model sd --steps 10
step trace-cxl trace cxl_offload cxl_offload
step trace-vision trace vision_pipeline vision_pipeline
step prefill-sweep "$PY" -m skiprof sweep "$ROOT/workloads/serving.py" --param batch_size=$SIZES -o "$OUTDIR/sweep" -f -- \
    --prefill-only --batches 2 --rate 1e9 --preset $PRESET --device $DEV
step transition "$PY" -m skiprof transition "$OUTDIR/sweep" -o "$OUTDIR/transition.json" -f
step calibrate "$PY" -m skiprof calibrate -o "$OUTDIR/calibration.json" -f
# After calibrating: a capture carries this host's floors, so its host-overhead split is calibrated.
step host-overhead "$PY" -m skiprof trace --no-report -f -o "$OUTDIR/hostsplit" "$ROOT/workloads/serving.py" \
    --preset $PRESET --device $DEV --requests 16 --gen-len 32
# The serving workload as a server (quiet, burst, quiet) under periodic windows: boundness over time.
# On a GPU the Llama-3.2-1B shape with 1024-token prompts: a burst fills the batch with prefills.
if [ $DRY = 1 ]; then SERVE="--duration 6 --preset $PRESET"; EVERY="--every 2 --duration 0.5"; else SERVE=${WINDOWS_SERVE:-"--duration 45 --preset gpu-paper --prompt-len 1024"}; EVERY=${WINDOWS_EVERY:-"--every 5 --duration 1"}; fi
step windows "$PY" -m skiprof trace --no-report -f $EVERY -o "$OUTDIR/windows" "$ROOT/workloads/serving.py" \
    --serve $SERVE --device $DEV
step windows-report "$PY" -m skiprof report "$OUTDIR/windows" --format json -o "$OUTDIR/windows.json" -f
# What-if check: record decode steps 6..25 of static batching (prefill, warm-up and graph capture fall in
# the skipped steps), predict a CUDA graph per decode step, then run the same loop as a real graph.
W="--batching static --batch-size 8 --requests 8 --gen-len 48 --rate 1e9 --preset $PRESET --device $DEV"
step whatif-baseline "$PY" -m skiprof trace --no-report -f -o "$OUTDIR/whatif/eager" --steps 20 --skip-first 5 "$ROOT/workloads/serving.py" $W
step whatif-predict "$PY" -m skiprof whatif "$OUTDIR/whatif/eager" --cuda-graph decode -o "$OUTDIR/whatif/predicted.json" -f
if [ $DRY = 1 ]; then
    echo "- skipped: whatif-measured (CUDA graphs need a GPU)" | tee -a "$SUMMARY"
else
    step whatif-measured "$PY" -m skiprof trace --no-report -f -o "$OUTDIR/whatif/graph" --steps 20 --skip-first 5 "$ROOT/workloads/serving.py" $W --cuda-graph
fi
"$PY" - "$OUTDIR" >> "$SUMMARY" <<'PYEOF'
import json, sys
from pathlib import Path
import skiprof
out = Path(sys.argv[1])
pred = out / "whatif" / "predicted.json"
if pred.exists():
    p = json.loads(pred.read_text())["whatif"]
    line = f"\n## What-if check\n\n- eager decode loop: IL {p['measured_il_ns'] / 1e6:.3f} ms measured; with a CUDA graph per decode step: {p['il_ns'] / 1e6:.3f} ms predicted"
    graph = out / "whatif" / "graph"
    if (graph / "meta.json").exists():
        real = skiprof.report(graph).to_dict()["launch"]["il_ns"]
        line += f", {real / 1e6:.3f} ms measured (prediction error {100 * (p['il_ns'] / real - 1):+.1f}%)"
    print(line)
tr = out / "transition.json"
if tr.exists():
    t = json.loads(tr.read_text())["transition"]
    print("\n## Prefill sweep\n\n| batch | TKLQT (ms) | IL (ms) | GPU idle | queue share |\n|---|---|---|---|---|")
    for c in t["configurations"]:
        print(f"| {c['value']:g} | {c['tklqt_ns'] / 1e6:.3f} | {c['il_ns'] / 1e6:.3f} | {100 * c['gpu_idle_share']:.1f}% | {100 * c['queue_share']:.1f}% |")
    print(f"\ntransition: {t['transition']}")
cal = out / "calibration.json"
if cal.exists():
    c = json.loads(cal.read_text())
    print(f"\n## Calibration ({c.get('device') or 'CPU'}, driver {c.get('driver')})\n\n| figure | median | min | max |\n|---|---|---|---|")
    for k, f in c["figures"].items():
        print(f"| {k} | {f['median']:.4g} | {f['min']:.4g} | {f['max']:.4g} |")
hs = out / "hostsplit"
if (hs / "meta.json").exists():
    h = skiprof.report(hs).to_dict()["host_overhead"]
    print(f"\n## Host overhead after calibrating (calibrated: {h['calibrated']})\n")
    print(", ".join(f"{k} {h[k] / 1e6:.3f} ms" for k in ("orchestration_ns", "framework_ns", "library_ns", "launch_floor_ns", "above_floor_ns", "device_active_ns")) + f", HDBI {h['hdbi']}")
w = out / "windows.json"
if w.exists():
    d = json.loads(w.read_text())["windows"]
    print("\n## Windows of the serving workload as a server\n\n| window | label | GPU busy | queue share | TKLQT (ms) | HDBI | offered rate | tokens/s | TTFT (ms) |\n|---|---|---|---|---|---|---|---|---|")
    for r in d["windows"]:
        m = {k: v["value"] for k, v in r["metrics"].items()}
        print(f"| {r['window']} | {r['label']} | {100 * r['gpu_busy_share']:.1f}% | {100 * r['queue_share']:.1f}% | {r['tklqt_ns'] / 1e6:.2f} | {r['hdbi']} | {m.get('offered_rate', float('nan')):.3g} | {m.get('tokens_per_s', float('nan')):.4g} | {m.get('ttft_ms_mean', float('nan')):.4g} |")
    for c in d["changes"]:
        print(f"\n- window {c['from_window']} -> {c['to_window']}: {c['from']} -> {c['to']}; also: " + "; ".join(f"{m['figure']} {m['before']:.4g} -> {m['after']:.4g}" for m in c["also_changed"][:5]))
PYEOF
echo "failed steps: $FAILED" | tee -a "$SUMMARY"
exit $FAILED
