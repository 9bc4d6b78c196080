"""Capture evaluation: render a synthetic procedural street walk with known cameras, run the capture
chain (frames → QA → pycolmap SfM → torch splat training → package) and print seconds per stage,
registered share, pose error after similarity alignment and held-out PSNR/SSIM (every 8th kept
frame held out). Usage: python benchmarks/capture_eval.py [--frames 100] [--size 640x360]
[--budget-s 1200] [--iterations 2500] [--train-side PX] [--walk DIR] [--out DIR]"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    from citywalk.capture.evaluate import eval_options, evaluate_synthetic
    from citywalk.pipeline import render_synthetic_walk

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--keep-fps", type=float, default=8.0, help="kept frames per second of video")
    ap.add_argument("--iterations", type=int, default=2500)
    ap.add_argument("--budget-s", type=float, default=1200.0, help="training time budget")
    ap.add_argument("--train-side", type=int, default=None, help="train on frames downscaled to this side")
    ap.add_argument("--out", default=None)
    ap.add_argument("--walk", default=None, help="reuse walk.mp4 + walk.camera.json from this folder")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out or tempfile.mkdtemp(prefix="capture-eval-"))
    opts = eval_options(a.iterations, a.budget_s, a.train_side, a.keep_fps)
    t = time.perf_counter()
    if a.walk:
        video, track = Path(a.walk) / "walk.mp4", Path(a.walk) / "walk.camera.json"
    else:
        video, track = render_synthetic_walk(out, frames=a.frames, size_px=(w, h), fps=24)
    render_s = time.perf_counter() - t
    figures = evaluate_synthetic(out, video, track, opts=opts, holdout_every=8)
    figures["render_synthetic_s"] = render_s
    figures["total_s"] = time.perf_counter() - t
    figures["out_dir"] = str(out)
    print(json.dumps(figures, indent=1, default=str))
    (out / "figures.json").write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
