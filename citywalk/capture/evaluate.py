"""Evaluation on a synthetic capture with known cameras: render a walk through a procedural street
to a video, run the capture chain on it, and report pose error (after a similarity alignment) and
PSNR/SSIM on held-out views, with seconds per stage."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.poses import pose_errors
from citywalk.capture.process import ProcessOptions, package_run, run_capture


def render_synthetic_walk(out_dir: str | Path, frames: int = 100, size_px: tuple[int, int] = (640, 360),
                          fps: int = 24, speed_mps: float = 1.4, style: str = "tokyo", seed: int = 7,
                          when: str = "noon", camera: dict | None = None) -> tuple[Path, Path]:
    """Render a procedural street walk → (walk.mp4, walk.camera.json with the true cameras);
    `camera` replaces the Shot's camera section (e.g. keyframes that pan while walking)."""
    from citywalk.pipeline import render_shot
    from citywalk.shot import Shot

    shot = Shot.from_dict({"scene": {"source": "procedural", "style": style, "seed": seed},
                           "camera": camera or {"speed_mps": speed_mps},
                           "look": {"when": when},
                           "output": {"duration_s": frames / fps, "fps": fps, "size": list(size_px), "samples": 1,
                                      "crf": 14, "extras": ["camera_track"]}})
    res = render_shot(shot, Path(out_dir) / "walk.mp4")
    return res.video, res.extras["camera_track"]


def eval_options(iterations: int = 1500, budget_s: float = 1200.0, train_side: int | None = None,
                 keep_fps: float = 8.0) -> ProcessOptions:
    """The processing settings `citywalk capture eval` and the benchmark use: a training budget in
    iterations and seconds, optional downscaling for training, frames kept per second of video."""
    from .frames import FrameOptions
    from .train import TrainOptions

    return ProcessOptions(frames=FrameOptions(target_fps=keep_fps),
                          train=TrainOptions(iterations=iterations, time_budget_s=budget_s,
                                             sh_every=max(1, iterations // 4), densify_from=min(200, iterations // 5),
                                             densify_every=100, max_side_px=train_side, checkpoint_every=250))


def evaluate_synthetic(out_dir: str | Path, frames: int = 100, size_px: tuple[int, int] = (640, 360),
                       fps: int = 24, opts: ProcessOptions | None = None, holdout_every: int = 8,
                       use_known_focal: bool = True, package: bool = True) -> dict:
    """Render a synthetic walk, run the capture chain, compare with the known cameras → figures:
    seconds per stage, registered share, pose errors, held-out PSNR/SSIM (init and trained)."""
    from citywalk.video.exports import read_camera_track

    out = Path(out_dir)
    opts = replace(opts or ProcessOptions(), holdout_every=holdout_every)
    t = time.perf_counter()
    video, track_path = render_synthetic_walk(out, frames, size_px, fps)
    render_s = time.perf_counter() - t
    track = read_camera_track(track_path)["frames"]
    if use_known_focal:  # as a phone's metadata would give it
        opts = replace(opts, sfm=replace(opts.sfm, focal_px=float(track[0]["K"][0][0])))
    run = run_capture(video, out / "work", opts)
    figures = {"frames": frames, "size_px": list(size_px), "render_synthetic_s": render_s,
               **run.timings_s, "verdict": run.report["verdict"], "reasons": run.report["reasons"],
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
