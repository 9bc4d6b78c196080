"""Evaluation on a synthetic capture with known cameras: run the capture chain on a rendered walk
(video + true camera track) and report pose error (after a similarity alignment) and PSNR/SSIM on
held-out views, with seconds per stage. Rendering the walk is the pipeline's job (it is to the
right of this stage), so the caller passes the files in."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.poses import pose_errors
from citywalk.capture.process import ProcessOptions, package_run, run_capture


def eval_options(iterations: int = 2500, budget_s: float = 1200.0, train_side: int | None = None,
                 keep_fps: float = 8.0, camera_model: str = "SIMPLE_RADIAL") -> ProcessOptions:
    """The processing settings `citywalk capture process/eval` and the benchmark use: a training
    budget in iterations and seconds, optional downscaling for training, frames kept per second of
    video, the COLMAP camera (lens) model."""
    from .frames import FrameOptions
    from .poses import SfmOptions
    from .train import TrainOptions

    return ProcessOptions(frames=FrameOptions(target_fps=keep_fps), sfm=SfmOptions(camera_model=camera_model).check(),
                          train=TrainOptions(iterations=iterations, time_budget_s=budget_s,
                                             sh_every=max(1, iterations // 4), densify_from=min(200, iterations // 5),
                                             densify_every=100, max_side_px=train_side, checkpoint_every=250))


def evaluate_synthetic(out_dir: str | Path, video: str | Path, track_path: str | Path,
                       opts: ProcessOptions | None = None, holdout_every: int = 8,
                       use_known_focal: bool = True, package: bool = True) -> dict:
    """Run the capture chain on a synthetic walk (`citywalk.pipeline.render_synthetic_walk` makes
    one: a video and its true camera track), compare with the known cameras → figures: seconds per
    stage, registered share, pose errors, held-out PSNR/SSIM (init and trained)."""
    from citywalk.tracks import read_camera_track

    out = Path(out_dir)
    opts = replace(opts or ProcessOptions(), holdout_every=holdout_every)
    doc = read_camera_track(track_path)
    track = doc["frames"]
    if use_known_focal:  # as a phone's metadata would give it
        opts = replace(opts, sfm=replace(opts.sfm, focal_px=float(track[0]["K"][0][0])))
    run = run_capture(video, out / "work", opts)
    figures = {"frames": len(track), "size_px": [doc["width"], doc["height"]], **run.timings_s,
               "verdict": run.report["verdict"], "reasons": run.report["reasons"],
               "frames_kept": run.report.get("frames_kept")}
    if run.poses is not None:
        idx = [int(n.split("_")[1].split(".")[0]) for n in run.poses.names]
        true_R = np.array([track[i]["R_w2c"] for i in idx])
        true_t = np.array([track[i]["t_w2c"] for i in idx])
        figures["registered_share"] = run.poses.summary()["registered_share"]
        figures["mean_reproj_error_px"] = run.poses.mean_reproj_error_px
        if len(idx) >= 3:
            figures["pose"] = pose_errors(run.poses, true_R, true_t)
    for key in ("holdout_init", "holdout", "training"):
        if key in run.report:
            figures[key] = run.report[key]
    (out / "figures.json").write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    if package and run.ok:
        t = time.perf_counter()
        figures["scene_ply"] = str(package_run(run, out / "scene", {"name": "synthetic-walk"}))
        figures["package_s"] = time.perf_counter() - t
    elif package:
        raise CaptureError(f"synthetic capture failed: {'; '.join(run.report['reasons'])}")
    return figures
