"""What the names in a PyTorch trace mean, written once.

Ingestion, the analyzers and the replay all ask these questions (which calls launch device
work, which calls block the host, which kernels are collectives, which regions are which phase,
which host events are compilation); each rule lives here so that two of them can never disagree.
"""
from __future__ import annotations

import re

import numpy as np

__all__ = [
    "LAUNCH_KINDS", "API_KINDS", "launch_kind", "is_blocking", "stream_key", "copy_kind",
    "COMM_KERNEL", "COMM_HOST_OP", "is_comm_host_op", "COMPILE_OP", "HOST_COPY_OPS", "REGION_PHASES",
    "WAIT_FUNCTION", "DEFAULT_FLOORS",
]

#: Host floors of an uncalibrated host (``skiprof calibrate`` measures them; docs/metrics.md, Host
#: overhead). null_launch_ns: the SKIP paper's null-kernel launch latency on PCIe hosts (2.26-2.37
#: us); python_aten_op_ns and aten_op_ns: one trivial op from Python and from inside ATen on a
#: typical x86 server core under torch 2.x.
DEFAULT_FLOORS: dict[str, float] = {"null_launch_ns": 2300.0, "python_aten_op_ns": 2000.0, "aten_op_ns": 1000.0}

#: Runtime/driver call kinds that put kernels on the device (one call may start many in a graph).
LAUNCH_KINDS = ("launch", "graph")
#: Call kinds whose duration is the cost of issuing device work (launch cost in the what-if replay).
API_KINDS = ("launch", "graph", "memcpy", "memset")


def launch_kind(name: str) -> str:
    """Classify a runtime/driver API call by name (CUDA and HIP): launch | graph | memcpy | memset | sync | other."""
    n = name.lower()
    if "graphlaunch" in n:
        return "graph"
    if ("launch" in n and "kernel" in n) or n in ("culaunchcooperativekernel", "hipmodulelaunchkernel"):
        return "launch"
    if "memcpy" in n:
        return "memcpy"
    if "memset" in n:
        return "memset"
    if "synchronize" in n or n in ("cudastreamwaitevent", "hipstreamwaitevent"):
        return "sync"
    return "other"


# Synchronous copies return only once the device has done them (and everything before them).
_BLOCKING_COPIES = frozenset({"cudamemcpy", "hipmemcpy", "cumemcpy", "cumemcpydtoh_v2", "cumemcpyhtod_v2"})


def is_blocking(name: str) -> bool:
    """True for calls that hold the host thread until the device catches up.

    Every ``*Synchronize`` call (device, stream, event, context) blocks; so do the synchronous
    memcpy calls. ``cudaStreamWaitEvent`` is classified as sync but only makes a *stream* wait,
    never the host, so it is not blocking.
    """
    n = name.lower()
    return "synchroniz" in n or n in _BLOCKING_COPIES


def stream_key(device: np.ndarray, stream: np.ndarray) -> np.ndarray:
    """One int64 per (device, stream): activities with equal keys run first in, first out."""
    return device.astype(np.int64) * (1 << 32) + (stream.astype(np.int64) & 0xFFFFFFFF)


def copy_kind(name: str) -> tuple[str | None, str | None]:
    """(direction, host memory kind) of a memcpy activity, from its name."""
    n = name.replace(" ", "").lower()
    direction = None
    for tag, kind in (("htod", "HtoD"), ("dtoh", "DtoH"), ("dtod", "DtoD"), ("ptop", "PtoP"), ("htoh", "HtoH"),
                      ("hosttodevice", "HtoD"), ("devicetohost", "DtoH"), ("devicetodevice", "DtoD"),
                      ("peertopeer", "PtoP"), ("hosttohost", "HtoH")):
        if tag in n:
            direction = kind
            break
    host = "pageable" if "pageable" in n else ("pinned" if "pinned" in n else None)
    return direction, host


#: Device kernels that are collectives: NCCL (ncclKernel_*, ncclDevKernel_*) and RCCL.
COMM_KERNEL = re.compile(r"nccl|rccl", re.IGNORECASE)
#: Host ops that are collectives or point-to-point calls (c10d, gloo, NCCL's host side).
COMM_HOST_OP = re.compile(r"^(c10d::|record_param_comms$|nccl:|gloo:|ProcessGroup|torch\.distributed)", re.IGNORECASE)


def is_comm_host_op(name: str) -> bool:
    """True for a host op that is a collective or a point-to-point transfer."""
    return bool(COMM_HOST_OP.search(name))


#: Host events that are torch.compile's own work (Dynamo tracing, AOTAutograd, Inductor codegen),
#: not the execution of compiled code ("Torch-Compiled Region", "CompiledFunction" run the model).
COMPILE_OP = re.compile(
    r"\(dynamo_timed\)$|^entire_frame_compile$|^dynamo$|^_compile\.compile_inner$|^compile_fx|"
    r"^inductor_compile|^backend_compile$|^fx_codegen_and_compile|^async_compile|compile_id=\d"
)

#: Host ops that copy tensors (between host and device, or between host buffers).
HOST_COPY_OPS = ("aten::copy_", "aten::to", "aten::_to_copy", "aten::pin_memory", "aten::_pin_memory")

#: skiprof.region names and the phase each stands for.
REGION_PHASES = {
    "preprocess": "preprocessing", "load": "preprocessing",
    "h2d": "data_movement", "d2h": "data_movement",
    "postprocess": "postprocessing",
    "compute": "compute", "prefill": "compute", "decode": "compute", "optimizer": "compute",
    "comm": "communication",
}

#: Python functions (recorded with --with-stack) during which the process waits rather than works.
WAIT_FUNCTION = re.compile(
    r"<built-in (function|method) (sleep|select|poll|epoll|accept|recv|recv_into|acquire|wait|join)\b|"
    r"threading\.py\(\d+\): (wait|join)|queue\.py\(\d+\): get|selectors\.py\(\d+\): select"
)
