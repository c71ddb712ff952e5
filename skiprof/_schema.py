"""The trace folder's tables, declared once.

Writers, the loader and docs/trace-format.md all read these declarations, so a
column cannot exist in one place and be missing from another.
"""
from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["SCHEMA_VERSION", "READABLE_VERSIONS", "Column", "Table", "TABLES", "table", "added_later", "NULLABLE", "arrow_schema", "VIEW_READS", "VIEW_TABLES", "REPORT_PREFETCH"]

#: Bumped on any change a reader could notice (new/removed/renamed column, unit change).
SCHEMA_VERSION = 3
#: Older versions this skiprof still reads (tables they lack load as empty, columns they lack as nulls).
READABLE_VERSIONS = (1, 2, 3)

# Arrow type names, resolved with pyarrow only when a schema is built (pyarrow is slow to import).
I64, I32, F64, STR, BOOL = "int64", "int32", "float64", "string", "bool_"


class Column(msgspec.Struct, frozen=True):
    """One column: its Arrow type, its unit (``ns``, ``bytes``, ``id`` or ``-``) and meaning."""

    name: str
    type_name: str
    unit: str
    doc: str

    @property
    def type(self) -> Any:
        """The pyarrow DataType."""
        import pyarrow as pa

        return getattr(pa, self.type_name)()


class Table(msgspec.Struct, frozen=True):
    """One Parquet table of the trace folder."""

    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, type_: str, unit: str, doc: str) -> Column:
    return Column(name, type_, unit, doc)


_RANK = _c("rank", I32, "id", "Distributed rank of the process that wrote the trace (0 when unknown).")
_PID = _c("pid", I64, "id", "Process id as written in the trace; non-numeric pids get negative ids (see meta.json `pid_labels`).")
_TID = _c("tid", I64, "id", "Thread id (host) or stream lane (device), as written in the trace.")
_TS = _c("ts", I64, "ns", "Start time, on the trace's clock (meta.json `clock`).")
_DUR = _c("dur", I64, "ns", "Duration; 0 when the trace gave none.")

OPS = Table(
    "ops",
    "Host events: aten ops (`cpu_op`), annotations (`user_annotation`), Python functions.",
    (
        _RANK, _PID, _TID,
        _c("op_id", I64, "id", "Row id of this op within its rank; other tables point here."),
        _c("name", STR, "-", "Operator, annotation or function name."),
        _c("cat", STR, "-", "Kineto category: cpu_op, user_annotation, python_function, ..."),
        _TS, _DUR,
        _c("external_id", I64, "id", "Kineto `External id` (-1 when absent)."),
        _c("parent", I64, "id", "op_id of the enclosing host event on the same thread (-1 at top level)."),
        _c("depth", I32, "-", "Nesting depth on its thread; 0 at top level."),
        _c("cpu_parent", I64, "id", "op_id of the enclosing `cpu_op` only (-1 when none); the chain used for op linking."),
        _c("input_dims", STR, "-", "JSON text of the op's `Input Dims` when shapes were recorded, else null."),
        _c("process_group", STR, "-", "`Process Group Name` of a collective's record_param_comms op, else null. Added in schema version 3."),
    ),
)

LAUNCHES = Table(
    "launches",
    "Runtime and driver API calls (CUDA and HIP): launches, memcpy, memset, synchronization, graph launches, and the rest.",
    (
        _RANK, _PID, _TID,
        _c("launch_id", I64, "id", "Row id of this call within its rank."),
        _c("name", STR, "-", "API name, e.g. cudaLaunchKernel, cuLaunchKernel, hipGraphLaunch."),
        _c("kind", STR, "-", "launch | graph | memcpy | memset | sync | other."),
        _TS, _DUR,
        _c("correlation", I64, "id", "Correlation id shared with the device activities it caused (-1 when absent)."),
        _c("external_id", I64, "id", "Kineto `External id` (-1 when absent)."),
        _c("op_id", I64, "id", "Innermost enclosing cpu_op; where no cpu_op encloses the call, the innermost host event of any kind (-1 when none)."),
        _c("top_op_id", I64, "id", "Outermost ancestor of op_id along the same chain (-1 when none)."),
    ),
)

