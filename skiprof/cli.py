"""The ``skiprof`` command line: a thin layer over ``skiprof.commands``.

``main(argv) -> int`` is the single place where errors become exit codes, so
tests can drive the CLI in-process.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._errors import SkiprofError

__all__ = ["app", "main"]

app = typer.Typer(
    name="skiprof",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help=(
        "Trace profiler and analyzer for PyTorch: why is the GPU not busy?\n\n"
        "skiprof trace runs a script under torch.profiler and writes a trace folder "
        "(Parquet tables + meta.json); skiprof import does the same for any Kineto trace."
    ),
)

def _version(value: bool) -> None:
    if value:
        from ._version import __version__

        print(f"skiprof {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)] = False,
) -> None:
    """Trace profiler and analyzer for PyTorch: why is the GPU not busy?"""


Output = Annotated[Optional[str], typer.Option("-o", "--output", help="Output trace folder. Default: skiprof-<name>-<timestamp>. %p expands to the pid, %q{ENV} to an environment variable, %h to the host name.", show_default=False)]
Force = Annotated[bool, typer.Option("-f", "--force", help="Overwrite the output folder if it exists.")]
NoReport = Annotated[bool, typer.Option("--no-report", help="Do not print the summary.")]


def _console(stderr: bool = False):  # noqa: ANN202 - rich is imported lazily
    from rich.console import Console

    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


@app.command(
    "trace",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    help="Run SCRIPT (or -m MODULE) under the profiler and write a trace folder. Everything after the script belongs to the script; skiprof exits with the script's exit code.",
)
def trace_cmd(
    script: Annotated[Optional[str], typer.Argument(help="Python script to run as __main__.", show_default=False)] = None,
    args: Annotated[Optional[list[str]], typer.Argument(help="Arguments passed to the script untouched.", show_default=False)] = None,
    module: Annotated[Optional[str], typer.Option("-m", "--module", help="Run a module as with python -m.", show_default=False)] = None,
    output: Output = None,
    force: Force = False,
    delay: Annotated[float, typer.Option("--delay", help="Seconds to wait before recording.", min=0)] = 0.0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds to record, then stop.", min=0, show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Record N steps marked by skiprof.step().", min=1, show_default=False)] = None,
    skip_first: Annotated[int, typer.Option("--skip-first", help="With --steps: steps to skip before recording.", min=0)] = 0,
    record_shapes: Annotated[bool, typer.Option("--record-shapes/--no-record-shapes", help="Record operator input shapes.")] = True,
    with_stack: Annotated[bool, typer.Option("--with-stack", help="Record Python stacks (slower; torch 2.13 may fail on odd bytes).")] = False,
    no_report: NoReport = False,
) -> None:
    from .capture import CaptureOptions, resolve_target
    from .commands.trace import run_trace

    if skip_first and steps is None:
        raise typer.BadParameter("--skip-first needs --steps")
    target = resolve_target(script, module, list(args or []))
    options = CaptureOptions(delay=delay, duration=duration, steps=steps, skip_first=skip_first,
                             record_shapes=record_shapes, with_stack=with_stack)
    progress = _progress_bar() if sys.stderr.isatty() else None
    try:
        code, summary = run_trace(target, output, force=force, options=options, progress=progress)
    finally:
        if progress is not None:
            progress.close()  # type: ignore[attr-defined]
    if not no_report:
        from .render.summary import render_summary

        render_summary(summary, _console(stderr=True))
    raise typer.Exit(code)


@app.command("import", help="Ingest Kineto traces (.json or .json.gz, CUDA, ROCm or CPU-only) into a trace folder. Several files, or a folder of per-rank files, become one dataset with rank=N/ partitions.")
def import_cmd(
    traces: Annotated[list[Path], typer.Argument(help="Trace files, or folders holding them.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output trace folder. Default: skiprof-<trace name>.", show_default=False)] = None,
    force: Force = False,
    no_report: NoReport = False,
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Processes that decode in parallel (1 = no helper process).", min=1, max=2)] = 2,
) -> None:
    from .commands.import_ import run_import

    progress = _progress_bar() if sys.stderr.isatty() else None
    try:
        summary = run_import(traces, output, force=force, progress=progress, workers=jobs)
    finally:
        if progress is not None:
            progress.close()  # type: ignore[attr-defined]
    if not no_report:
        from .render.summary import render_summary

        render_summary(summary, _console(stderr=False))


@app.command("report", help="Analyze a trace folder: launch/queue time (TKLQT), GPU idle, CPU- vs GPU-boundness, phase shares, top kernels and ops. Terminal by default; --format json|markdown, to stdout or -o FILE.")
def report_cmd(
    folder: Annotated[Path, typer.Argument(help="Trace folder written by skiprof trace or skiprof import.", show_default=False)],
    fmt: Annotated[Optional[str], typer.Option("--format", help="terminal, json or markdown (default: from -o's extension, else terminal).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to FILE instead of stdout.", show_default=False)] = None,
    force: Force = False,
    top: Annotated[int, typer.Option("--top", help="Rows in the top kernels / ops tables.")] = 10,
    step: Annotated[Optional[int], typer.Option("--step", help="Only this ProfilerStep / skiprof.step() number.", show_default=False)] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Only time inside this region (skiprof.region or annotation name).", show_default=False)] = None,
    rank: Annotated[Optional[int], typer.Option("--rank", help="Rank to analyze (default: the lowest).", show_default=False)] = None,
) -> None:
    from .commands.report import run_report, write_output
    from .render.report import RENDERERS, render_terminal, renderer_for

    kind = renderer_for(fmt, str(output) if output else None)
    if kind not in ("terminal", "html", *RENDERERS):
        raise typer.BadParameter(f"unknown format {kind!r} (terminal, json, markdown, html)", param_hint="--format")
    if kind == "html":
        if output is None:
            raise typer.BadParameter("--format html needs -o FILE.html", param_hint="--format")
        from .commands.report import run_html

        write_output(run_html(folder, rank=rank, step=step, region=region, top=top), output, force)
        return
    if output is not None and output.exists() and not force:
        from ._errors import OutputExistsError

        raise OutputExistsError(output)
    report = run_report(folder, rank=rank, step=step, region=region, top=top)
    if kind == "terminal":
        if output is not None:
            from rich.console import Console

            with open(output, "w") as fh:
                render_terminal(report, Console(file=fh, width=100, no_color=True))
        else:
            render_terminal(report, _console())
        return
    text = RENDERERS[kind](report)
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(text, output, force)


@app.command(
    "sweep",
    help="Run SCRIPT once per configuration, each under skiprof trace in its own process, e.g. "
         "skiprof sweep workloads/serving.py --param batch_size=1,2,4,8 -o sweep1 -- --gen-len 8. "
         "Failed runs are recorded and skipped; --resume continues an interrupted sweep. Ends with the transition report.",
)
def sweep_cmd(
    script: Annotated[str, typer.Argument(help="Workload script; each NAME in --param becomes its --NAME option.", show_default=False)],
    fixed: Annotated[Optional[list[str]], typer.Argument(help="Arguments passed to every run (after --).", show_default=False)] = None,
    param: Annotated[list[str], typer.Option("--param", help="NAME=V1,V2,... (repeatable; the grid is their product).")] = [],  # noqa: B006 - typer needs a list default
    repeat: Annotated[int, typer.Option("--repeat", help="Runs per configuration.", min=1)] = 1,
    warmup: Annotated[int, typer.Option("--warmup", help="Unmeasured runs per configuration before the measured ones.", min=0)] = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Sweep folder (default: sweep-<script>).", show_default=False)] = None,
    force: Force = False,
    resume: Annotated[bool, typer.Option("--resume", help="Skip runs the folder already holds.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds before a run is stopped and recorded as failed.", show_default=False)] = None,
) -> None:
    from .commands.sweep import parse_param, run_sweep
    from .commands.transition import run_transition
    from .render.transition import render_transition

    params = [parse_param(p) for p in param]
    out = output or Path(f"sweep-{Path(script).stem}")
    bar = _sweep_bar() if sys.stderr.isatty() else None
    try:
        record = run_sweep(script, params, list(fixed or []), out, repeat=repeat, warmup=warmup, force=force,
                           resume=resume, timeout=timeout, progress=bar)
    finally:
        if bar is not None:
            bar.close()  # type: ignore[attr-defined]
    ok = sum(r["status"] == "ok" for r in record["runs"])
    _console(stderr=True).print(f"skiprof: sweep wrote {out} ({ok} of {len(record['runs'])} runs succeeded)")
    if ok:
        render_transition(run_transition(out), _console())


@app.command("transition", help="Per-configuration TKLQT, IL, AKD and idle/queue/launch shares of a sweep folder, the CPU->GPU-bound transition by two criteria, and transition.csv / transition.png.")
def transition_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder written by skiprof sweep.", show_default=False)],
    by: Annotated[Optional[str], typer.Option("--by", help="Swept parameter for the x axis (default: the first).", show_default=False)] = None,
) -> None:
    from .commands.transition import run_transition
    from .render.transition import render_transition

    render_transition(run_transition(folder, by=by), _console())


@app.command("fusion", help="Kernel-fusion candidates: chains of kernels that keep following each other on a stream, scored by SKIP's proximity score and ranked by the launch time fusing them would save.")
def fusion_cmd(
    folder: Annotated[Path, typer.Argument(help="Trace folder.", show_default=False)],
    max_len: Annotated[int, typer.Option("--max-len", help="Longest chain considered.", min=2, max=16)] = 4,
    threshold: Annotated[float, typer.Option("--threshold", help="Minimum proximity score.", min=0.0, max=1.0)] = 0.8,
    min_count: Annotated[int, typer.Option("--min-count", help="Minimum occurrences of a chain.", min=1)] = 2,
    top: Annotated[int, typer.Option("--top", help="Chains shown.", min=1)] = 10,
    rank: Annotated[Optional[int], typer.Option("--rank", help="Rank (default: the lowest).", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="terminal or json.")] = "terminal",
) -> None:
    import json

    from ._folder import load
    from .analyzers import fusion, select
    from .analyzers._frame import rows
    from .render.fusion import render_fusion

    v = select(load(folder), rank=rank)
    cols = fusion.chain_columns(v, max_len=max_len, threshold=threshold, min_count=min_count, top=top)
    if fmt == "json":
        sys.stdout.write(json.dumps(rows(cols), indent=2) + "\n")
    elif fmt == "terminal":
        render_fusion(rows(cols), v.label, _console())
    else:
        raise typer.BadParameter(f"unknown format {fmt!r} (terminal, json)", param_hint="--format")


@app.command("whatif", help="Predict latency, GPU idle and boundness with faster or slower launches, host or device, fused kernel chains or a region run as one CUDA graph, by replaying the trace's own timeline.")
def whatif_cmd(
    folder: Annotated[Path, typer.Argument(help="Trace folder.", show_default=False)],
    launch_scale: Annotated[float, typer.Option("--launch-scale", help="Multiply launch cost (call and wait to kernel start).", min=0.0)] = 1.0,
    host_scale: Annotated[float, typer.Option("--host-scale", help="Multiply host work between calls (a slower or faster CPU).", min=0.0)] = 1.0,
    device_scale: Annotated[float, typer.Option("--device-scale", help="Multiply device activity durations.", min=0.0)] = 1.0,
    fuse: Annotated[Optional[str], typer.Option("--fuse", help="topN: fuse the N best chains of skiprof fusion.", show_default=False)] = None,
    cuda_graph: Annotated[Optional[str], typer.Option("--cuda-graph", help="Run each occurrence of this region as one graph launch.", show_default=False)] = None,
    rank: Annotated[Optional[int], typer.Option("--rank", help="Rank (default: the lowest).", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="terminal or json.")] = "terminal",
) -> None:
    import dataclasses
    import json
    import re

    from ._folder import load
    from .analyzers import fusion, select, whatif

    v = select(load(folder), rank=rank)
    chains: tuple[tuple[str, ...], ...] = ()
    if fuse:
        m = re.fullmatch(r"top(\d+)", fuse)
        if not m:
            raise typer.BadParameter("expected topN, e.g. top5", param_hint="--fuse")
        cols = fusion.chain_columns(v, top=int(m.group(1)))
        chains = tuple(tuple(c.split(" > ")) for c in cols["chain"])
    knobs = whatif.Knobs(launch_scale, host_scale, device_scale, chains, cuda_graph)
    if cuda_graph and not v.regions["name"].eq(cuda_graph).any():
        raise typer.BadParameter(f"no region named {cuda_graph!r} in {folder}", param_hint="--cuda-graph")
    p = whatif.replay(v, knobs)
    if fmt == "json":
        sys.stdout.write(json.dumps({**dataclasses.asdict(p), "il_change": p.il_change,
                                     "knobs": {**dataclasses.asdict(knobs), "fuse": [list(c) for c in chains]}}, indent=2) + "\n")
        return
    from .render.whatif import render_whatif

    render_whatif(p, knobs, v.label, _console())


@app.command("export", help="Write a trace folder as a Chrome/Perfetto trace (opens in ui.perfetto.dev and chrome://tracing) with launch->kernel flows, per-kernel launch/queue/op args, and skiprof's boundness and phase shares as annotation tracks.")
def export_cmd(
    folder: Annotated[Path, typer.Argument(help="Trace folder.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="out.json or out.json.gz", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="chrome (the only format).")] = "chrome",
    force: Force = False,
    rank: Annotated[Optional[int], typer.Option("--rank", help="Rank (default: the lowest).", show_default=False)] = None,
) -> None:
    from .commands.export import export_chrome

    if fmt != "chrome":
        raise typer.BadParameter(f"unknown format {fmt!r} (chrome)", param_hint="--format")
    n = export_chrome(folder, output, force=force, rank=rank)
    _console(stderr=True).print(f"skiprof: wrote {output} ({n:,} events)", highlight=False)


def _sweep_bar():  # noqa: ANN202
    """A rich progress bar with time remaining, fed with (runs done, runs in all, current configuration)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=_console(stderr=True), transient=True)
    task: list[int] = []

    def update(done: int, total: int, label: str) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task("sweep", total=total))
        bar.update(task[0], completed=done, description=f"sweep: {label}")

    update.close = bar.stop  # type: ignore[attr-defined]
    return update


def _progress_bar():  # noqa: ANN202
    """A rich progress bar on stderr, fed with (file, bytes decoded, total bytes)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=_console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def update(label: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if label not in tasks:
            tasks[label] = bar.add_task(f"reading {label}", total=total or None)
        bar.update(tasks[label], completed=min(done, total) if total else done)

    update.close = bar.stop  # type: ignore[attr-defined]
    return update


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="skiprof", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except SkiprofError as exc:
        print(f"skiprof: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("skiprof: interrupted", file=sys.stderr)
        return 130
    return 0


def main_entry() -> None:
    """Console-script entry point.

    Commands that ran no user code exit without tearing the interpreter down: freeing a large
    trace's objects one by one takes longer than the OS reclaiming the whole process. After
    ``skiprof trace`` the interpreter shuts down normally, as it would under plain python, so that
    files the script left open are flushed and closed.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    from .capture._runner import ran_user_code
    from .ingest._helper import shutdown

    shutdown()
    if ran_user_code():
        sys.exit(code)
    os._exit(code)
