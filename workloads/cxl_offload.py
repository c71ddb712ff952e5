"""Long-context fine-tuning step with CPU offload (ZeRO-Offload style), with memory-tier placement.

    python workloads/cxl_offload.py [--seq-len 256] [--layers 2] [--dim 128] [--steps 3]
                                    [--offload-node N] [--pageable] [--preset cpu-tiny] [--json]

Master parameters, gradients and Adam state live in host memory; each step copies parameters
host->device (h2d), runs forward and backward on the device (compute), copies gradients
device->host (d2h) and runs the optimizer on the CPU (optimizer). Host buffers are pinned on a
GPU machine unless --pageable. Linux shows CXL memory as NUMA nodes without CPUs
(/sys/devices/system/node): --offload-node picks one for the offloaded tensors; where there is no
such node, or placement is not possible, the tensors stay in default memory and the metrics say
so (offload_node = -1). Metrics (scenario "cxl_offload"): bytes and time per direction, achieved
GB/s, the CPU optimizer's share of the step, step time, and where each tensor class was placed.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

import skiprof

try:
    from ._common import finish, parser, resolve, sync
except ImportError:
    from _common import finish, parser, resolve, sync  # type: ignore[no-redef]

PRESETS = {
    "cpu-tiny": dict(seq_len=256, layers=2, dim=128, heads=4, batch=1, steps=3),
    "gpu-small": dict(seq_len=4096, layers=8, dim=1024, heads=16, batch=1, steps=5),
    "gpu-paper": dict(seq_len=16384, layers=16, dim=2048, heads=16, batch=1, steps=5),
}
NODES = Path("/sys/devices/system/node")


def cpu_less_nodes(root: Path = NODES) -> list[int]:
    """NUMA nodes with memory but no CPUs: how Linux exposes CXL-attached memory."""
    out = []
    for node in sorted(root.glob("node[0-9]*")):
        cpulist = (node / "cpulist").read_text().strip() if (node / "cpulist").exists() else ""
        if not cpulist:
            out.append(int(node.name[4:]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name in ("seq_len", "layers", "dim", "heads", "batch", "steps"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    ap.add_argument("--offload-node", type=int, default=None, help="NUMA node for offloaded tensors (a CPU-less node is CXL memory)")
    ap.add_argument("--pageable", action="store_true", help="use pageable instead of pinned host buffers")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    cuda = device.type == "cuda"
    cxl = cpu_less_nodes()
    node = -1
    if args.offload_node is not None:
        if args.offload_node in cxl:
            # Binding pages to a node needs libnuma (mbind); torch offers no portable way, so the
            # request is reported rather than half-done.
            print(f"cxl_offload: node {args.offload_node} is CPU-less, but binding memory to it needs libnuma; "
                  "using default placement")
        else:
            print(f"cxl_offload: node {args.offload_node} is not a CPU-less (CXL) node here "
                  f"(CPU-less nodes: {cxl or 'none'}); using default placement")
    pinned = cuda and not args.pageable
    layer = nn.TransformerEncoderLayer(args.dim, args.heads, 4 * args.dim, batch_first=True, dropout=0.0)
    model = nn.TransformerEncoder(layer, args.layers, enable_nested_tensor=False).to(device)
    dev_params = list(model.parameters())
    # Host side: fp32 master copies, gradient buffers and Adam state.
    master = [p.detach().to("cpu", copy=True) for p in dev_params]
    grads = [torch.zeros_like(m) for m in master]
    if pinned:
        master = [m.pin_memory() for m in master]
        grads = [g.pin_memory() for g in grads]
    for m, g in zip(master, grads):
        m.grad = g
    opt = torch.optim.Adam(master, lr=1e-4)
    h2d_b = d2h_b = 0
    h2d_s = d2h_s = opt_s = 0.0
    start = time.perf_counter()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        with skiprof.region("h2d"):
            for p, m in zip(dev_params, master):
                p.data.copy_(m, non_blocking=pinned)
                h2d_b += m.numel() * m.element_size()
            sync(device)
        t1 = time.perf_counter()
        with skiprof.region("compute"):
            x = torch.randn(args.batch, args.seq_len, args.dim, device=device)
            loss = model(x).float().pow(2).mean()
            loss.backward()
            sync(device)
        t2 = time.perf_counter()
        with skiprof.region("d2h"):
            for p, g in zip(dev_params, grads):
                g.copy_(p.grad, non_blocking=pinned)
                d2h_b += g.numel() * g.element_size()
                p.grad = None
            sync(device)
        t3 = time.perf_counter()
        with skiprof.region("optimizer"):
            opt.step()
        t4 = time.perf_counter()
        h2d_s, d2h_s, opt_s = h2d_s + t1 - t0, d2h_s + t3 - t2, opt_s + t4 - t3
        skiprof.step()
    wall = time.perf_counter() - start
    metrics = {
        "bytes_h2d": float(h2d_b), "bytes_d2h": float(d2h_b), "h2d_ms": h2d_s * 1e3, "d2h_ms": d2h_s * 1e3,
        "h2d_gb_per_s": h2d_b / h2d_s / 1e9 if h2d_s else 0.0, "d2h_gb_per_s": d2h_b / d2h_s / 1e9 if d2h_s else 0.0,
        "optimizer_ms": opt_s * 1e3, "optimizer_share": opt_s / wall, "step_ms": wall * 1e3 / args.steps,
        "pinned": float(pinned), "offload_node": float(node), "cpu_less_nodes": float(len(cxl)),
        # Where each tensor class lives: 0 = device memory, 1 = host memory (default node or offload_node).
        "params_on_host": 1.0, "grads_on_host": 1.0, "optimizer_state_on_host": 1.0,
        "seq_len": float(args.seq_len),
    }
    finish("cxl_offload", metrics, {"bytes_h2d": "bytes", "bytes_d2h": "bytes", "h2d_gb_per_s": "GB/s",
                                     "d2h_gb_per_s": "GB/s", "seq_len": "tokens"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
