"""Text-to-image diffusion: text encoder, denoising loop with a small UNet, scheduler, VAE decode,
with LoRA add-ons loaded from disk and patched into the weights (as in SwiftDiffusion).

    python workloads/diffusion.py [--steps 8] [--batch 1] [--latent 16] [--loras 2] [--controlnet]
                                  [--preset cpu-tiny] [--json]

The workload writes --loras LoRA adapters (low-rank A/B pairs for the UNet's attention
projections) to a temporary folder as safetensors, then serves one request: load the adapters
(load), patch them into the weights (patch: W += scale * B @ A), encode the prompt (text_encode),
run --steps denoising steps (denoise, one skiprof.step() each; with --controlnet a hint branch adds
its features) and decode the latents (vae). Metrics (scenario "diffusion"): add-on load and patch
time against denoising time, per-step latency and images per second.

--model sd builds a Stable-Diffusion-shaped pipeline from configs instead (random weights): a
transformers CLIPTextModel, a diffusers UNet2DConditionModel (SD 1.5's at --preset gpu-paper), a
diffusers AutoencoderKL decoder and the DDIM scheduler; the LoRA adapters patch every attention
projection of the UNet. Metric lora_share: (load + patch) / wall time.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
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
    "cpu-tiny": dict(steps=8, batch=1, latent=16, width=32, text_dim=64, tokens=16, loras=2, rank=4),
    "gpu-small": dict(steps=25, batch=2, latent=64, width=128, text_dim=512, tokens=77, loras=4, rank=16),
    "gpu-paper": dict(steps=50, batch=4, latent=64, width=320, text_dim=768, tokens=77, loras=8, rank=64),
}


class TextEncoder(nn.Module):
    def __init__(self, dim: int, vocab: int = 1000) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, batch_first=True, dropout=0.0)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.enc(self.embed(tokens))


class UNet(nn.Module):
    """Down, cross-attention middle, up: the shape of a latent-diffusion UNet, much smaller."""

    def __init__(self, width: int, text_dim: int) -> None:
        super().__init__()
        self.time = nn.Sequential(nn.Linear(1, width), nn.SiLU(), nn.Linear(width, width))
        self.down = nn.Conv2d(4, width, 3, stride=2, padding=1)
        self.to_q = nn.Linear(width, width, bias=False)
        self.to_k = nn.Linear(text_dim, width, bias=False)
        self.to_v = nn.Linear(text_dim, width, bias=False)
        self.to_out = nn.Linear(width, width)
        self.up = nn.ConvTranspose2d(width, 4, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, hint: torch.Tensor | None) -> torch.Tensor:
        h = F.silu(self.down(x)) + self.time(t.view(-1, 1))[:, :, None, None]
        if hint is not None:
            h = h + hint
        b, c, hh, ww = h.shape
        seq = h.flatten(2).transpose(1, 2)
        att = F.scaled_dot_product_attention(self.to_q(seq)[:, None], self.to_k(text)[:, None], self.to_v(text)[:, None])
        seq = seq + self.to_out(att[:, 0])
        return self.up(seq.transpose(1, 2).reshape(b, c, hh, ww))


class ControlBranch(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, width, 3, stride=2, padding=1))

    def forward(self, hint: torch.Tensor) -> torch.Tensor:
        return self.net(hint)


class VAEDecoder(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(4, width, 3, padding=1)]
        for _ in range(3):  # 8x upsampling, as Stable Diffusion's VAE
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        layers.append(nn.Conv2d(width, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


TARGETS = ("to_q", "to_k", "to_v", "to_out")


def write_loras(unet: UNet, folder: Path, count: int, rank: int) -> list[Path]:
    """Save ``count`` random LoRA adapters for the attention projections as safetensors files."""
    from safetensors.torch import save_file

    paths = []
    for i in range(count):
        tensors = {}
        for name in TARGETS:
            w = getattr(unet, name).weight
            tensors[f"{name}.lora_A"] = torch.randn(rank, w.shape[1]) * 0.01
            tensors[f"{name}.lora_B"] = torch.randn(w.shape[0], rank) * 0.01
        path = folder / f"lora_{i}.safetensors"
        save_file(tensors, str(path))
        paths.append(path)
    return paths


def _load_adapters(paths: list[Path], device: torch.device) -> tuple[float, list[dict[str, torch.Tensor]], float]:
    """Read the LoRA files onto the device in the ``load`` region; returns (start, adapters, end) times."""
    from safetensors.torch import load_file

    t0 = time.perf_counter()
    with skiprof.region("load"):
        adapters = [load_file(str(p), device=str(device)) for p in paths]
        sync(device)
    return t0, adapters, time.perf_counter()


def _sd_targets(unet: nn.Module) -> dict[str, nn.Linear]:
    """The attention projections of a diffusers UNet that LoRA adapters patch."""
    return {n: m for n, m in unet.named_modules()
            if isinstance(m, nn.Linear) and n.endswith((".to_q", ".to_k", ".to_v", ".to_out.0"))}


def diffusion_sd(args: Any, device: torch.device) -> dict[str, float]:
    """The diffusers path: load and patch LoRAs, encode the prompt, DDIM denoising, VAE decode."""
    from safetensors.torch import save_file

    text_enc, unet, vae, sched = _hf.sd_pipeline(_hf.size_of(args.preset), device, torch.float32)
    targets = _sd_targets(unet)
    size = unet.config.sample_size
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        paths = []
        for i in range(args.loras):
            ad = {}
            for n, m in targets.items():
                ad[f"{n}.lora_A"] = torch.randn(args.rank, m.in_features) * 0.01
                ad[f"{n}.lora_B"] = torch.randn(m.out_features, args.rank) * 0.01
            paths.append(Path(tmp) / f"lora_{i}.safetensors")
            save_file(ad, str(paths[-1]))
        t0, adapters, t1 = _load_adapters(paths, device)
        with skiprof.region("patch"):
            for ad in adapters:
                for n, m in targets.items():
                    m.weight += (ad[f"{n}.lora_B"] @ ad[f"{n}.lora_A"]) / len(adapters)
            sync(device)
        t2 = time.perf_counter()
        with skiprof.region("text_encode"):
            text = text_enc(torch.randint(0, 1000, (args.batch, args.tokens), device=device)).last_hidden_state
        z = torch.randn(args.batch, 4, size, size, device=device)
        sched.set_timesteps(args.steps)
        sync(device)
        t3 = time.perf_counter()
        for t in sched.timesteps:
            with skiprof.region("denoise"):
                eps = unet(z, t.to(device), encoder_hidden_states=text).sample
                z = sched.step(eps, t, z).prev_sample
                sync(device)
            skiprof.step()
        t4 = time.perf_counter()
        with skiprof.region("vae"):
            images = vae.decode(z).sample.clamp(-1, 1)
            sync(device)
        t5 = time.perf_counter()
    return {"addon_load_ms": (t1 - t0) * 1e3, "addon_patch_ms": (t2 - t1) * 1e3, "text_encode_ms": (t3 - t2) * 1e3,
            "denoise_ms": (t4 - t3) * 1e3, "vae_ms": (t5 - t4) * 1e3, "per_step_ms": (t4 - t3) / args.steps * 1e3,
            "addon_to_denoise": (t2 - t0) / (t4 - t3) if t4 > t3 else 0.0, "lora_share": (t2 - t0) / (t5 - t0),
            "images_per_s": images.shape[0] / (t5 - t0), "adapters": float(args.loras), "steps": float(args.steps),
            "lora_targets": float(len(targets))}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name in ("steps", "batch", "latent", "width", "text_dim", "tokens", "loras", "rank"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    ap.add_argument("--controlnet", action="store_true", help="add a ControlNet-style hint branch")
    ap.add_argument("--model", choices=["hand", "sd"], default="hand",
                    help="the hand-built pipeline, or a Stable-Diffusion-shaped diffusers pipeline built from configs")
    args = ap.parse_args(argv)
    device = resolve(args, PRESETS)
    if args.model == "sd":
        finish("diffusion", diffusion_sd(args, device), {"images_per_s": "images/s"}, args)
        return 0

    text_enc = TextEncoder(args.text_dim).to(device).eval()
    unet = UNet(args.width, args.text_dim).to(device).eval()
    vae = VAEDecoder(args.width).to(device).eval()
    control = ControlBranch(args.width).to(device).eval() if args.controlnet else None
    alphas = torch.linspace(0.9999, 0.98, args.steps, device=device).cumprod(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_loras(unet, Path(tmp), args.loras, args.rank)
        start = time.perf_counter()
        with torch.inference_mode():
            t0, adapters, t1 = _load_adapters(paths, device)
            with skiprof.region("patch"):
                for ad in adapters:
                    for name in TARGETS:
                        getattr(unet, name).weight += (ad[f"{name}.lora_B"] @ ad[f"{name}.lora_A"]) / len(adapters)
                sync(device)
            t2 = time.perf_counter()
            with skiprof.region("text_encode"):
                text = text_enc(torch.randint(0, 1000, (args.batch, args.tokens), device=device))
            z = torch.randn(args.batch, 4, args.latent, args.latent, device=device)
            hint_img = torch.rand(args.batch, 3, args.latent, args.latent, device=device) if control else None
            sync(device)
            t3 = time.perf_counter()
            step_times = []
            for i in reversed(range(args.steps)):
                s0 = time.perf_counter()
                with skiprof.region("denoise"):
                    hint = control(hint_img) if control is not None else None
                    eps = unet(z, torch.full((args.batch,), float(i), device=device), text, hint)
                    a, a_prev = alphas[i], alphas[i - 1] if i > 0 else torch.tensor(1.0, device=device)
                    x0 = (z - (1 - a).sqrt() * eps) / a.sqrt()  # DDIM, deterministic
                    z = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
                    sync(device)
                step_times.append(time.perf_counter() - s0)
                skiprof.step()
            t4 = time.perf_counter()
            with skiprof.region("vae"):
                images = vae(z).clamp(-1, 1)
                sync(device)
            t5 = time.perf_counter()
    wall = t5 - start
    metrics = {
        "addon_load_ms": (t1 - t0) * 1e3, "addon_patch_ms": (t2 - t1) * 1e3, "text_encode_ms": (t3 - t2) * 1e3,
        "denoise_ms": (t4 - t3) * 1e3, "vae_ms": (t5 - t4) * 1e3,
        "per_step_ms": sum(step_times) / len(step_times) * 1e3,
        "addon_to_denoise": (t2 - t0) / (t4 - t3) if t4 > t3 else 0.0,
        "images_per_s": images.shape[0] / wall, "adapters": float(args.loras), "steps": float(args.steps),
    }
    finish("diffusion", metrics, {"images_per_s": "images/s"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
