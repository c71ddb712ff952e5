"""Image serving as in "Beyond Inference": JPEG decode, resize, normalize, batch, H2D, model, postprocess.

    python workloads/vision_pipeline.py [--images 32] [--batch-size 8] [--image-size 64] [--models 1|2]
                                        [--source-size N] [--preset cpu-tiny] [--json]

The workload makes its own JPEGs (random pictures at several sizes, encoded with Pillow; with
--source-size N, every picture is N x N, so decoding and resizing grow with N while the model's
input, --image-size, stays the same, as "Beyond Inference" varies it), then
serves them in batches: decode (Pillow), resize and normalize (torch), batch, copy to the device,
run a ResNet-style classifier, and take the top class. With --models 2 a second model consumes the
first one's features through a queue that stands in for a message broker (pickled in and out).
Regions: preprocess (decode, resize, normalize, batch), h2d, compute, broker, postprocess. Metrics
(scenario "vision"): time and share of end-to-end latency for each stage, and images per second.
"""
from __future__ import annotations

import io
import pickle
import queue
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import skiprof

try:
    from ._common import finish, parser, resolve, sync
    from .example import build_model
except ImportError:
    from _common import finish, parser, resolve, sync  # type: ignore[no-redef]
    from example import build_model  # type: ignore[no-redef]

PRESETS = {
    "cpu-tiny": dict(images=32, batch_size=8, image_size=64),
    "gpu-small": dict(images=256, batch_size=32, image_size=224),
    "gpu-paper": dict(images=1024, batch_size=64, image_size=224),
}
STAGES = ("decode", "resize", "normalize", "batch", "h2d", "model", "broker", "postprocess")


def make_jpegs(n: int, seed: int, source_size: int | None = None) -> list[bytes]:
    """n JPEG files of a few sizes (all ``source_size`` square when given), as bytes (random content;
    nothing is downloaded)."""
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    sizes = [(source_size, source_size)] if source_size else [(320, 240), (640, 480), (500, 375), (256, 256)]
    out = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        pixels = torch.randint(0, 256, (h // 8, w // 8, 3), generator=g, dtype=torch.uint8)
        img = Image.fromarray(pixels.numpy()).resize((w, h))  # smooth blocks compress like photos
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__ or "", PRESETS)
    for name in ("images", "batch_size", "image_size"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    ap.add_argument("--models", type=int, choices=[1, 2], default=1)
    ap.add_argument("--source-size", type=int, default=None,
                    help="Side of the JPEGs to decode, in pixels (default: a mix of 256 to 640).")
    args = ap.parse_args(argv)
    if args.source_size is not None and not 8 <= args.source_size <= 8192:
        ap.error("--source-size must be between 8 and 8192")
    device = resolve(args, PRESETS)
    from PIL import Image

    jpegs = make_jpegs(args.images, args.seed, args.source_size)
    first = build_model(num_classes=64).to(device).eval()
    second = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device).eval()
    broker: queue.Queue[bytes] = queue.Queue()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    spent = dict.fromkeys(STAGES, 0.0)

    def timed(stage: str, region: str):
        class _T:
            def __enter__(self) -> None:
                self.r = skiprof.region(region)
                self.r.__enter__()
                self.t = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                spent[stage] += time.perf_counter() - self.t
                self.r.__exit__(*exc)
        return _T()

    start = time.perf_counter()
    served = 0
    with torch.inference_mode():
        for b in range(0, args.images, args.batch_size):
            chunk = jpegs[b:b + args.batch_size]
            with skiprof.region("preprocess"):
                with timed("decode", "decode"):
                    pics = [torch.from_numpy(np.array(Image.open(io.BytesIO(j)).convert("RGB"))) for j in chunk]
                with timed("resize", "resize"):
                    pics = [F.interpolate(p.permute(2, 0, 1)[None].float(), size=(args.image_size, args.image_size),
                                          mode="bilinear", align_corners=False)[0] for p in pics]
                with timed("normalize", "normalize"):
                    pics = [(p / 255.0 - mean) / std for p in pics]
                with timed("batch", "batch"):
                    batch = torch.stack(pics)
                    if device.type == "cuda":
                        batch = batch.pin_memory()
            with timed("h2d", "h2d"):
                batch = batch.to(device, non_blocking=True)
                sync(device)
            with timed("model", "compute"):
                feats = first(batch)
                sync(device)
            if args.models == 2:
                with timed("broker", "broker"):
                    broker.put(pickle.dumps(feats.cpu()))
                    feats = pickle.loads(broker.get()).to(device)
                with timed("model", "compute"):
                    feats = second(feats)
                    sync(device)
            with timed("postprocess", "postprocess"):
                top = feats.softmax(-1).argmax(-1).tolist()
            served += len(top)
            skiprof.step()
    wall = time.perf_counter() - start
    total = sum(spent.values())
    metrics = {f"{s}_ms": spent[s] * 1e3 for s in STAGES if s != "broker" or args.models == 2}
    metrics.update({f"{s}_share": spent[s] / total for s in STAGES if s != "broker" or args.models == 2})
    metrics["images_per_s"] = served / wall
    finish("vision", metrics, {"images_per_s": "images/s"}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
