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

--model llama|qwen2|gpt2 serves a Hugging Face transformers model built from its config instead
(random weights; --weights DIR loads a local checkpoint with from_pretrained), with static batches
and transformers' own KV cache. --prefill-only runs only the prompt pass of each batch (the SKIP
paper's prefill sweep). --cuda-graph (hand-built model, static batching, on a GPU) captures a
decode step of the full batch as a CUDA graph and replays it.

--serve --duration 60 keeps serving an open-ended stream whose rate changes (quiet, a burst of
--burst x --rate, quiet again) and records TTFT, TPOT and tokens/s every 0.25 s: run it under
skiprof trace --every 5 --duration 1 to watch boundness move over windows.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import torch

import skiprof

try:  # as a script (python workloads/serving.py) and as skiprof.workloads.serving
    from . import _hf
    from ._common import finish, parser, percentile, resolve, sync
    from ._llama import GraphedDecode, KVCache, Llama, LlamaConfig
except ImportError:
    import _hf  # type: ignore[no-redef]
    from _common import finish, parser, percentile, resolve, sync  # type: ignore[no-redef]
    from _llama import GraphedDecode, KVCache, Llama, LlamaConfig  # type: ignore[no-redef]

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


def _arrivals(args: argparse.Namespace, vocab: int) -> tuple[float, deque[Request]]:
    """The request stream: Poisson arrivals from now, random prompts."""
    gaps = torch.distributions.Exponential(torch.tensor(args.rate)).sample((args.requests,))
    start = time.perf_counter()
    arrivals = (start + torch.cumsum(gaps, 0)).tolist()
    return start, deque(Request(i, a, torch.randint(0, vocab, (args.prompt_len,))) for i, a in enumerate(arrivals))


class _Stream:
    """--serve: an open-ended Poisson request stream whose rate changes over time, plus interval metrics.

    The rate is --rate x 1/4 in the first and last thirds of --serve-seconds and --rate x --burst in the
    middle third: a server idling, then flooded, then idling again. Every 0.25 s the requests that
    finished in the interval are recorded (TTFT, TPOT, tokens/s, admitted load), so every capture
    window holds the figures of its own time.
    """

    INTERVAL = 0.25

    def __init__(self, args: argparse.Namespace, vocab: int, start: float) -> None:
        self.args, self.vocab, self.start = args, vocab, start
        self.end = start + args.serve_seconds
        self.next_arrival = start
        self.rid = 0
        self.mark = start
        self.done: list[Request] = []
        self.shed = 0  # requests turned away because the queue was full

    def rate(self, t: float) -> float:
        third = (t - self.start) / max(1e-9, self.end - self.start) * 3
        return self.args.rate * (self.args.burst if 1 <= third < 2 else 0.25)

    def is_open(self) -> bool:
        return time.perf_counter() < self.end

    def top_up(self, pending: deque[Request]) -> None:
        """Append the requests that have arrived by now; past a queue of 16 batches, new ones are shed."""
        now = time.perf_counter()
        while self.next_arrival <= min(now, self.end):
            if len(pending) >= 16 * self.args.batch_size:
                self.shed += 1
            else:
                pending.append(Request(self.rid, self.next_arrival,
                                       torch.randint(0, self.vocab, (self.args.prompt_len,))))
                self.rid += 1
            self.next_arrival += float(torch.empty(()).exponential_(self.rate(self.next_arrival)))

    def finished(self, reqs: list[Request]) -> None:
        """Collect finished requests; record the interval's figures once it is over."""
        self.done += reqs
        now = time.perf_counter()
        if now - self.mark < self.INTERVAL:
            return
        span, self.mark = now - self.mark, now
        done, self.done = self.done, []
        if not done:
            skiprof.record_metrics("serving", {"tokens_per_s": 0.0, "requests_finished": 0.0,
                                               "offered_rate": self.rate(now)}, {"tokens_per_s": "tokens/s"})
            return
        ttft = [(r.first_token_at - r.arrival) * 1e3 for r in done]
        tpot = [(r.done_at - r.first_token_at) * 1e3 / max(1, self.args.gen_len - 1) for r in done]
        skiprof.record_metrics("serving", {
            "ttft_ms_mean": sum(ttft) / len(ttft), "tpot_ms_mean": sum(tpot) / len(tpot),
            "tokens_per_s": len(done) * self.args.gen_len / span, "requests_finished": float(len(done)),
            "offered_rate": self.rate(now), "shed": float(self.shed)}, {"ttft_ms_mean": "ms", "tpot_ms_mean": "ms", "tokens_per_s": "tokens/s",
                                             "offered_rate": "requests/s"})


