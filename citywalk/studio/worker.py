"""One job in its own process: `python -m citywalk.studio.worker --data-dir D --job ID --attempt N`.

A crash here (a GL fault, running out of memory) ends this process only; the scheduler sees it
exit and requeues or fails the job. Outputs are written into a private temp folder, flushed to
disk, and renamed into `jobs/<id>/out/` in one step before the job is marked done — a done job's
files are always complete. The worker dies with the server (Linux parent-death signal) and stops
at its next progress report when its job was cancelled or taken over.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path

from ..errors import CitywalkError
from .paths import DataDir, fsync_dir, fsync_tree
from .store import JobStore

PROGRESS_EVERY_S = 0.3


class JobStopped(Exception):
    """The job was cancelled, deleted or handed to another attempt, or the server went away."""


class Reporter:
    """Progress of one attempt into the store: fraction, stage and an ETA from the rate so far."""

    def __init__(self, store: JobStore, job_id: str, attempt: int, parent_pid: int):
        self.store, self.job_id, self.attempt, self.parent_pid = store, job_id, attempt, parent_pid
        self.stage_name, self.last_write = "starting", 0.0
        self.rate_from: tuple[float, float] | None = None  # (monotonic s, fraction) when the stage began

    def stage(self, name: str, fraction: float) -> None:
        self.stage_name, self.rate_from = name, None
        self.report(fraction, force=True)

    def report(self, fraction: float, stage: str | None = None, force: bool = False) -> None:
        if stage is not None and stage != self.stage_name:
            self.stage_name, self.rate_from = stage, None
            force = True
        now = time.monotonic()
        if self.rate_from is None:
            self.rate_from = (now, fraction)
        if not force and now - self.last_write < PROGRESS_EVERY_S:
            return
        if os.getppid() != self.parent_pid:
            raise JobStopped("the server that started this worker has gone")
        t0, f0 = self.rate_from
        eta = None
        if fraction > f0 + 1e-3 and now > t0:
            eta = (now - t0) / (fraction - f0) * (1.0 - fraction)
        self.last_write = now
        if not self.store.progress(self.job_id, self.attempt, fraction, self.stage_name, eta):
            raise JobStopped("the job was cancelled or taken over")


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans rendering on)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    if os.getppid() != parent_pid:
        raise SystemExit(3)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _zip_folder(folder: Path, archive: Path) -> None:
    """PNG folders zipped as stored (PNGs are compressed already)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"{folder.name}/{p.name}")


def _poster(video: Path, out: Path, n_frames: int, width_px: int = 480) -> None:
    """A JPEG of the frame a third into the video, for the gallery (decoding stops there)."""
    import av

    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):  # noqa: B007 - the last frame decoded is kept
            if i >= n_frames // 3:
                break
        img = frame.to_image()
    img.thumbnail((width_px, width_px))
    img.save(out, "JPEG", quality=85)


