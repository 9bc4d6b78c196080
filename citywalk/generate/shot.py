"""Shots that the generative backends make: a `generated` scene (first frame → image-to-video, no
renderer) and `output.restyle` over any rendered scene. `pipeline.render_shot` hands such a Shot
here with the renderer's own `render_shot` as `render`, so this stage never imports the pipeline."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import SceneError

Progress = Callable[[float], None] | None


def no_scene(spec, min_extent_m: float = 0.0, cameras=None):
    """The registry's loader for `generated`: there is no geometry to build."""
    raise SceneError("scene.source 'generated' has no geometry: 'citywalk render' makes its video with the "
                     "generative backends (first frame → image-to-video); stills, sheets and walks need a Scene source")


def _report(on_fraction: Progress, lo: float, hi: float) -> Progress:
    """on_fraction for a sub-task that covers lo..hi of the whole."""
    if on_fraction is None:
        return None
    return lambda f: on_fraction(lo + (hi - lo) * min(max(f, 0.0), 1.0))


def _write_video(video: Path, frames, fps: int, size: tuple[int, int], crf: int, frames_dir: Path | None,
                 on_frame: Progress = None, total: int = 1) -> tuple[int, float]:
    """Encode uint8 frames (an iterable) to `video`, and as PNGs to `frames_dir` when given → (count, encode s)."""
    from ..video.encode import VideoWriter
    from ..video.exports import write_png

    writer = VideoWriter(video, fps, size, crf=crf)
    count = 0
    try:
        for frame in frames:
            writer.write(frame)
            if frames_dir is not None:
                write_png(frames_dir / f"{count:06d}.png", frame)
            count += 1
            if on_frame is not None:
                on_frame(count / max(total, 1))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return count, float(writer.stats.get("encode_s", 0.0))


def render_generated(shot, video: Path, paths: dict[str, Path], on_fraction: Progress = None,
                     render: Callable | None = None) -> tuple[int, dict, dict, list]:
    """Text → first frame → image-to-video for a `generated` scene, encoded to `video`
    → (frames, extras, timings_s, copyright)."""
    from .backends import BACKENDS, resolve_model
    from .text_to_image import first_frame
    from .video_models import image_to_video

    del render
    spec, out = shot.scene, shot.output
    resolve_model(spec.image_model or BACKENDS["first_frame"].models["base"], "first_frame")  # fail before work
    resolve_model(spec.video_model or BACKENDS["image_to_video"].models["base"], "image_to_video")
    t0 = time.perf_counter()
    steps = {"steps": spec.steps} if spec.steps else {}
    image = first_frame(spec.prompt, tuple(out.size), spec.seed, model=spec.image_model, **steps)
    t1 = time.perf_counter()
    if on_fraction:
        on_fraction(0.1)
    clip = image_to_video(image, out.frame_count, out.fps, spec.seed, model=spec.video_model, prompt=spec.prompt,
                          **steps)
    t2 = time.perf_counter()
    frames_dir = paths["frames"] if "frames" in out.extras else None
    n, encode_s = _write_video(video, clip, out.fps, tuple(out.size), out.crf, frames_dir,
                               _report(on_fraction, 0.9, 1.0), len(clip))
    extras = {"frames": paths["frames"]} if frames_dir else {}
    total = time.perf_counter() - t0
    timings = {"first_frame_s": t1 - t0, "image_to_video_s": t2 - t1, "encode_s": encode_s, "total_s": total,
               "render_fps": n / max(t2 - t0, 1e-9), "realtime_factor": out.duration_s / total}
    return n, extras, timings, []


def _read_rendered(extras: dict[str, Path]):
    """The renderer's side outputs: frame PNGs and depth PNGs (lazily, in order) and the camera track."""
    from PIL import Image

    from ..tracks import read_camera_track
    from ..video.exports import read_depth_png16

    frame_files = sorted(Path(extras["frames"]).glob("*.png"))
    depth_files = sorted(Path(extras["depth"]).glob("*.png"))
    frames = (np.asarray(Image.open(p).convert("RGB")) for p in frame_files)
    depth = (read_depth_png16(p) for p in depth_files)
    return frames, depth, read_camera_track(extras["camera_track"]), len(frame_files)


def restyle_shot(shot, video: Path, paths: dict[str, Path], on_fraction: Progress = None,
                 render: Callable | None = None) -> tuple[int, dict, dict, list]:
    """Render the Shot with depth, cameras and frames into a temporary folder with `render`
    (pipeline.render_shot), restyle those frames, and encode them to `video`
    → (frames, extras, timings_s, copyright). The scene's copyright is burnt in again on top."""
    from .backends import BACKENDS, resolve_model
    from .restyle import RestyleOptions, restyle_iter

    spec, out = shot.output.restyle, shot.output
    defaults = BACKENDS["restyle"].models
    resolve_model(spec.model or defaults["base"], "restyle", "base")  # fail before rendering
    resolve_model(spec.controlnet or defaults["controlnet"], "restyle", "controlnet")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="citywalk-restyle-") as tmp:
        raw = shot.updated({"output": {"restyle": None, "extras": ["depth", "camera_track", "frames"]}})
        res = render(raw, Path(tmp) / "render.mp4", on_fraction=_report(on_fraction, 0.0, 0.3))
        t1 = time.perf_counter()
        frames, depth, track, count = _read_rendered(res.extras)
        opts = RestyleOptions(prompt=spec.prompt, strength=spec.strength, seed=shot.scene.seed, steps=spec.steps)
        styled = restyle_iter(frames, depth, track, opts, model=spec.model, controlnet=spec.controlnet)
        if res.copyright:
            from ..video.overlay import CornerText

            notice = CornerText(res.copyright, tuple(out.size))
            styled = (notice.apply(f) for f in styled)
        frames_dir = paths["frames"] if "frames" in out.extras else None
        n, encode_s = _write_video(video, styled, out.fps, tuple(out.size), out.crf, frames_dir,
                                   _report(on_fraction, 0.3, 1.0), count)
        extras = {"frames": paths["frames"]} if frames_dir else {}
        for key in ("depth", "camera_track"):
            if key in out.extras:
                target = paths[key]
                if target.exists() and target.is_dir():
                    shutil.rmtree(target)
                (shutil.copytree if res.extras[key].is_dir() else shutil.copy2)(res.extras[key], target)
                extras[key] = target
    total = time.perf_counter() - t0
    timings = {"render_s": t1 - t0, "restyle_s": total - (t1 - t0), "encode_s": encode_s, "total_s": total,
               "render_fps": n / max(total, 1e-9), "realtime_factor": out.duration_s / total}
    return n, extras, timings, list(res.copyright)
