"""The demo Shot end to end, the old path and the new side by side in one run: the native render
(every pixel drawn at the output size) and the fast ones (drawn at each --render-scale of each
side and widened to the output, grain added at full size). Prints JSON: per path the stage times
(scene build, exposure metering, GL set-up, drawing, read-back, encoding), end-to-end seconds and
the real-time factor; per-pass milliseconds from a short profiled run; and PSNR/SSIM of the fast
frames against the native ones (every --every'th frame, before encoding). --save writes each
compared frame as one PNG row: native, then each fast path.

    .venv/bin/python benchmarks/render_walk.py [--duration 10] [--size 1280x720] [--render-scale 0.67,0.5]
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from citywalk.pipeline import render_shot
from citywalk.shot import Shot

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"


def demo_shot(size: tuple[int, int], duration_s: float, render_scale: float, when: str | None,
              style: str | None) -> Shot:
    """The demo Shot at `size` for `duration_s`, drawn at `render_scale`, without extras."""
    changes: dict = {"output": {"size": list(size), "duration_s": duration_s, "extras": [],
                                "render_scale": render_scale}}
    if when:
        changes["look"] = {"when": when}
    if style:
        changes["scene"] = {"style": style}
    return Shot.load(DEMO).updated(changes)


def run(shot: Shot, every: int) -> tuple[dict, dict[int, np.ndarray]]:
    """Render `shot` to a temporary MP4 → (figures, {frame index: rgb} of every `every`'th frame)."""
    kept: dict[int, np.ndarray] = {}

    def keep(index: int, rgb: np.ndarray) -> None:
        if index % every == 0:
            kept[index] = rgb.copy()

    with tempfile.TemporaryDirectory() as d:
        res = render_shot(shot, Path(d) / "bench.mp4", on_frame=keep)
    t, n = res.timings_s, res.frames
    figures = {
        "render_scale": shot.output.render_scale, "frames": n,
        "stages_s": {"scene_build": round(t["scene_s"], 2), "metering": round(t["meter_s"], 2),
                     "gl_setup": round(t["gl_setup_s"], 2), "draw": round(t["draw_s"], 2),
                     "readback": round(t["readback_s"], 2), "encode_thread": round(t["encode_s"], 2),
                     "encode_flush": round(t["encode_flush_s"], 2)},
        "draw_ms_per_frame": round(1000 * t["draw_s"] / n, 1),
        "total_wall_s": round(t["total_s"], 2), "realtime_factor": round(t["realtime_factor"], 3),
    }
    return figures, kept


def pass_profile(shot: Shot, frames: int = 10) -> dict[str, float]:
    """Median milliseconds per pass over `frames` frames of `shot` (GL finished between passes,
    so the sum is a little above an unprofiled frame)."""
    from citywalk import pipeline
    from citywalk.render.frame import FrameContext, resized_frame
    from citywalk.render.post import DITHER_PERIOD, grain_offset

    p = pipeline.prepare(shot)
    r = pipeline.open_renderer(shot, p)
    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(name: str, fn) -> None:
        r.ctx.finish()
        t0 = time.perf_counter()
        fn()
        r.ctx.finish()
        times[name].append(time.perf_counter() - t0)

    try:
        for cam in p.frames[: frames + 2]:
            fc = FrameContext.build(resized_frame(cam, r.inner_size), r.targets, r.light)
            timed("clear", r.targets.begin)
            for ps in r.scene_passes + r.layer_passes:
                timed(type(ps).__name__, lambda: ps.draw(fc))
            fc = fc.exposed(1.0)
            for ps in r.display_passes:
                timed(type(ps).__name__, lambda: ps.draw(fc))
            if r.upscale is not None:
                timed("UpscalePass", lambda: r.upscale.draw(r.post.result_texture(fc), r.post.film.grain,
                                                            grain_offset(fc.index), fc.index % DITHER_PERIOD))
            timed("readback", lambda: r._read_back(fc, False))
    finally:
        r.close()
    return {k: round(1000 * float(np.median(v[2:])), 1) for k, v in times.items()}  # first two: shader JIT


def quality(native: dict[int, np.ndarray], fast: dict[int, np.ndarray]) -> dict:
    """PSNR (dB) and SSIM of the fast frames against the native ones: mean, worst, per frame."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    keys = sorted(native)
    psnr = [peak_signal_noise_ratio(native[k], fast[k], data_range=255) for k in keys]
    ssim = [structural_similarity(native[k], fast[k], channel_axis=2, data_range=255) for k in keys]
    return {"frames_compared": len(keys), "psnr_db_mean": round(float(np.mean(psnr)), 2),
            "psnr_db_min": round(float(np.min(psnr)), 2), "ssim_mean": round(float(np.mean(ssim)), 4),
            "ssim_min": round(float(np.min(ssim)), 4), "psnr_db_per_frame": [round(float(v), 2) for v in psnr]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--render-scale", default="0.67,0.5", help="the fast paths' scales of each side, comma list")
    ap.add_argument("--every", type=int, default=12, help="compare every n-th frame")
    ap.add_argument("--when", default=None, help="override the demo's time (e.g. noon)")
    ap.add_argument("--style", default=None)
    ap.add_argument("--no-profile", action="store_true", help="skip the per-pass profile")
    ap.add_argument("--save", default=None, help="write native|fast PNG pairs of the compared frames here")
    a = ap.parse_args()
    size = tuple(int(v) for v in a.size.split("x"))
    paths = {"native": 1.0, **{f"fast_{v.strip()}": float(v) for v in a.render_scale.split(",")}}
    report: dict = {"machine": platform.processor() or platform.machine(), "size": a.size,
                    "duration_s": a.duration, "paths": {}}
    frames = {}
    for name, scale in paths.items():
        shot = demo_shot(size, a.duration, scale, a.when, a.style)
        report["paths"][name], frames[name] = run(shot, a.every)
        if not a.no_profile:
            report["paths"][name]["pass_ms"] = pass_profile(shot)
    native_s = report["paths"]["native"]["total_wall_s"]
    for name in list(paths)[1:]:
        report["paths"][name]["vs_native"] = quality(frames["native"], frames[name])
        report["paths"][name]["speedup"] = round(native_s / report["paths"][name]["total_wall_s"], 2)
    if a.save:
        from PIL import Image

        out = Path(a.save)
        out.mkdir(parents=True, exist_ok=True)
        for k in sorted(frames["native"]):
            row = np.concatenate([frames[name][k] for name in paths], 1)
            Image.fromarray(row).save(out / f"frame_{k:04d}.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
