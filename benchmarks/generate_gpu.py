"""GPU smoke check of the generative backends: restyle a short rendered walk and run image-to-video
(SVD, LTX-Video, Wan 2.1, CogVideoX) at a small size with tiny random-weight pipelines
(citywalk.generate.tiny) on CUDA, through the same loading and calling code as real checkpoints.
Prints JSON figures: seconds per frame, peak GPU memory, whether a second run with the same seed
gives the same frames, the spread of the generated frames (0: blank, e.g. NaNs in half precision),
and the flicker of the restyled walk with and without the depth + camera warp.

    .venv/bin/python benchmarks/generate_gpu.py                 # on a CUDA machine
    .venv/bin/python benchmarks/generate_gpu.py --device cpu    # dry run of the script itself
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _render_walk(root: Path, size: tuple[int, int], frames: int):
    """A procedural noon walk with depth, cameras and frame PNGs → (frames, depth, track)."""
    from PIL import Image

    from citywalk.pipeline import render_shot
    from citywalk.shot import Shot
    from citywalk.tracks import read_camera_track
    from citywalk.video import read_depth_png16

    shot = Shot.from_dict({"look": {"when": "noon"},
                           "output": {"duration_s": frames / 24, "fps": 24, "size": list(size), "samples": 1,
                                      "extras": ["depth", "camera_track", "frames"]}})
    res = render_shot(shot, root / "walk.mp4")
    rgb = np.stack([np.asarray(Image.open(p)) for p in sorted(res.extras["frames"].glob("*.png"))])
    depth = np.stack([read_depth_png16(p) for p in sorted(res.extras["depth"].glob("*.png"))])
    return rgb, depth, read_camera_track(res.extras["camera_track"])


def _flicker(video, depth, track) -> float:
    from citywalk.generate.warp import Camera, forward_warp

    cams = [Camera.from_track(f) for f in track["frames"]]
    errs = []
    for i in range(1, len(video)):
        warped, valid = forward_warp(video[i - 1], depth[i - 1], cams[i - 1], cams[i], depth[i])
        errs.append(float(np.abs(warped - video[i].astype(np.float32))[valid].mean()))
    return float(np.mean(errs))


def _timed(fn, device: str):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0
    return out, time.perf_counter() - t, peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="64x48", help="WIDTHxHEIGHT of the walk and the video")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--video", default="svd,ltx,wan,cogvideox", help="image-to-video kinds to run (comma list)")
    args = ap.parse_args(argv)
    import torch

    from citywalk.generate import image_to_video, restyle
    from citywalk.generate.runtime import release_pipelines
    from citywalk.generate.tiny import VIDEO_KINDS, build_tiny

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("generate_gpu: torch sees no CUDA GPU (use --device cpu for a dry run)", file=sys.stderr)
        return 2
    w, h = (int(v) for v in args.size.lower().split("x"))
    kinds = [k for k in args.video.split(",") if k]
    if not set(kinds) <= set(VIDEO_KINDS):
        print(f"generate_gpu: --video takes {', '.join(VIDEO_KINDS)}", file=sys.stderr)
        return 2
    figures = {"device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
               "torch": torch.__version__, "size": [w, h], "frames": args.frames, "steps": args.steps}
    with tempfile.TemporaryDirectory(prefix="citywalk-gen-gpu-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        sd, cn = (str(build_tiny(k, root / k, seed=i)) for i, k in enumerate(("sd", "controlnet_depth")))
        videos = {k: str(build_tiny(k, root / k, seed=2 + i)) for i, k in enumerate(kinds)}
        figures["build_tiny_s"] = time.perf_counter() - t
        rgb, depth, track = _render_walk(root, (w, h), args.frames)
        kw = dict(model=sd, controlnet=cn, steps=args.steps, strength=0.6, seed=3, device=args.device)
        _, load_s, _ = _timed(lambda: restyle(rgb[:1], depth[:1], track["frames"][:1], "photo", **kw), args.device)
        figures["restyle_first_call_s"] = load_s
        a, run_s, peak = _timed(lambda: restyle(rgb, depth, track, "photo of a street", **kw), args.device)
        b = restyle(rgb, depth, track, "photo of a street", **kw)
        loose = restyle(rgb, depth, track, "photo of a street", warp_init=0.0, warp_keep=0.0, **kw)
        figures.update(
            restyle_s_per_frame=run_s / len(rgb),
            restyle_peak_mib=peak,
            restyle_same_seed_identical=bool(np.array_equal(a, b)),
            restyle_flicker_warp=_flicker(a, depth, track),
            restyle_flicker_no_warp=_flicker(loose, depth, track),
        )
        release_pipelines()
        figures["image_to_video"] = {}
        for kind, model in videos.items():
            # at the walk's own area (the tiny Wan's trained grid is the real one's, 832x480)
            i2v = dict(model=model, steps=args.steps, device=args.device, side_px=round((w * h) ** 0.5))
            _timed(lambda: image_to_video(rgb[0], 4, 8, 1, **i2v), args.device)  # load + warm-up
            v1, i2v_s, peak = _timed(lambda: image_to_video(rgb[0], args.frames, 8, 1, **i2v), args.device)
            v2 = image_to_video(rgb[0], args.frames, 8, 1, **i2v)
            figures["image_to_video"][kind] = {
                "s_per_frame": i2v_s / len(v1), "peak_mib": peak, "shape": list(v1.shape),
                "same_seed_identical": bool(np.array_equal(v1, v2)), "frame_std": float(v1[1:].std())}
            release_pipelines()
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
