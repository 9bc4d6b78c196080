"""Capture evaluation: render a synthetic procedural street walk with known cameras, run the capture
chain (frames → QA → pycolmap SfM → torch splat training → package) and print seconds per stage,
registered share, pose error after similarity alignment and held-out PSNR/SSIM (every 8th kept
frame held out). Usage: python benchmarks/capture_eval.py [--frames 100] [--size 640x360]
[--budget-s 1200] [--iterations 1500] [--train-side 640] [--out DIR]"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    from citywalk.capture.evaluate import eval_options, evaluate_synthetic

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--keep-fps", type=float, default=8.0, help="kept frames per second of video")
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--budget-s", type=float, default=1200.0, help="training time budget")
    ap.add_argument("--train-side", type=int, default=None, help="train on frames downscaled to this side")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out or tempfile.mkdtemp(prefix="capture-eval-"))
    opts = eval_options(a.iterations, a.budget_s, a.train_side, a.keep_fps)
    t = time.perf_counter()
    figures = evaluate_synthetic(out, frames=a.frames, size_px=(w, h), fps=24, opts=opts, holdout_every=8)
    figures["total_s"] = time.perf_counter() - t
    figures["out_dir"] = str(out)
    print(json.dumps(figures, indent=1, default=str))
    (out / "figures.json").write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
