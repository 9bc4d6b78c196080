"""GPU check of capture training: the same synthetic 100-frame 640×360 walk as capture_eval.py,
trained at full resolution with gsplat on CUDA; prints seconds per stage and held-out PSNR/SSIM.

Needs a CUDA GPU, torch with CUDA, and gsplat (pip install gsplat==1.5.3 ninja; gsplat compiles
its CUDA kernels on first use, a few minutes). The walk can be rendered here first and carried
over, so the GPU machine needs no OpenGL:
    python benchmarks/capture_gsplat.py --render-only --out walk/        # on any machine
    python benchmarks/capture_gsplat.py --walk walk/ [--iterations 7000]  # on the GPU machine"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--walk", default=None, help="folder with walk.mp4 and walk.camera.json from --render-only")
    ap.add_argument("--render-only", action="store_true", help="render the synthetic walk into --out and stop")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--iterations", type=int, default=7000)
    ap.add_argument("--budget-s", type=float, default=600.0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out or tempfile.mkdtemp(prefix="capture-gsplat-"))
    out.mkdir(parents=True, exist_ok=True)
    from citywalk.capture.evaluate import eval_options, evaluate_synthetic

    if a.render_only:
        from citywalk.pipeline import render_synthetic_walk

        video, track = render_synthetic_walk(out, a.frames, (w, h))
        print(json.dumps({"video": str(video), "camera_track": str(track)}))
        return
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("capture_gsplat: no CUDA GPU here; run capture_eval.py for the CPU figures")
    import gsplat

    opts = eval_options(a.iterations, a.budget_s, None)
    opts.train.backend = "gsplat"
    opts.train.max_gaussians = 1_000_000
    if not a.walk:
        raise SystemExit("capture_gsplat: give --walk DIR (made with --render-only, where OpenGL runs)")
    t = time.perf_counter()
    figures = evaluate_synthetic(out, Path(a.walk) / "walk.mp4", Path(a.walk) / "walk.camera.json", opts=opts,
                                 holdout_every=8)
    figures.update(total_s=time.perf_counter() - t, gpu=torch.cuda.get_device_name(0),
                   gsplat=gsplat.__version__, torch=torch.__version__, out_dir=str(out))
    print(json.dumps(figures, indent=1, default=str))
    (out / "figures.json").write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
