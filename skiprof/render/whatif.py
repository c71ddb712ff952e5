"""Terminal rendering of a what-if prediction."""
from __future__ import annotations

from typing import Any

__all__ = ["render_whatif"]


def render_whatif(p: Any, knobs: Any, scope: str, console: Any) -> None:
    """Measured next to predicted: latency, GPU idle, boundness."""
    parts = [f"launch x{knobs.launch_scale:g}", f"host x{knobs.host_scale:g}", f"device x{knobs.device_scale:g}"]
    if knobs.fuse:
        parts.append(f"{len(knobs.fuse)} fused chains")
    if knobs.cuda_graph:
        parts.append(f"graph over {knobs.cuda_graph}")
    console.print(f"what-if ({scope}): {', '.join(parts)}", highlight=False)
    console.print(f"  latency (IL): {p.measured_il_ns / 1e6:,.3f} ms measured -> {p.il_ns / 1e6:,.3f} ms predicted "
                  f"({100 * p.il_change:+.1f}%)", highlight=False)
    console.print(f"  GPU idle:     {p.measured_gpu_idle_ns / 1e6:,.3f} ms -> {p.gpu_idle_ns / 1e6:,.3f} ms", highlight=False)
    console.print(f"  boundness:    {p.measured_boundness} -> {p.boundness}; launch calls removed: {p.removed_launches:,}",
                  highlight=False)
