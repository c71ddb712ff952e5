"""Real model definitions for the workloads: Hugging Face transformers and diffusers classes built
from a config, with random weights and no download (or from a local folder with --weights).

Sizes follow the preset: ``tiny`` on the CPU, ``small`` and ``paper`` on a GPU (the shapes of
Qwen2-0.5B, GPT-2, Llama-3.2-1B, Mixtral and Stable Diffusion 1.5's UNet). A family whose package
is missing is refused with one line that says which package to install.
"""
from __future__ import annotations

import importlib.util
import sys
from typing import Any

import torch

__all__ = ["LM_FAMILIES", "size_of", "require", "causal_lm", "mixtral", "sd_pipeline", "cache_keyword", "cache_of"]

LM_FAMILIES = ("llama", "qwen2", "gpt2")

#: The tiny CPU shape shared by the grouped-query families (Llama and Qwen2 configs take the same keys).
_TINY_GQA = dict(vocab_size=1024, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
#: Qwen2-0.5B, used at both GPU sizes: it is small already.
_QWEN2_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=4096)

_LM: dict[str, dict[str, dict[str, int]]] = {
    "llama": {"tiny": _TINY_GQA,
              "small": dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                            num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=2048),
              # Llama-3.2-1B
              "paper": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                            num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096)},
    "qwen2": {"tiny": _TINY_GQA, "small": _QWEN2_05B, "paper": _QWEN2_05B},
    "gpt2": {"tiny": dict(vocab_size=1024, n_embd=128, n_layer=2, n_head=4, n_positions=512, bos_token_id=0, eos_token_id=0),
             "small": dict(vocab_size=50257, n_embd=768, n_layer=12, n_head=12, n_positions=1024),  # GPT-2
             "paper": dict(vocab_size=50257, n_embd=1024, n_layer=24, n_head=16, n_positions=1024)},  # GPT-2 medium
}
_CONFIGS = {"llama": "LlamaConfig", "qwen2": "Qwen2Config", "gpt2": "GPT2Config"}


def cache_keyword(model: Any) -> str:
    """The forward keyword of the KV cache: ``cache`` in newer transformers, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_of(out: Any) -> Any:
    """The KV cache a forward returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def size_of(preset: str) -> str:
    """cpu-tiny -> tiny, gpu-small -> small, gpu-paper -> paper."""
    return preset.split("-", 1)[1] if "-" in preset else preset


def require(package: str) -> Any:
    """Import ``package`` or exit with one line naming the extra that provides it."""
    if importlib.util.find_spec(package) is None:
        sys.exit(f"--model needs the {package} package: pip install 'skiprof[workloads]'")
    return importlib.import_module(package)


def causal_lm(family: str, size: str, weights: str | None, device: torch.device, dtype: torch.dtype) -> tuple[Any, int]:
    """A transformers causal LM and its vocabulary size."""
    tf = require("transformers")
    if weights:
        model = tf.AutoModelForCausalLM.from_pretrained(weights, local_files_only=True, dtype=dtype)
    else:
        cfg = getattr(tf, _CONFIGS[family])(**_LM[family][size])
        model = tf.AutoModelForCausalLM.from_config(cfg)
    model = model.to(device=device, dtype=dtype).eval()
    return model, int(model.config.vocab_size)


_MIXTRAL = {
    "tiny": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2, max_position_embeddings=1024),
    "small": dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                  num_attention_heads=16, num_key_value_heads=8, num_local_experts=8, num_experts_per_tok=2,
                  max_position_embeddings=4096),
    # Mixtral-8x7B's layer shapes, four of them
    "paper": dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=4,
                  num_attention_heads=32, num_key_value_heads=8, num_local_experts=8, num_experts_per_tok=2,
                  max_position_embeddings=4096),
}


def mixtral(size: str, weights: str | None, device: torch.device, dtype: torch.dtype) -> Any:
    """A transformers Mixtral (sparse MoE) model."""
    tf = require("transformers")
    if weights:
        model = tf.AutoModelForCausalLM.from_pretrained(weights, local_files_only=True, dtype=dtype)
    else:
        model = tf.MixtralForCausalLM(tf.MixtralConfig(**_MIXTRAL[size]))
    model = model.to(device=device, dtype=dtype).eval()
    experts = model.model.layers[0].mlp.experts
    if not hasattr(experts, "gate_up_proj"):
        sys.exit("--model mixtral: this transformers lays Mixtral's experts out per module; skiprof expects the "
                 "packed experts of transformers >= 5")
    return model


_UNET = {
    "tiny": dict(sample_size=16, block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=64,
                 attention_head_dim=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), norm_num_groups=8),
    "small": dict(sample_size=64, block_out_channels=(128, 256, 256), layers_per_block=1, cross_attention_dim=512,
                  attention_head_dim=8, down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")),
    # Stable Diffusion 1.5's UNet
    "paper": dict(sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, cross_attention_dim=768,
                  attention_head_dim=8),
}
_TEXT = {"tiny": (64, 2, 4), "small": (512, 6, 8), "paper": (768, 12, 12)}


def sd_pipeline(size: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any, Any, Any]:
    """(text encoder, UNet, VAE, DDIM scheduler) of a Stable-Diffusion-shaped pipeline."""
    tf, df = require("transformers"), require("diffusers")
    dim, layers, heads = _TEXT[size]
    text = tf.CLIPTextModel(tf.CLIPTextConfig(vocab_size=1000, hidden_size=dim, intermediate_size=4 * dim,
                                              num_hidden_layers=layers, num_attention_heads=heads,
                                              max_position_embeddings=77))
    unet = df.UNet2DConditionModel(in_channels=4, out_channels=4, **_UNET[size])
    ch = _UNET[size]["block_out_channels"][:2]
    vae = df.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=ch, layers_per_block=1,
                           down_block_types=("DownEncoderBlock2D",) * len(ch), up_block_types=("UpDecoderBlock2D",) * len(ch),
                           norm_num_groups=min(32, ch[0]))
    sched = df.DDIMScheduler(num_train_timesteps=1000)
    return (text.to(device, dtype).eval(), unet.to(device, dtype).eval(), vae.to(device, dtype).eval(), sched)