KERNELS = Table(
    "kernels",
    "Every device activity: kernels, memcpy and memset, each linked to its launch call and CPU ops.",
    (
        _RANK,
        _c("pid", I64, "id", "Device pid as written in the trace (usually the device index)."),
        _c("tid", I64, "id", "Device lane as written in the trace (usually the stream)."),
        _c("kernel_id", I64, "id", "Row id of this activity within its rank."),
        _c("name", STR, "-", "Kernel name, or the memcpy/memset description."),
        _c("kind", STR, "-", "kernel | memcpy | memset."),
        _c("device", I64, "id", "Device index (-1 when absent)."),
        _c("stream", I64, "id", "Stream id (-1 when absent)."),
        _TS, _DUR,
        _c("correlation", I64, "id", "Correlation id (-1 when absent)."),
        _c("bytes", I64, "bytes", "Bytes moved by memcpy/memset (-1 when absent)."),
        _c("copy_kind", STR, "-", "memcpy direction: HtoD, DtoH, DtoD, PtoP, HtoH; null otherwise."),
        _c("host_mem", STR, "-", "Host side of a memcpy: pageable or pinned when the trace says; null otherwise."),
        _c("launch_id", I64, "id", "launches.launch_id of the call that caused it; -1 for an orphan."),
        _c("orphan_reason", STR, "-", "Null when linked; else before_window (its call predates the trace), no_correlation or no_launch_record."),
        _c("launch_name", STR, "-", "Name of that call."),
        _c("launch_ts", I64, "ns", "Start of that call (-1 for an orphan)."),
        _c("launch_dur", I64, "ns", "Duration of that call (-1 for an orphan)."),
        _c("host_pid", I64, "id", "pid of the host thread that made the call (-1 for an orphan)."),
        _c("host_tid", I64, "id", "tid of the host thread that made the call (-1 for an orphan)."),
        _c("op_id", I64, "id", "Innermost cpu_op that launched it (-1 when none)."),
        _c("op_name", STR, "-", "Its name."),
        _c("top_op_id", I64, "id", "Top-level cpu_op that launched it (-1 when none)."),
        _c("top_op_name", STR, "-", "Its name."),
    ),
)

REGIONS = Table(
    "regions",
    "Named ranges: ProfilerStep, skiprof.region, record_function and NVTX annotations, DataLoader, device-side annotations.",
    (
        _RANK, _PID, _TID,
        _c("name", STR, "-", "Region name; for skiprof regions without the `skiprof:` prefix."),
        _c("kind", STR, "-", "step | skiprof | dataloader | annotation | gpu_annotation."),
        _TS, _DUR,
        _c("op_id", I64, "id", "The ops row of the same host event (-1 for device-side annotations)."),
        _c("step", I64, "-", "Step number for kind=step (ProfilerStep#N or skiprof.step), else -1."),
    ),
)

COUNTERS = Table(
    "counters",
    "Sampled counters: NVML samples taken during capture, and Kineto counter events.",
    (
        _RANK,
        _TS,
        _c("device", I64, "id", "Device index (-1 when not device-specific)."),
        _c("name", STR, "-", "Counter name, e.g. gpu_util_pct, mem_used_bytes, sm_clock_mhz, power_w, pcie_tx_bytes_s."),
        _c("value", F64, "-", "Sampled value; the unit is part of the name."),
    ),
)

