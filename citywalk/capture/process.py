"""The whole capture chain: frames → QA → poses → training → scene package, for a catalog entry
(`process_capture`) or a bare source and work folder (`run_capture`, used by the evaluation).
A rejected capture stops with reasons in its QA report, never with a half-written scene."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.catalog import Catalog, CatalogEntry
from citywalk.capture.frames import FrameOptions, FrameSelection, select_frames
from citywalk.capture.poses import Poses, SfmOptions, run_sfm
from citywalk.capture.qa import MIN_FRAMES, MIN_REGISTERED_SHARE, add_poses, frames_report, write_report
from citywalk.capture.train import TrainOptions, TrainResult, TrainView, downscale_view, load_views
from citywalk.errors import CitywalkError

WORK_DIR = "work"
QA_DIR = "qa"


@dataclass
class ProcessOptions:
    """Settings of every stage. holdout_every > 0 keeps every n-th registered frame out of training
    and reports PSNR/SSIM on those views; camera_height_m (or scale) sets metres. `poses` names
    cameras the capture already has (see poses.read_given_poses); SfM is then skipped."""

    frames: FrameOptions = field(default_factory=FrameOptions)
    sfm: SfmOptions = field(default_factory=SfmOptions)
    train: TrainOptions = field(default_factory=TrainOptions)
    holdout_every: int = 0
    min_frames: int = MIN_FRAMES
    min_registered_share: float = MIN_REGISTERED_SHARE
    camera_height_m: float = 1.6
    scale: float | None = None
    poses: str | None = None  # 'colmap:DIR' or 'nerfstudio:transforms.json': train on these, no SfM


@dataclass
class CaptureRun:
    """What `run_capture` produced; `report` is the QA report (verdict, reasons, figures)."""

    report: dict
    selection: FrameSelection | None = None
    poses: Poses | None = None
    train: TrainResult | None = None
    holdout: list[TrainView] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report.get("verdict") == "ok" and self.train is not None


def run_capture(source: str | Path, work_dir: str | Path, opts: ProcessOptions | None = None,
                on_fraction: Callable[[float], None] | None = None) -> CaptureRun:
    """Frames, QA, SfM and training for one capture; stops early (verdict 'rejected') with reasons."""
    opts = opts or ProcessOptions()
    work = Path(work_dir)
    if (work / "frames").exists():
        shutil.rmtree(work / "frames")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    sel = select_frames(source, work / "frames", opts.frames)
    timings["frames_s"] = time.perf_counter() - t
    report = frames_report(sel, opts.min_frames)
    run = CaptureRun(report, sel, timings_s=timings)
    if report["verdict"] != "ok":
        return run
    t = time.perf_counter()
    try:
        if opts.poses:
            poses = given_poses_for_frames(opts.poses, source, sel)
        else:
            poses = run_sfm(sel.folder, work / "sfm", [p.name for p in sel.kept_paths()],
                            is_video=Path(source).is_file(), opts=opts.sfm)
    except CaptureError as exc:
        report["poses"] = {"registered": 0, "frames_total": len(sel.kept), "registered_share": 0.0}
        report["verdict"] = "rejected"
        report["reasons"].append(str(exc))
        timings["poses_s"] = time.perf_counter() - t
        return run
    timings["poses_s"] = time.perf_counter() - t
    run.poses = poses
    add_poses(report, poses.summary(), opts.min_registered_share)
    if report["verdict"] != "ok":
        return run
    from citywalk.capture.train import SplatTrainer

    views = load_views(poses, poses.image_dir or sel.folder)
    n = opts.holdout_every
    is_held = [n > 0 and i % n == n // 2 for i in range(len(views))]
    held = [v for v, h in zip(views, is_held) if h]
    train_views = [v for v, h in zip(views, is_held) if not h]
    t = time.perf_counter()
    trainer = SplatTrainer(poses, train_views, opts.train, checkpoint=work / "train.ckpt")
    timings["train_setup_s"] = time.perf_counter() - t
    held = [downscale_view(v, opts.train.max_side_px) for v in held]
    if held:
        report["holdout_init"] = holdout_metrics(trainer, held)
    t = time.perf_counter()
    run.train = trainer.run(on_fraction)
    timings["train_s"] = time.perf_counter() - t
    report["training"] = {"iterations": run.train.iterations, "seconds": run.train.seconds,
                          "gaussians": run.train.cloud.count, "train_views": len(train_views),
                          "history": run.train.history[-5:]}
    if held:
        t = time.perf_counter()
        report["holdout"] = holdout_metrics(trainer, held)
        timings["holdout_eval_s"] = time.perf_counter() - t
    run.holdout = held
    return run


def _scaled_k(k: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Intrinsics for an image resized by (sx, sy) (pixel centres at +0.5, as downscale_view)."""
    k = np.asarray(k, np.float64).copy()
    k[0, 0], k[0, 2] = k[0, 0] * sx, (k[0, 2] + 0.5) * sx - 0.5
    k[1, 1], k[1, 2] = k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5
    return k