def publish(tmp: Path, job_dir: Path) -> Path:
    """Flush `tmp` and rename it to job_dir/out in one step (an older out/ is swapped away)."""
    fsync_tree(tmp)
    out = job_dir / "out"
    old = job_dir / f".old-{os.getpid()}"
    if out.exists():
        os.rename(out, old)
    os.rename(tmp, out)
    fsync_dir(job_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out


def run_render(job, data: DataDir, rep: Reporter) -> dict:
    from ..pipeline import render_shot
    from ..shot import Shot

    shot = Shot.from_dict(job.spec["shot"], source="job")
    job_dir = data.job_dir(job.id)
    for stale in job_dir.glob(".tmp-*"):  # left by attempts that were killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = job_dir / f".tmp-{job.attempts}"
    tmp.mkdir(parents=True)
    rep.stage("preparing scene", 0.0)
    first = [True]

    def on_fraction(f: float) -> None:
        if first[0]:
            rep.stage("rendering", 0.0)
            first[0] = False
        rep.report(0.97 * f)

    result = render_shot(shot, tmp / "walk.mp4", on_fraction=on_fraction)
    rep.stage("finishing", 0.97)
    video = tmp / "walk.mp4"
    outputs = {"video": "walk.mp4", "video_bytes": video.stat().st_size, "video_sha256": _sha256(video),
               "frame_count": result.frames, "size": list(shot.output.size), "fps": shot.output.fps,
               "duration_s": shot.output.duration_s, "timings_s": result.timings_s}
    _poster(video, tmp / "poster.jpg", result.frames)
    outputs["poster"] = "poster.jpg"
    for key, path in result.extras.items():
        if key == "camera_track":
            outputs["camera_track"] = path.name
        else:
            _zip_folder(path, tmp / f"{path.name}.zip")
            shutil.rmtree(path)
            outputs[key] = f"{path.name}.zip"
    (tmp / "manifest.json").write_text(json.dumps(outputs, indent=1), encoding="utf-8")
    publish(tmp, job_dir)
    return outputs


def run_actor(job, data: DataDir, rep: Reporter) -> dict:
    from ..likeness.actor import Actor
    from ..likeness.capture import capture_to_file

    spec = job.spec
    rep.stage("capturing likeness", 0.0)
    target = data.actor_path(spec["name"])
    capture_to_file(spec["source"], float(spec["height_m"]), target, method=spec.get("method", "auto"),
                    progress=lambda f, stage: rep.report(0.95 * f, stage=f"likeness: {stage}"))
    actor = Actor.load(target)
    _actor_thumbnail(actor, target.with_suffix(".png"))
    shutil.rmtree(Path(spec["source"]).parent, ignore_errors=True)
    return {"actor": spec["name"], "frame_count": actor.n_frames, "method": actor.method,
            "walking": bool(actor.cycle.walking)}


def _actor_thumbnail(actor, out: Path) -> None:
    """The actor's first frame (RGBA) scaled to ≤ 160 px, written atomically."""
    from PIL import Image

    img = Image.fromarray(actor.frames_rgba[0], "RGBA")
    img.thumbnail((160, 160))
    tmp = out.with_name(f".{out.name}.tmp")
    img.save(tmp, "PNG")
    os.replace(tmp, out)


def run_capture(job, data: DataDir, rep: Reporter, catalog_root: Path) -> dict:
    from ..capture.catalog import CaptureMeta, Catalog
    from ..capture.evaluate import eval_options
    from ..capture.intake import submit
    from ..capture.process import process_capture

    spec = job.spec
    cat = Catalog(catalog_root)
    rep.stage("intake", 0.0)
    if not any(e.name == spec["name"] for e in cat.list()):
        submit(cat, spec["source"], CaptureMeta(**spec["meta"]), name=spec["name"])
    rep.stage("processing capture", 0.02)
    opts = eval_options(int(spec["iterations"]), float(spec["budget_s"]))
    entry = process_capture(cat, spec["name"], opts, on_fraction=lambda f: rep.report(0.02 + 0.97 * f))
    shutil.rmtree(Path(spec["source"]).parent if Path(spec["source"]).is_file() else Path(spec["source"]),
                  ignore_errors=True)
    if entry.status != "processed":
        raise CitywalkError(f"capture '{entry.name}' was rejected: " + "; ".join(entry.reasons))
    return {"scene": entry.name, "qa_verdict": (entry.qa or {}).get("verdict", "ok")}


def run_job(data_dir: Path, job_id: str, attempt: int, parent_pid: int, catalog_root: Path) -> int:
    """Run one attempt of a job to done or failed → the process exit code (0 unless it was stopped)."""
    data = DataDir(data_dir)
    store = JobStore(data.db_path)
    job = store.get(job_id)
    if job.state != "running" or job.attempts != attempt:
        return 0
    rep = Reporter(store, job_id, attempt, parent_pid)
    try:
        if job.kind == "render":
            outputs = run_render(job, data, rep)
        elif job.kind == "actor":
            outputs = run_actor(job, data, rep)
        else:
            outputs = run_capture(job, data, rep, catalog_root)
    except JobStopped:
        return 4
    except CitywalkError as exc:
        store.fail(job_id, attempt, str(exc))
        return 0
    except Exception as exc:  # a bug, logged beside the job; the reason names it
        log = data.job_dir(job_id) / "error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        store.fail(job_id, attempt, f"internal error: {type(exc).__name__}: {exc}")
        return 0
    if not store.finish(job_id, attempt, outputs) and job.kind == "render":
        shutil.rmtree(data.job_output_dir(job_id), ignore_errors=True)  # cancelled at the last moment
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="citywalk.studio.worker")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--job", required=True)
    p.add_argument("--attempt", type=int, required=True)
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--catalog", required=True)
    a = p.parse_args(argv)
    _die_with_parent(a.parent)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(5))
    return run_job(Path(a.data_dir), a.job, a.attempt, a.parent, Path(a.catalog))


if __name__ == "__main__":
    sys.exit(main())
