"""LLM inference serving: a Llama-shaped decoder answering a Poisson stream of requests.

    python workloads/serving.py [--batch-size 4] [--prompt-len 32] [--gen-len 16] [--rate 200]
                                [--requests 8] [--batching continuous|static] [--preset cpu-tiny] [--json]
    skiprof trace workloads/serving.py --batch-size 8

Each request is prefilled (the whole prompt in one forward pass, filling its KV cache slot) and
then decoded one token per step with the cache. Static batching waits for a full batch and runs it
to the end; continuous batching admits new requests into free slots between decode steps. Regions:
prefill, decode; one skiprof.step() per server iteration. Metrics (table `metrics`, scenario
"serving"): TTFT and TPOT (mean, p50, p90), tokens/s, requests, and host time in prefill and decode.
The model is Llama-3.2-1B-shaped at --preset gpu-paper, smaller at gpu-small, tiny on the CPU.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import torch

import skiprof

try:  # as a script (python workloads/serving.py) and as skiprof.workloads.serving
    from ._common import finish, parser, percentile, resolve, sync
    from ._llama import KVCache, Llama, LlamaConfig
except ImportError:
    from _common import finish, parser, percentile, resolve, sync  # type: ignore[no-redef]
    from _llama import KVCache, Llama, LlamaConfig  # type: ignore[no-redef]

PRESETS = {
    "cpu-tiny": dict(vocab=512, dim=64, layers=2, heads=4, kv_heads=2, ffn=128, batch_size=4, prompt_len=32,
                     gen_len=16, rate=400.0, requests=8),
    "gpu-small": dict(vocab=32000, dim=1024, layers=8, heads=16, kv_heads=8, ffn=2816, batch_size=8, prompt_len=256,
                      gen_len=64, rate=50.0, requests=32),
    # Llama-3.2-1B: 16 layers, 2048 wide, 32 query / 8 key-value heads, 8192 FFN, 128k vocabulary.
    "gpu-paper": dict(vocab=128256, dim=2048, layers=16, heads=32, kv_heads=8, ffn=8192, batch_size=16,
                      prompt_len=512, gen_len=128, rate=20.0, requests=64),
}


@dataclass
class Request:
    rid: int
    arrival: float
    prompt: torch.Tensor
    slot: int = -1
    first_token_at: float = 0.0
    done_at: float = 0.0
    generated: int = 0
    last: torch.Tensor = field(default_factory=lambda: torch.empty(0))


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name, kind in (("batch_size", int), ("prompt_len", int), ("gen_len", int), ("rate", float), ("requests", int),
                       ("layers", int), ("dim", int), ("heads", int), ("kv_heads", int), ("ffn", int), ("vocab", int)):
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    ap.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cfg = LlamaConfig(args.vocab, args.dim, args.layers, args.heads, args.kv_heads, args.ffn)
    model = Llama(cfg).to(device=device, dtype=dtype).eval()
    cache = KVCache(cfg, args.batch_size, args.prompt_len + args.gen_len, device, dtype)

    gaps = torch.distributions.Exponential(torch.tensor(args.rate)).sample((args.requests,))
    start = time.perf_counter()
    arrivals = (start + torch.cumsum(gaps, 0)).tolist()
    pending = deque(Request(i, a, torch.randint(0, cfg.vocab, (args.prompt_len,))) for i, a in enumerate(arrivals))
    active: list[Request] = []
    free = list(range(args.batch_size))
    finished: list[Request] = []
    prefill_s = decode_s = 0.0

    def forward(phase: str, reqs: list[Request], tokens: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """One model step (prefill or decode) for ``reqs``: next tokens, finish time, seconds spent."""
        t0 = time.perf_counter()
        with skiprof.region(phase):
            slots = torch.tensor([r.slot for r in reqs], device=device)
            out = model(tokens.to(device), cache, slots).argmax(-1)
            sync(device)
        t1 = time.perf_counter()
        return out, t1, t1 - t0

    with torch.inference_mode():
        while pending or active:
            now = time.perf_counter()
            admit: list[Request] = []
            if args.batching == "continuous" or not active:
                want = len(free) if args.batching == "continuous" else min(args.batch_size, len(pending))
                if args.batching == "static" and want and pending[want - 1].arrival > now:
                    time.sleep(pending[want - 1].arrival - now)  # a static batch waits until it is full
                    now = time.perf_counter()
                while free and pending and pending[0].arrival <= now and len(admit) < want:
                    r = pending.popleft()
                    r.slot = free.pop()
                    cache.lengths[r.slot] = 0
                    admit.append(r)
            if not admit and not active:
                time.sleep(max(0.0, pending[0].arrival - now))
                continue
            if admit:
                first, t1, spent = forward("prefill", admit, torch.stack([r.prompt for r in admit]))
                prefill_s += spent
                for r, tok in zip(admit, first):
                    r.first_token_at, r.generated, r.last = t1, 1, tok.view(1)
                active += admit
            running = [r for r in active if r.generated < args.gen_len]
            if running:
                nxt, _, spent = forward("decode", running, torch.stack([r.last for r in running]))
                decode_s += spent
                for r, tok in zip(running, nxt):
                    r.generated, r.last = r.generated + 1, tok.view(1)
            for r in [r for r in active if r.generated >= args.gen_len]:
                r.done_at = time.perf_counter()
                active.remove(r)
                free.append(r.slot)
                finished.append(r)
            skiprof.step()

    wall = time.perf_counter() - start
    ttft = [(r.first_token_at - r.arrival) * 1e3 for r in finished]
    tpot = [(r.done_at - r.first_token_at) * 1e3 / (args.gen_len - 1) for r in finished] if args.gen_len > 1 else []
    metrics = {
        "ttft_ms_mean": sum(ttft) / len(ttft), "ttft_ms_p50": percentile(ttft, 50), "ttft_ms_p90": percentile(ttft, 90),
        "tpot_ms_mean": sum(tpot) / len(tpot) if tpot else 0.0, "tpot_ms_p50": percentile(tpot, 50),
        "tpot_ms_p90": percentile(tpot, 90), "tokens_per_s": len(finished) * args.gen_len / wall,
        "requests": float(len(finished)), "batch_size": float(args.batch_size),
        "prompt_len": float(args.prompt_len), "gen_len": float(args.gen_len),
        "prefill_ms": prefill_s * 1e3, "decode_ms": decode_s * 1e3,
    }
    finish("serving", metrics, {"tokens_per_s": "tokens/s", "prompt_len": "tokens", "gen_len": "tokens"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
