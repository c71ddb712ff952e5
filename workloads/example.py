"""A small example workload: batched inference of a convolutional classifier, with marked phases.

    python workloads/example.py [--device auto|cpu|cuda] [--batch-size 16] [--steps 8]
    skiprof trace -m skiprof.workloads.example

Each step makes a batch of random 8-bit images (preprocess: scale and normalize), copies it to
the device (h2d), runs the model (compute) and takes the top class (postprocess). Random weights,
no downloads; a few seconds on a laptop CPU.
"""
from __future__ import annotations

import argparse

import torch
from torch import nn

import skiprof


def build_model(num_classes: int = 10) -> nn.Module:
    """A compact ResNet-style network: stem, two residual stages, pooled classifier."""

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                      nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.body(x))

    return nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(), Block(32),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), Block(64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args(argv)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    torch.manual_seed(0)
    model = build_model().to(device).eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        for _ in range(args.steps):
            with skiprof.region("preprocess"):
                raw = torch.randint(0, 256, (args.batch_size, 3, args.image_size, args.image_size), dtype=torch.uint8)
                batch = (raw.float() / 255.0 - mean) / std
                if device.type == "cuda":
                    batch = batch.pin_memory()
            with skiprof.region("h2d"):
                batch = batch.to(device, non_blocking=True)
            with skiprof.region("compute"):
                logits = model(batch)
            with skiprof.region("postprocess"):
                top = logits.argmax(dim=1).cpu()
            skiprof.step()
    print(f"example: {args.steps} steps of {args.batch_size} images on {device}; last top class {int(top[0])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
