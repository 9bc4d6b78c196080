"""Capture jobs on the farm: structure from motion and splat training as executor tasks with
resource requests (training asks for a GPU when the cluster has one), the light stages (frame
selection, QA, packaging, the catalog) on the driver — the same chain as
citywalk.capture.process.run_capture.

Tasks read and write the capture's work folder by path, so on a multi-node cluster the catalog
must sit on storage that every node mounts at the same path.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from .executor import Executor, LocalExecutor, Task

TRAIN_UNITS = 1000  # training progress is reported in thousandths


def sfm_task(image_dir: str, work_dir: str, names: list[str], is_video: bool, opts, report) -> object:
    """Task: pycolmap SfM on the kept frames → Poses (CaptureError if nothing registers)."""
    from ..capture.poses import run_sfm

    poses = run_sfm(image_dir, work_dir, names, is_video=is_video, opts=opts)
    report(1)
    return poses


def train_task(poses, image_dir: str, holdout_every: int, opts, checkpoint: str, report) -> dict:
    """Task: train splats on the registered views (every holdout_every-th held out and scored
    before and after) → {'train': TrainResult, 'held': [TrainView], 'holdout_init', 'holdout',
    'train_views', 'timings_s'}. Resumes from `checkpoint` when a retried task finds one."""
    from ..capture.process import holdout_metrics
    from ..capture.train import SplatTrainer, downscale_view, load_views

    views = load_views(poses, image_dir)
    n = holdout_every
    is_held = [n > 0 and i % n == n // 2 for i in range(len(views))]
    held = [v for v, h in zip(views, is_held) if h]
    train_views = [v for v, h in zip(views, is_held) if not h]
    t = time.perf_counter()
    trainer = SplatTrainer(poses, train_views, opts, checkpoint=checkpoint)
    out = {"timings_s": {"train_setup_s": time.perf_counter() - t}, "train_views": len(train_views),
           "device": trainer.device}
    held = [downscale_view(v, opts.max_side_px) for v in held]
    if held:
        out["holdout_init"] = holdout_metrics(trainer, held)
    t = time.perf_counter()
    out["train"] = trainer.run(lambda f: report(round(f * TRAIN_UNITS)))
    out["timings_s"]["train_s"] = time.perf_counter() - t
    if held:
        t = time.perf_counter()
        out["holdout"] = holdout_metrics(trainer, held)
        out["timings_s"]["holdout_eval_s"] = time.perf_counter() - t
    out["held"] = held
    return out


def _one(executor: Executor, task: Task, on_progress=None):
    """Run one task on the executor → its value."""
    box = []
    executor.run([task], lambda i, value: box.append(value), on_progress)
    return box[0]


def train_resources(executor: Executor) -> dict:
    """What the training task asks for: a GPU where the cluster has one, else two CPUs."""
    if executor.gpus() >= 1:
        return {"num_gpus": 1.0, "num_cpus": 1.0}
    return {"num_cpus": float(min(2, executor.slots(Task(train_task))))}


def run_capture(source: str | Path, work_dir: str | Path, opts=None,
                on_fraction: Callable[[float], None] | None = None, executor: Executor | None = None):
    """citywalk.capture.process.run_capture with SfM and training run as tasks on `executor`."""
    from ..capture import CaptureError
    from ..capture.frames import select_frames
    from ..capture.process import CaptureRun, ProcessOptions
    from ..capture.qa import add_poses, frames_report

    executor, opts = executor or LocalExecutor(), opts or ProcessOptions()
    work = Path(work_dir)
    timings: dict[str, float] = {}
    if (work / "frames").exists():
        shutil.rmtree(work / "frames")
    t = time.perf_counter()
    sel = select_frames(source, work / "frames", opts.frames)
    timings["frames_s"] = time.perf_counter() - t
    report = frames_report(sel, opts.min_frames)
    run = CaptureRun(report, sel, timings_s=timings)
    if report["verdict"] != "ok":
        return run
    t = time.perf_counter()
    sfm_cpus = float(max(1, min(opts.sfm.num_threads, executor.slots(Task(sfm_task)))))
    task = Task(sfm_task, (str(sel.folder), str(work / "sfm"), [p.name for p in sel.kept_paths()],
                           Path(source).is_file(), opts.sfm), name="citywalk-sfm", num_cpus=sfm_cpus)
    try:
        run.poses = _one(executor, task)
    except CaptureError as exc:
        report["poses"] = {"registered": 0, "frames_total": len(sel.kept), "registered_share": 0.0}
        report["verdict"] = "rejected"
        report["reasons"].append(str(exc))
        return run
    finally:
        timings["poses_s"] = time.perf_counter() - t
    add_poses(report, run.poses.summary(), opts.min_registered_share)
    if report["verdict"] != "ok":
        return run
    task = Task(train_task, (run.poses, str(run.poses.image_dir or sel.folder), opts.holdout_every, opts.train,
                             str(work / "train.ckpt")), name="citywalk-train", **train_resources(executor))
    progress = (lambda i, done: on_fraction(done / TRAIN_UNITS)) if on_fraction is not None else None
    out = _one(executor, task, progress)
    run.train, run.holdout = out["train"], out["held"]
    timings.update(out["timings_s"])
    report["training"] = {"iterations": run.train.iterations, "seconds": run.train.seconds,
                          "gaussians": run.train.cloud.count, "train_views": out["train_views"],
                          "history": run.train.history[-5:], "device": out["device"]}
    for key in ("holdout_init", "holdout"):
        if key in out:
            report[key] = out[key]
    return run


def process_capture(catalog, key: str, opts=None, on_fraction: Callable[[float], None] | None = None,
                    executor: Executor | None = None):
    """citywalk.capture.process.process_capture (catalog status, QA report, scene package) with
    the heavy stages on `executor`."""
    from ..capture.process import process_capture as process_locally

    def runner(source, work_dir, opts, on_fraction):
        return run_capture(source, work_dir, opts, on_fraction, executor)

    return process_locally(catalog, key, opts, on_fraction, runner=runner)