def _admit(args: argparse.Namespace, pending: deque[Request], free: list[int], busy: bool) -> list[Request]:
    """The requests that start now: into free slots (continuous), or a full batch once it has arrived (static)."""
    now = time.perf_counter()
    admit: list[Request] = []
    if args.batching == "continuous" or not busy:
        want = len(free) if args.batching == "continuous" else min(args.batch_size, len(pending))
        if args.batching == "static" and want and pending[want - 1].arrival > now:
            time.sleep(pending[want - 1].arrival - now)  # a static batch waits until it is full
            now = time.perf_counter()
        while free and pending and pending[0].arrival <= now and len(admit) < want:
            r = pending.popleft()
            r.slot = free.pop()
            admit.append(r)
    return admit


def serve_hand(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> tuple[list[Request], float, float, float]:
    """The hand-built decoder with a slot KV cache, continuous or static batching."""
    cfg = LlamaConfig(args.vocab, args.dim, args.layers, args.heads, args.kv_heads, args.ffn)
    model = Llama(cfg).to(device=device, dtype=dtype).eval()
    cache = KVCache(cfg, args.batch_size, args.prompt_len + args.gen_len, device, dtype)
    graphed = GraphedDecode(model, cache, args.batch_size, device) if args.cuda_graph else None
    if args.serve:
        start, pending = time.perf_counter(), deque()
        stream: _Stream | None = _Stream(args, cfg.vocab, start)
    else:
        start, pending = _arrivals(args, cfg.vocab)
        stream = None
    active: list[Request] = []
    free = list(range(args.batch_size))[::-1]
    finished: list[Request] = []
    spent = {"prefill": 0.0, "decode": 0.0}

    def forward(phase: str, reqs: list[Request], tokens: torch.Tensor) -> tuple[torch.Tensor, float]:
        t0 = time.perf_counter()
        with skiprof.region(phase):
            if graphed is not None and phase == "decode" and len(reqs) == args.batch_size:
                order = sorted(range(len(reqs)), key=lambda i: reqs[i].slot)  # the graph decodes slots 0..B-1
                out = graphed(tokens[order].to(device)).argmax(-1)[torch.argsort(torch.tensor(order, device=device))]
            else:
                slots = torch.tensor([r.slot for r in reqs], device=device)
                out = model(tokens.to(device), cache, slots).argmax(-1)
            sync(device)
        t1 = time.perf_counter()
        spent[phase] += t1 - t0
        return out, t1

    with torch.inference_mode():
        while (stream.is_open() or active) if stream is not None else (pending or active):
            if stream is not None:
                stream.top_up(pending)
            admit = _admit(args, pending, free, bool(active))
            if not admit and not active:
                wait = pending[0].arrival - time.perf_counter() if pending else _Stream.INTERVAL / 10
                time.sleep(max(0.0, wait))
                continue
            if admit:
                for r in admit:
                    cache.lengths[r.slot] = 0
                first, t1 = forward("prefill", admit, torch.stack([r.prompt for r in admit]))
                for r, tok in zip(admit, first):
                    r.first_token_at, r.generated, r.last = t1, 1, tok.view(1)
                active += admit
            running = [r for r in active if r.generated < args.gen_len]
            if running:
                nxt, _ = forward("decode", running, torch.stack([r.last for r in running]))
                for r, tok in zip(running, nxt):
                    r.generated, r.last = r.generated + 1, tok.view(1)
            done = [r for r in active if r.generated >= args.gen_len]
            for r in done:
                r.done_at = time.perf_counter()
                active.remove(r)
                free.append(r.slot)
                finished.append(r)
            if stream is not None:
                stream.finished(done)
            skiprof.step()
    return finished, start, spent["prefill"], spent["decode"]


def serve_hf(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> tuple[list[Request], float, float, float]:
    """A transformers causal LM, static batches, its own KV cache (DynamicCache)."""
    model, vocab = _hf.causal_lm(args.model, _hf.size_of(args.preset), args.weights, device, dtype)
    cache_kw = _hf.cache_keyword(model)
    start, pending = _arrivals(args, vocab)
    finished: list[Request] = []
    prefill_s = decode_s = 0.0
    free = list(range(args.batch_size))
    with torch.inference_mode():
        while pending:
            batch = _admit(args, pending, free, False)
            if not batch:
                time.sleep(max(0.0, pending[0].arrival - time.perf_counter()))
                continue
            t0 = time.perf_counter()
            with skiprof.region("prefill"):
                out = model(input_ids=torch.stack([r.prompt for r in batch]).to(device), use_cache=True)
                last = out.logits[:, -1].argmax(-1, keepdim=True)
                sync(device)
            t1 = time.perf_counter()
            prefill_s += t1 - t0
            for r in batch:
                r.first_token_at, r.generated = t1, 1
            skiprof.step()
            cache = _hf.cache_of(out)
            while batch[0].generated < args.gen_len:
                t0 = time.perf_counter()
                with skiprof.region("decode"):
                    out = model(input_ids=last, use_cache=True, **{cache_kw: cache})
                    cache, last = _hf.cache_of(out), out.logits[:, -1].argmax(-1, keepdim=True)
                    sync(device)
                decode_s += time.perf_counter() - t0
                for r in batch:
                    r.generated += 1
                skiprof.step()
            for r in batch:
                r.done_at = time.perf_counter()
                free.append(r.slot)
            finished += batch
    return finished, start, prefill_s, decode_s


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name, kind in (("batch_size", int), ("prompt_len", int), ("gen_len", int), ("rate", float), ("requests", int),
                       ("layers", int), ("dim", int), ("heads", int), ("kv_heads", int), ("ffn", int), ("vocab", int)):
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    ap.add_argument("--batching", choices=["continuous", "static"], default="continuous")
    ap.add_argument("--model", choices=["hand", *_hf.LM_FAMILIES], default="hand",
                    help="the hand-built decoder, or a transformers model built from its config")
    ap.add_argument("--weights", default=None, help="a local checkpoint folder for --model (from_pretrained)")
    ap.add_argument("--prefill-only", action="store_true", help="run only the prompt pass of each request")
    ap.add_argument("--batches", type=int, default=None,
                    help="serve this many full batches: --requests = batches x --batch-size (for sweeps over batch size)")
    ap.add_argument("--cuda-graph", action="store_true", help="decode steps as one CUDA graph (hand model, static)")
    ap.add_argument("--serve", action="store_true",
                    help="run as a server: an open-ended request stream for --serve-seconds, quiet, then a burst, then quiet")
    ap.add_argument("--serve-seconds", "--duration", dest="serve_seconds", type=float, default=60.0,
                    help="with --serve: how long the server runs (default 60)")
    ap.add_argument("--burst", type=float, default=4.0, help="with --serve: the rate multiplier of the middle third")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    if args.cuda_graph and (device.type != "cuda" or args.model != "hand" or args.batching != "static"):
        sys.exit("--cuda-graph needs a CUDA device, --model hand and --batching static")
    if args.prefill_only:
        args.gen_len = 1
    if args.batches:
        args.requests = args.batches * args.batch_size
    if args.serve and (args.model != "hand" or args.batching != "continuous" or args.cuda_graph):
        sys.exit("--serve runs the hand-built model with continuous batching")
    if args.model != "hand":
        args.batching = "static"  # transformers' cache is per batch
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    serve = serve_hand if args.model == "hand" else serve_hf
    finished, start, prefill_s, decode_s = serve(args, device, dtype)
    wall = time.perf_counter() - start
    if not finished:
        sys.exit("no request finished")
    ttft = [(r.first_token_at - r.arrival) * 1e3 for r in finished]
    tpot = [(r.done_at - r.first_token_at) * 1e3 / (args.gen_len - 1) for r in finished] if args.gen_len > 1 else []
    metrics = {
        "ttft_ms_mean": sum(ttft) / len(ttft), "ttft_ms_p50": percentile(ttft, 50), "ttft_ms_p90": percentile(ttft, 90),
        "tpot_ms_mean": sum(tpot) / len(tpot) if tpot else 0.0, "tpot_ms_p50": percentile(tpot, 50),
        "tpot_ms_p90": percentile(tpot, 90), "tokens_per_s": len(finished) * args.gen_len / wall,
        "requests": float(len(finished)), "batch_size": float(args.batch_size),
        "prompt_len": float(args.prompt_len), "gen_len": float(args.gen_len),
        "prefill_ms": prefill_s * 1e3, "decode_ms": decode_s * 1e3, "cuda_graph": float(args.cuda_graph),
    }
    finish("serving", metrics, {"tokens_per_s": "tokens/s", "prompt_len": "tokens", "gen_len": "tokens"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
