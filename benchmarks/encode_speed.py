"""Encode speed of citywalk.video.VideoWriter: frames per second for 120 textured synthetic frames
at 1280x720 and 640x360, presets ultrafast/veryfast/fast, threaded vs not.  Prints JSON.

`--render-ms` adds a simulated render wait per frame (sleep, as when the GPU draws), which is
where the threaded writer pays off: the loop costs about max(render, encode) instead of the sum.

    .venv/bin/python benchmarks/encode_speed.py [--frames 120] [--render-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from citywalk.video.encode import VideoWriter

SIZES_PX = ((1280, 720), (640, 360))
PRESETS = ("ultrafast", "veryfast", "fast")


def textured_base(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 in 0..240: gradients plus per-pixel noise and blocky texture, so x264 has real work."""
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    base = 80 + 100 * x * np.array([1.0, 0.4, 0.2]) + 60 * y * np.array([0.2, 0.5, 1.0])
    blocks = rng.integers(0, 50, size=(height // 8 + 1, width // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)
    noise = rng.normal(0, 12, size=(height, width, 3))
    return np.clip(base + blocks[:height, :width] + noise, 0, 240).astype(np.uint8)


def grain_bank(width: int, height: int, rng: np.random.Generator, count: int = 8) -> np.ndarray:
    """(count, H, W, 3) uint8 in 0..15: per-frame sensor-like grain so frames never repeat exactly."""
    return rng.integers(0, 16, size=(count, height, width, 3), dtype=np.uint8)


def run_one(path: Path, base: np.ndarray, grain: np.ndarray, frames: int, fps: int, preset: str, threaded: bool,
            render_s: float) -> dict:
    """Encode `frames` frames panned across `base`; returns wall fps, encoder seconds and size."""
    height, width = base.shape[:2]
    t0 = time.perf_counter()
    with VideoWriter(path, fps, (width, height), preset=preset, threaded=threaded) as writer:
        for i in range(frames):
            frame = np.roll(base, shift=4 * i, axis=1)  # a camera pan: motion search has work
            frame += grain[i % len(grain)]  # base <= 240 and grain <= 15: no overflow
            if render_s:
                time.sleep(render_s)
            writer.write(frame)
    wall_s = time.perf_counter() - t0
    return {
        "size": f"{width}x{height}",
        "preset": preset,
        "threaded": threaded,
        "fps": round(frames / wall_s, 1),
        "wall_s": round(wall_s, 3),
        "encoder_s": round(float(writer.stats["encode_s"]), 3),
        "bytes": int(writer.stats["bytes"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--render-ms", type=float, default=0.0, help="simulated render time per frame")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES_PX:
            base = textured_base(width, height, rng)
            grain = grain_bank(width, height, rng)
            for preset in PRESETS:
                for threaded in (False, True):
                    path = Path(tmp) / f"bench_{width}_{preset}_{threaded}.mp4"
                    results.append(run_one(path, base, grain, args.frames, args.fps, preset, threaded,
                                           args.render_ms / 1000))
    print(json.dumps({
        "benchmark": "encode_speed",
        "frames": args.frames,
        "render_ms": args.render_ms,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