def given_poses_for_frames(spec: str, source: str | Path, sel: FrameSelection) -> Poses:
    """The given cameras (COLMAP model or transforms.json) of the kept frames of a capture folder,
    renamed to the kept frame files and with intrinsics scaled to their size. Every camera must
    name an image of the folder; frames without a camera count as not registered."""
    from PIL import Image

    from citywalk.capture.intake import list_images
    from citywalk.capture.poses import read_given_poses

    src = Path(source)
    if not src.is_dir():
        raise CaptureError(f"--poses {spec}: the capture is a video; given cameras name image files, so the "
                           "capture must be the folder of images they were made from")
    given = read_given_poses(spec)
    files = list_images(src)
    have = {p.name for p in files}
    missing = [n for n in given.names if n not in have]
    if missing:
        raise CaptureError(f"--poses {spec}: {len(missing)} of {len(given.names)} cameras name images the capture "
                           f"does not have (e.g. {', '.join(missing[:3])}; it has {', '.join(sorted(have)[:3])}, …)")
    index = {n: i for i, n in enumerate(given.names)}
    pose_w, pose_h = given.size_px
    names, rs, ts, ks = [], [], [], []
    for rec in sel.kept:
        i = index.get(files[rec.index].name)
        if i is None:
            continue
        with Image.open(sel.folder / rec.file) as im:
            w, h = im.size
        if abs(w / h - pose_w / pose_h) > 0.01 * (pose_w / pose_h):
            raise CaptureError(f"--poses {spec}: camera of {files[rec.index].name} is for {pose_w}x{pose_h} images, "
                               f"but the image is {w}x{h} (another aspect; rotated by EXIF?)")
        names.append(rec.file)
        rs.append(given.R_w2c[i])
        ts.append(given.t_w2c[i])
        ks.append(_scaled_k(given.K[i], w / pose_w, h / pose_h))
    if not names:
        raise CaptureError(f"--poses {spec}: none of the kept frames has a camera")
    info = {**given.info, "matching": "none (cameras given)", "sfm": False}
    return Poses(names, np.array(rs), np.array(ts), np.array(ks), (w, h), given.points_xyz, given.points_rgb,
                 len(sel.kept), given.mean_reproj_error_px, info)


def holdout_metrics(trainer, views: list[TrainView]) -> dict:
    """Mean PSNR (dB) and SSIM of the trainer's renders against held-out views (no exposure fit)."""
    from citywalk.capture.raster import psnr, ssim

    torch = trainer.torch
    ps, ss = [], []
    with torch.no_grad():
        for v in views:
            size = (v.image.shape[1], v.image.shape[0])
            img = trainer.render_view(v.R_w2c, v.t_w2c, v.K, size)["rgb"].clamp(0, 1)
            img = img.cpu()
            target = torch.tensor(np.asarray(v.image), dtype=img.dtype) / 255.0
            ps.append(psnr(img.numpy(), target.numpy()))
            ss.append(float(ssim(img, target)))
    return {"views": len(views), "psnr_db": float(np.mean(ps)), "ssim": float(np.mean(ss))}


def package_run(run: CaptureRun, folder: str | Path, metadata: dict,
                camera_height_m: float = 1.6, scale: float | None = None) -> Path:
    """Write the scene package of a successful run into `folder` → scene.ply path."""
    from citywalk.capture.package import to_metric_z_up, write_scene_package

    if not run.ok:
        raise CaptureError(f"capture was rejected: {'; '.join(run.report.get('reasons', [])) or 'not trained'}")
    cloud, poses, _, ground = to_metric_z_up(run.train.cloud, run.poses, camera_height_m, scale)
    times = {r.file: (r.index, r.time_s) for r in run.selection.kept}
    meta = {**metadata, "qa": {k: v for k, v in run.report.items() if k not in ("kept", "dropped")},
            "exposure": run.train.exposure, "background_rgb": run.train.background, "timings_s": run.timings_s}
    ply = write_scene_package(folder, cloud, poses, times, run.selection.fps, ground, meta)
    write_report(Path(folder) / QA_DIR, run.report, run.selection)
    return ply


def process_capture(catalog: Catalog | str | Path, key: str, opts: ProcessOptions | None = None,
                    on_fraction: Callable[[float], None] | None = None,
                    runner: Callable[..., CaptureRun] = run_capture) -> CatalogEntry:
    """Process a submitted catalog entry → the updated entry: 'processed' with a scene package, or
    'failed' with the QA report's reasons (also written to <entry>/qa/qa.json and qa.png).
    `runner` is run_capture or a drop-in with its signature (the farm's runs stages on Ray)."""
    opts = opts or ProcessOptions()
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    entry = cat.update(key, status="processing")
    try:
        run = runner(entry.path / entry.source, entry.path / WORK_DIR, opts, on_fraction)
    except CaptureError as exc:
        report = {"verdict": "rejected", "reasons": [str(exc)]}
        write_report(entry.path / QA_DIR, report, None)
        return cat.update(entry.id, status="failed", reasons=report["reasons"], qa=report)
    except BaseException:
        cat.update(entry.id, status="failed", reasons=["processing stopped by an internal error"])
        raise
    write_report(entry.path / QA_DIR, run.report, run.selection)
    summary = {k: v for k, v in run.report.items() if k not in ("kept", "dropped")}
    if not run.ok:
        return cat.update(entry.id, status="failed", reasons=run.report["reasons"], qa=summary)
    metadata = {"name": entry.name, "id": entry.id, "kind": entry.kind, "meta": entry.meta}
    try:
        return cat.attach_scene(entry.id, lambda d: package_run(run, d, metadata, opts.camera_height_m, opts.scale),
                                qa=summary)
    except CitywalkError as exc:  # placement failed (e.g. cameras below the estimated ground)
        summary["verdict"], summary["reasons"] = "rejected", [f"scene package: {exc}"]
        return cat.update(entry.id, status="failed", reasons=summary["reasons"], qa=summary)
