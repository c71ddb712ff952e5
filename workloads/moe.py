"""Mixture-of-Experts layer stack with top-k routing, with experts resident, offloaded or prefetched.

    python workloads/moe.py [--mode resident|offload|prefetch] [--tokens 64] [--experts 8] [--top-k 2]
                            [--layers 4] [--steps 3] [--preset cpu-tiny] [--json]

resident: every expert lives on the device. offload: experts live in (pinned, on a GPU) host memory
and the ones a layer's router picks are copied to the device on demand before the layer runs
(the baseline of Pre-gated MoE). prefetch: a pre-gate on each layer's input predicts the next
layer's experts, which are copied on a side stream while the current layer computes (pre-gating).
Regions: route, h2d, compute, wait (time blocked on expert copies). Metrics (scenario "moe"):
tokens, tokens routed to each expert, load imbalance (max/mean tokens per expert), expert bytes and
time host->device, stall time, and the mean number of experts used per layer. The report's scenario
section adds launches per token (launch calls in the trace / tokens).
"""
from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

import skiprof

try:
    from ._common import finish, parser, resolve, sync
except ImportError:
    from _common import finish, parser, resolve, sync  # type: ignore[no-redef]

PRESETS = {
    "cpu-tiny": dict(dim=64, ffn=128, experts=8, top_k=2, layers=4, tokens=64, steps=3),
    "gpu-small": dict(dim=1024, ffn=2816, experts=8, top_k=2, layers=8, tokens=512, steps=5),
    # Mixtral-8x7B shaped layers (4096 wide, 14336 FFN, 8 experts, top-2), fewer of them.
    "gpu-paper": dict(dim=4096, ffn=14336, experts=8, top_k=2, layers=4, tokens=1024, steps=5),
}


class Expert(nn.Module):
    """A SwiGLU MLP, as in Mixtral's experts."""

    def __init__(self, dim: int, ffn: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, ffn, bias=False)
        self.w3 = nn.Linear(dim, ffn, bias=False)
        self.w2 = nn.Linear(ffn, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def _copy_expert(src: Expert, dst: Expert, non_blocking: bool) -> int:
    """Copy an expert's weights into a device-side expert; returns bytes moved."""
    moved = 0
    for s, d in zip(src.parameters(), dst.parameters()):
        d.data.copy_(s.data, non_blocking=non_blocking)
        moved += s.numel() * s.element_size()
    return moved


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name in ("dim", "ffn", "experts", "top_k", "layers", "tokens", "steps"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    ap.add_argument("--mode", choices=["resident", "offload", "prefetch"], default="offload")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    resident = args.mode == "resident"
    host_dev = device if resident else torch.device("cpu")
    routers = [nn.Linear(args.dim, args.experts, bias=False).to(device, dtype) for _ in range(args.layers)]
    pregates = [nn.Linear(args.dim, args.experts, bias=False).to(device, dtype) for _ in range(args.layers)]
    experts = [[Expert(args.dim, args.ffn).to(host_dev, dtype) for _ in range(args.experts)] for _ in range(args.layers)]
    if cuda and not resident:
        for layer in experts:
            for e in layer:
                for p in e.parameters():
                    p.data = p.data.pin_memory()
    # Device-side buffers that offloaded experts are copied into: top_k per layer, two sets (current, next).
    buffers = [[Expert(args.dim, args.ffn).to(device, dtype) for _ in range(args.experts)] for _ in range(2)]
    side = torch.cuda.Stream() if cuda else None
    counts = torch.zeros(args.layers, args.experts)
    moved = 0
    h2d_s = stall_s = 0.0
    used = 0

    def fetch(layer: int, ids: list[int], bank: int) -> dict[int, Expert]:
        nonlocal moved
        out = {}
        for e in ids:
            moved += _copy_expert(experts[layer][e], buffers[bank][e], non_blocking=cuda)
            out[e] = buffers[bank][e]
        return out

    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(args.steps):
            x = torch.randn(args.tokens, args.dim, device=device, dtype=dtype)
            prefetched: dict[int, Expert] | None = None
            for layer in range(args.layers):
                with skiprof.region("route"):
                    weights, ids = torch.topk(F.softmax(routers[layer](x).float(), -1), args.top_k, dim=-1)
                    chosen = sorted(set(ids.flatten().tolist()))
                counts[layer] += torch.bincount(ids.flatten().cpu(), minlength=args.experts).float()
                used += len(chosen)
                if resident:
                    active = {e: experts[layer][e] for e in chosen}
                elif args.mode == "prefetch" and prefetched is not None:
                    t0 = time.perf_counter()
                    with skiprof.region("wait"):
                        if side is not None:
                            torch.cuda.current_stream().wait_stream(side)
                        missing = [e for e in chosen if e not in prefetched]  # the pre-gate guessed wrong
                        if missing:
                            with skiprof.region("h2d"):
                                prefetched.update(fetch(layer, missing, layer % 2))
                        sync(device)
                    stall_s += time.perf_counter() - t0
                    active = prefetched
                else:
                    t0 = time.perf_counter()
                    with skiprof.region("h2d"):
                        active = fetch(layer, chosen, layer % 2)
                        sync(device)
                    dt = time.perf_counter() - t0
                    h2d_s += dt
                    stall_s += dt
                if args.mode == "prefetch" and layer + 1 < args.layers:
                    # Pre-gating: guess the next layer's experts from this layer's input, copy them now.
                    guess = sorted(set(torch.topk(pregates[layer + 1](x).float(), args.top_k, -1).indices.flatten().tolist()))
                    t0 = time.perf_counter()
                    with skiprof.region("h2d"):
                        if side is not None:
                            with torch.cuda.stream(side):
                                prefetched = fetch(layer + 1, guess, (layer + 1) % 2)
                        else:
                            prefetched = fetch(layer + 1, guess, (layer + 1) % 2)
                    h2d_s += time.perf_counter() - t0
                with skiprof.region("compute"):
                    out = torch.zeros_like(x)
                    for e in chosen:
                        rows, slot = (ids == e).nonzero(as_tuple=True)
                        out[rows] += weights[rows, slot, None].to(dtype) * active[e](x[rows])
                    x = x + out
            sync(device)
            skiprof.step()
    wall = time.perf_counter() - start
    per_expert = counts.sum(0)
    metrics = {
        "tokens": float(args.tokens * args.steps),
        "load_imbalance": float(per_expert.max() / per_expert.mean()),
        "experts_per_layer": used / (args.layers * args.steps),
        "expert_bytes_h2d": float(moved),
        "h2d_ms": h2d_s * 1e3,
        "stall_ms": stall_s * 1e3,
        "tokens_per_s": args.tokens * args.steps / wall,
        # Routed token slots per expert, summed over layers and steps (top_k slots per token per layer).
        **{f"tokens_expert_{e}": float(per_expert[e]) for e in range(args.experts)},
    }
    finish("moe", metrics, {"expert_bytes_h2d": "bytes", "tokens_per_s": "tokens/s"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