METRICS = Table(
    "metrics",
    "Scenario metrics a workload recorded with skiprof.record_metrics (TTFT, tokens/s, bytes moved, ...); "
    "empty for imported traces. Added in schema version 2.",
    (
        _RANK,
        _c("scenario", STR, "-", "Workload or scenario name, e.g. serving, moe."),
        _c("name", STR, "-", "Metric name."),
        _c("value", F64, "-", "Metric value."),
        _c("unit", STR, "-", "Unit of value, e.g. ms, tokens/s, bytes (empty when unitless)."),
    ),
)

MEMORY = Table(
    "memory",
    "Allocator events (`[memory]`, recorded with `skiprof trace --profile-memory` or torch.profiler's "
    "profile_memory=True): one row per allocation or free. Added in schema version 3.",
    (
        _RANK, _PID, _TID, _TS,
        _c("device", I64, "id", "Device index; -1 for host memory."),
        _c("device_type", I64, "id", "Kineto's device type (0 CPU, 1 CUDA, ...)."),
        _c("bytes", I64, "bytes", "Bytes allocated (positive) or freed (negative)."),
        _c("total_allocated", I64, "bytes", "Bytes allocated on that device after this event."),
        _c("total_reserved", I64, "bytes", "Bytes the caching allocator holds on that device after this event."),
        _c("op_id", I64, "id", "Innermost cpu_op on the same thread around the event (-1 when none)."),
        _c("op_name", STR, "-", "Its name."),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (OPS, LAUNCHES, KERNELS, REGIONS, COUNTERS, METRICS, MEMORY)}
#: The version that added each table; folders written before it load that table as empty.
ADDED_IN = {"metrics": 2, "memory": 3}


def table(name: str) -> Table:
    """Look a table declaration up by name."""
    return TABLES[name]


#: String columns that may hold nulls (absent shapes, a copy's direction, an unlinked kernel's launch and ops);
#: every other column is never null in a table skiprof wrote.
NULLABLE = frozenset({"input_dims", "process_group", "copy_kind", "host_mem", "orphan_reason", "launch_name", "op_name",
                      "top_op_name"})


def added_later(column: Column) -> bool:
    """Whether a folder of an older schema version may lack ``column`` (its doc says when it was added);
    any other column missing from a table means the table is damaged or not the one its name says."""
    return "Added in schema version" in column.doc


def arrow_schema(name: str) -> Any:
    """The Arrow schema a table is written with."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, c.type) for c in TABLES[name].columns])


def markdown_tables() -> str:
    """The column reference of docs/trace-format.md, generated from the declarations above."""
    out = []
    for t in TABLES.values():
        out.append(f"### `{t.name}.parquet`\n\n{t.doc}\n\n| column | type | unit | meaning |\n|---|---|---|---|")
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.type_name.rstrip('_')} | {c.unit} | {c.doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # python -m skiprof._schema > tables.md: the section docs/trace-format.md embeds
    print(markdown_tables())


#: What the analyses of one rank read of each table (its columns; None: all of them), in the order the
#: report asks: a View (analyzers/_view.py) reads the first four, the phases the counters, the
#: scenario the metrics and the memory analysis its table. The analyzers read through this map, and
#: a report prefetches from it (Trace.prefetch), so the two cannot drift apart.
VIEW_READS: dict[str, tuple[str, ...] | None] = {
    "ops": ("rank", "pid", "tid", "op_id", "name", "cat", "ts", "dur", "cpu_parent"),
    "launches": ("rank", "pid", "tid", "launch_id", "name", "kind", "ts", "dur", "op_id", "top_op_id"),
    "kernels": None,
    "regions": None,
    "counters": ("rank", "ts", "name", "value"),
    "metrics": None,
    "memory": None,
}
#: The tables a View is made of (analyzers/_view.py select).
VIEW_TABLES = ("ops", "launches", "kernels", "regions")
#: The tables every one-rank report reads, which it starts reading before it needs them (the
#: counters hold a capture's CPU samples, read only where there are some).
REPORT_PREFETCH = (*VIEW_TABLES, "metrics", "memory")
