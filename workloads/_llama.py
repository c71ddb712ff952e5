"""A compact Llama-style decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU)
with a slot-based KV cache, for the serving workload. Random weights; shapes follow Llama."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LlamaConfig", "Llama", "KVCache", "GraphedDecode"]


@dataclass(frozen=True)
class LlamaConfig:
    vocab: int
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


class KVCache:
    """Keys and values for ``slots`` sequences of up to ``max_len`` tokens, per layer."""

    def __init__(self, cfg: LlamaConfig, slots: int, max_len: int, device: torch.device, dtype: torch.dtype) -> None:
        shape = (cfg.layers, slots, cfg.kv_heads, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.lengths = torch.zeros(slots, dtype=torch.long, device=device)
        self.max_len = max_len


def _rope(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding; x is [B, H, T, D], pos is [B, T]."""
    d = x.shape[-1]
    inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    ang = pos.to(torch.float32)[:, None, :, None] * inv  # [B, 1, T, D/2]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class _Block(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.attn_norm = nn.RMSNorm(cfg.dim)
        self.q = nn.Linear(cfg.dim, cfg.heads * cfg.head_dim, bias=False)
        self.kv = nn.Linear(cfg.dim, 2 * cfg.kv_heads * cfg.head_dim, bias=False)
        self.o = nn.Linear(cfg.heads * cfg.head_dim, cfg.dim, bias=False)
        self.mlp_norm = nn.RMSNorm(cfg.dim)
        self.gate_up = nn.Linear(cfg.dim, 2 * cfg.ffn, bias=False)
        self.down = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache, slots: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        b, t, _ = x.shape
        h = self.attn_norm(x)
        q = self.q(h).view(b, t, c.heads, c.head_dim).transpose(1, 2)
        k, v = self.kv(h).view(b, t, 2, c.kv_heads, c.head_dim).unbind(2)
        k, v = k.transpose(1, 2), v.transpose(1, 2)
        q, k = _rope(q, pos), _rope(k, pos)
        # Write the new keys/values at each sequence's positions (one scatter, no host sync: a decode
        # step can be captured as a CUDA graph), then attend over its whole cache.
        cache.k[layer][slots[:, None], :, pos] = k.transpose(1, 2)
        cache.v[layer][slots[:, None], :, pos] = v.transpose(1, 2)
        keys = cache.k[layer, slots].repeat_interleave(c.heads // c.kv_heads, dim=1)
        vals = cache.v[layer, slots].repeat_interleave(c.heads // c.kv_heads, dim=1)
        kpos = torch.arange(cache.max_len, device=x.device)
        mask = kpos[None, None, None, :] <= pos[:, None, :, None]  # causal and within each sequence
        att = F.scaled_dot_product_attention(q, keys, vals, attn_mask=mask)
        x = x + self.o(att.transpose(1, 2).reshape(b, t, -1))
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class Llama(nn.Module):
    """Embedding, decoder blocks, final norm and LM head."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.RMSNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.vocab, bias=False)

    def forward(self, tokens: torch.Tensor, cache: KVCache, slots: torch.Tensor) -> torch.Tensor:
        """Logits of the last position of each sequence; tokens are [B, T] continuing each slot."""
        t = tokens.shape[1]
        start = cache.lengths[slots]
        pos = start[:, None] + torch.arange(t, device=tokens.device)[None, :]
        x = self.embed(tokens)
        for i, blk in enumerate(self.blocks):
            x = blk(x, i, cache, slots, pos)
        cache.lengths[slots] = start + t
        return self.head(self.norm(x[:, -1]))


class GraphedDecode:
    """One decode step of all ``batch`` slots captured as a CUDA graph and replayed: one launch
    instead of one per kernel (what skiprof whatif --cuda-graph decode predicts)."""

    def __init__(self, model: Llama, cache: KVCache, batch: int, device: torch.device) -> None:
        self.tokens = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self.slots = torch.arange(batch, device=device)
        saved = cache.lengths.clone()
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):  # warm-up outside the graph, as capture requires
            for _ in range(2):
                model(self.tokens, cache, self.slots)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.logits = model(self.tokens, cache, self.slots)
        cache.lengths.copy_(saved)  # the warm-up advanced the sequences; nothing was really decoded

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        self.tokens.copy_(tokens)
        self.graph.replay()
        return self.logits
