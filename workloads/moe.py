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

--model mixtral runs a transformers Mixtral built from its config (random weights; --weights DIR
loads a local checkpoint) on batches of --tokens token ids, with the same three modes: its packed
experts keep a master copy in host memory, and a hook before each sparse-MoE block copies the
experts its router picks into the device weights (offload), or the next block's pre-gated experts
on a side stream (prefetch).
"""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

import skiprof

try:
    from . import _hf
    from ._common import finish, parser, resolve, sync
except ImportError:
    import _hf  # type: ignore[no-redef]
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


class ExpertHooks:
    """Offloading for a transformers Mixtral: a hook before each sparse-MoE block makes sure the experts
    its router picks are in the device weights, copying their slices from a host master copy."""

    def __init__(self, model: nn.Module, mode: str, device: torch.device) -> None:
        self.blocks = [layer.mlp for layer in model.model.layers]
        self.mode, self.cuda = mode, device.type == "cuda"
        self.host = [{n: getattr(b.experts, n).detach().to("cpu") for n in ("gate_up_proj", "down_proj")} for b in self.blocks]
        if self.cuda:
            self.host = [{n: t.pin_memory() for n, t in h.items()} for h in self.host]
        self.side = torch.cuda.Stream(device) if self.cuda else None
        self.prefetched: dict[int, set[int]] = {}
        self.moved, self.h2d_s, self.stall_s, self.used = 0, 0.0, 0.0, 0
        self.counts = torch.zeros(len(self.blocks), model.config.num_local_experts)
        for i, b in enumerate(self.blocks):
            b.register_forward_pre_hook(lambda mod, inputs, i=i: self.before(i, inputs[0]))

    def _route(self, i: int, h: torch.Tensor) -> list[int]:
        _, _, ids = self.blocks[i].gate(h.reshape(-1, h.shape[-1]))
        return sorted(set(ids.flatten().tolist()))

    def _copy(self, i: int, ids: list[int]) -> None:
        ex = self.blocks[i].experts
        for name, master in self.host[i].items():
            for e in ids:
                getattr(ex, name).data[e].copy_(master[e], non_blocking=self.cuda)
                self.moved += master[e].numel() * master[e].element_size()

    def before(self, i: int, h: torch.Tensor) -> None:
        with skiprof.region("route"):
            chosen = self._route(i, h)
        self.used += len(chosen)
        self.counts[i, chosen] += 1
        if self.mode == "resident":
            return
        t0 = time.perf_counter()
        with skiprof.region("wait"):
            if self.side is not None:
                torch.cuda.current_stream().wait_stream(self.side)
            missing = [e for e in chosen if e not in self.prefetched.pop(i, set())]
            with skiprof.region("h2d"):
                self._copy(i, missing)
            sync(h.device)
        self.stall_s += time.perf_counter() - t0
        self.h2d_s += time.perf_counter() - t0
        if self.mode == "prefetch" and i + 1 < len(self.blocks):
            guess = self._route(i + 1, h)  # pre-gating: the next block's router on this block's input
            t0 = time.perf_counter()
            with skiprof.region("h2d"), torch.cuda.stream(self.side) if self.side is not None else _nullcontext():
                self._copy(i + 1, guess)
            self.prefetched[i + 1] = set(guess)
            self.h2d_s += time.perf_counter() - t0


def _nullcontext() -> Any:
    import contextlib

    return contextlib.nullcontext()


def moe_hf(args: Any, device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    """The transformers Mixtral path; returns the scenario metrics."""
    model = _hf.mixtral(_hf.size_of(args.preset), args.weights, device, dtype)
    hooks = ExpertHooks(model, args.mode, device)
    vocab = model.config.vocab_size
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(args.steps):
            ids = torch.randint(0, vocab, (1, args.tokens), device=device)
            with skiprof.region("compute"):
                model(input_ids=ids)
            sync(device)
            skiprof.step()
    wall = time.perf_counter() - start
    per_expert = hooks.counts.sum(0)
    return {"tokens": float(args.tokens * args.steps), "load_imbalance": float(per_expert.max() / per_expert.mean()),
            "experts_per_layer": hooks.used / (len(hooks.blocks) * args.steps), "expert_bytes_h2d": float(hooks.moved),
            "h2d_ms": hooks.h2d_s * 1e3, "stall_ms": hooks.stall_s * 1e3, "tokens_per_s": args.tokens * args.steps / wall}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name in ("dim", "ffn", "experts", "top_k", "layers", "tokens", "steps"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    ap.add_argument("--mode", choices=["resident", "offload", "prefetch"], default="offload")
    ap.add_argument("--model", choices=["hand", "mixtral"], default="hand",
                    help="the hand-built expert stack, or a transformers Mixtral built from its config")
    ap.add_argument("--weights", default=None, help="a local Mixtral checkpoint folder for --model mixtral")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    if args.model == "mixtral":
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        finish("moe", moe_hf(args, device, dtype), {"expert_bytes_h2d": "bytes", "tokens_per_s": "tokens/s"}, args)
        return 0
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
