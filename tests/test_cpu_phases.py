"""The phase split of traces without a GPU, with answers worked out on paper (times in µs).

1. Ops and gaps: top-level ops [0,40) aten::linear (with a child aten::addmm), [50,70) aten::copy_,
   [100,130) aten::relu; a skiprof preprocess region [130,150) holding aten::div [135,145).
   Scope [0,150): compute = linear 40 + relu 30 = 70; data_movement = copy_ 20; preprocessing = the
   region 20 (it outranks the div inside it); gaps [40,50) and [70,100) = 40 are Python between
   ops: host_overhead 40; idle 0 (no CPU-time samples to say the process waited).
2. The same trace with main-thread CPU samples every 50 µs: at 0 (0 ns of CPU), 50 (50 µs: the
   interval [0,50) holds 40 of ops and the 10 gap worked), 100 (70: [50,100) holds 20 of copy_
   and the 30 gap used 0 CPU: it waited), 150 (120). Host overhead 10, idle 30.
3. torch.compile: "dynamo" [0,100) holds "aten::mm" [10,20) (a fake-tensor op of the tracing),
   then "Torch-Compiled Region" [100,130): compile 100, compute 30.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import skiprof
from kineto import HOST_PID, HOST_TID, op, write_trace

US = 1000


def _phases(tmp_path: Path, events: list[dict], capture: dict | None = None) -> dict[str, int]:
    from skiprof.analyzers import breakdown, select
    from skiprof.commands.import_ import run_import

    src = write_trace(tmp_path / "t.json", events)
    run_import([src], tmp_path / "o", force=True)
    if capture is not None:  # what skiprof trace records about its CPU sampling
        import msgspec

        from skiprof._meta import Capture, decode_meta, encode_meta

        path = tmp_path / "o" / "meta.json"
        meta = msgspec.structs.replace(decode_meta(path.read_bytes()), capture=Capture(**capture))
        path.write_bytes(encode_meta(meta))
    v = select(skiprof.load(tmp_path / "o"))
    p = breakdown.phases(v)
    assert sum(p.ns) == p.span_ns == v.il_ns
    return dict(zip(p.names, p.ns))


def ops_and_gaps() -> list[dict]:
    return [op("aten::linear", 0, 40), op("aten::addmm", 5, 30), op("aten::copy_", 50, 20), op("aten::relu", 100, 30),
            op("skiprof:preprocess", 130, 20, cat="user_annotation"), op("aten::div", 135, 10)]


def test_cpu_ops_are_compute_and_gaps_are_host_overhead(tmp_path: Path) -> None:
    got = _phases(tmp_path, ops_and_gaps())
    assert got == {"communication": 0, "compute": 70 * US, "compile": 0, "data_movement": 20 * US,
                   "preprocessing": 20 * US, "postprocessing": 0, "host_overhead": 40 * US, "idle": 0}


def test_cpu_samples_split_gaps_into_work_and_waiting(tmp_path: Path) -> None:
    samples = [{"ph": "C", "name": "skiprof.cpu", "pid": HOST_PID, "tid": HOST_TID, "ts": t,
                "args": {"main_thread_cpu_ns": cpu * US}} for t, cpu in ((0, 0), (50, 50), (100, 70), (150, 120))]
    step = op("ProfilerStep#0", 0, 150, cat="user_annotation")  # marks time, uses none: not evidence of work
    got = _phases(tmp_path, ops_and_gaps() + samples + [step], capture={"cpu_sampled_tid": HOST_TID})
    assert (got["host_overhead"], got["idle"]) == (10 * US, 30 * US)
    assert got["compute"] == 70 * US


def test_python_waits_are_idle_only_where_the_working_threads_wait(tmp_path: Path) -> None:
    """GPU trace, with_stack frames. Thread 1 runs no op and waits [0, 300) (a harness waiting for the
    worker): no evidence about the work. Thread 2: aten::mm [10, 40) launching K1 [50, 60), a queue
    get [60, 100), aten::add [100, 120) launching K2 [130, 140). Thread 3: aten::relu [80, 90).
    Scope [10, 140) (Python frames do not bound it). Compute 20; idle: thread 2's get minus thread
    3's op = [60, 80) + [90, 100) = 30; host overhead: the ops [10, 40), [80, 90), [100, 120) = 60 and
    the uncovered [40, 50), [120, 130) = 20 (no CPU samples, nothing held back): 80. Before, thread
    1's wait made all 110 idle, while boundness said the GPU waited for the host."""
    from kineto import kernel, runtime

    events = [op("threading.py(655): wait", 0, 300, cat="python_function", tid=1),
              op("aten::mm", 10, 30, tid=2), runtime("cudaLaunchKernel", 15, 5, 1, tid=2), kernel("K1", 50, 10, 1),
              op("queue.py(171): get", 60, 40, cat="python_function", tid=2),
              op("aten::add", 100, 20, tid=2), runtime("cudaLaunchKernel", 105, 5, 2, tid=2), kernel("K2", 130, 10, 2),
              op("aten::relu", 80, 10, tid=3)]
    got = _phases(tmp_path, events)
    assert {k: v // US for k, v in got.items() if v} == {"compute": 20, "idle": 30, "host_overhead": 80}


def test_compile_time_is_its_own_phase(tmp_path: Path) -> None:
    events = [op("dynamo", 0, 100), op("aten::mm", 10, 10), op("Torch-Compiled Region: 0/0", 100, 30),
              op("aten::mm", 105, 20)]
    got = _phases(tmp_path, events)
    assert (got["compile"], got["compute"], got["host_overhead"]) == (100 * US, 30 * US, 0)


def test_cpu_only_steps_show_no_gpu_columns(tmp_path: Path) -> None:
    """8 skiprof.step() calls give 8 step rows (the tail after the last is no step), with host figures only."""
    from skiprof.analyzers import boundness, select
    from skiprof.commands.import_ import run_import

    events = [op(f"ProfilerStep#{i}", 10 * i, 10, cat="user_annotation") for i in range(9)]
    events += [op("aten::add", 10 * i + 1, 5) for i in range(9)]
    run_import([write_trace(tmp_path / "t.json", events)], tmp_path / "o", force=True)
    import msgspec

    from skiprof._meta import Capture, decode_meta, encode_meta

    path = tmp_path / "o" / "meta.json"
    path.write_bytes(encode_meta(msgspec.structs.replace(decode_meta(path.read_bytes()), capture=Capture(step_calls=8))))
    t = skiprof.load(tmp_path / "o")
    r = boundness.run(select(t), __import__("skiprof.analyzers", fromlist=["Options"]).Options())
    assert [row["stretch"] for row in r.steps] == [f"step {i}" for i in range(8)]
    (table,) = r.sections()
    assert [c.key for c in table.cols] == ["stretch", "duration_ns"]  # every label would be no-gpu-work
    text = skiprof.report(t, fmt="terminal").render("terminal")
    assert "GPU busy" not in text and "idle host" not in text
    # The tail may still be asked for; it says what it is, here and in the list of steps.
    assert select(t, step=8).label == "rank 0, step 8, the open tail" and select(t, step=7).label == "rank 0, step 7"
    with pytest.raises(skiprof.SkiprofError, match=r"steps: 0, 1, .*7, 8 \(the open tail after the last skiprof.step\(\)\)"):
        select(t, step=99)


@pytest.mark.slow
def test_transformers_capture_is_mostly_compute(tmp_path: Path) -> None:
    """A Hugging Face decoder built from a config (random weights, no download), generating on the CPU
    under skiprof trace without any region: its aten ops are the largest phase."""
    pytest.importorskip("transformers")
    from conftest import run_cli

    script = tmp_path / "hf.py"
    script.write_text(
        "import torch\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "torch.manual_seed(0)\n"
        "cfg = LlamaConfig(vocab_size=1024, hidden_size=256, intermediate_size=768, num_hidden_layers=4,\n"
        "                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)\n"
        "model = LlamaForCausalLM(cfg).eval()\n"
        "ids = torch.randint(0, 1024, (4, 32))\n"
        "with torch.inference_mode():\n"
        "    model.generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=0)\n")
    r = run_cli("trace", "--no-report", "-o", str(tmp_path / "run"), str(script))
    assert r.returncode == 0, r.stderr
    d = skiprof.report(tmp_path / "run").to_dict()["phases"]
    shares = {k: v["share"] for k, v in d["by_phase"].items()}
    assert max(shares, key=shares.get) == "compute", shares
    assert d["cpu_time_sampled"] is True


@pytest.mark.slow
def test_torch_compile_capture_shows_compile_time(tmp_path: Path) -> None:
    from conftest import run_cli

    script = tmp_path / "c.py"
    script.write_text(
        "import torch\n"
        "m = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))\n"
        "f = torch.compile(m, backend='aot_eager')\n"
        "x = torch.randn(16, 64)\n"
        "for _ in range(5):\n"
        "    f(x)\n")
    r = run_cli("trace", "--no-report", "-o", str(tmp_path / "run"), str(script))
    assert r.returncode == 0, r.stderr
    by = skiprof.report(tmp_path / "run").to_dict()["phases"]["by_phase"]
    assert by["compile"]["share"] > 0.3 and by["compile"]["ns"] > by["compute"]["ns"]


def test_a_sleeping_script_is_idle_not_overhead(tmp_path: Path) -> None:
    """Under skiprof trace, time.sleep between two ops is idle (the main thread waited); the busy
    Python loop between two others is host overhead."""
    from conftest import run_cli

    script = tmp_path / "s.py"
    # The loop burns 0.3 s of the main thread's CPU time (not of wall time), and says how long it took:
    # on a loaded machine the thread also waits for a core, and that wait is idle, as the samples see it.
    script.write_text(
        "import json, time, torch\n"
        "x = torch.randn(256, 256)\n"
        "x @ x\n"
        "time.sleep(0.3)\n"
        "x @ x\n"
        "w, c = time.perf_counter(), time.thread_time()\n"
        "while time.thread_time() - c < 0.3:\n"
        "    pass\n"
        "w = time.perf_counter() - w\n"
        "x @ x\n"
        f"open({str(tmp_path / 'loop.json')!r}, 'w').write(json.dumps(w))\n")
    r = run_cli("trace", "--no-report", "-o", str(tmp_path / "run"), str(script))
    assert r.returncode == 0, r.stderr
    loop_wall = json.loads((tmp_path / "loop.json").read_text()) * 1e9
    by = skiprof.report(tmp_path / "run").to_dict()["phases"]["by_phase"]
    # 10 ms samples: each edge of the loop and of the sleep may land 10-20 ms either way.
    assert 0.2e9 < by["host_overhead"]["ns"] < loop_wall + 0.15e9, (by, loop_wall)
    assert 0.2e9 < by["idle"]["ns"] < 0.3e9 + (loop_wall - 0.3e9) + 0.1e9, (by, loop_wall)
