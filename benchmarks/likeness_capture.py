"""Benchmark: a 15-s (--seconds) 720p synthetic clip (the astronaut photo's person sliding over a street
backdrop at 24 fps) → Actor → .actor file; prints wall and process CPU seconds per stage, the totals
and one JSON summary line.

Run: .venv/bin/python benchmarks/likeness_capture.py [--method auto|mediapipe|chroma|background]
     [--seconds 15] [--keep-actor out.actor] [--sequential]
Encoding the test clip is not timed; decoding it is (the 'decode' stage). CPU time counts every
thread of the process (and children), so it is the fairer figure on a loaded machine. The models
run on a worker thread beside the matte, so per-stage figures are busy wall time and per-stage CPU
is shown only with --sequential (one thread, the same actor).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def person_layer(size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut (scikit-image) and a person mask from selfie segmentation of the original
    photo (a fixed silhouette when mediapipe is missing): `(S, S, 3) uint8`, `(S, S) bool`."""
    from skimage import data

    from citywalk.errors import MissingExtra

    img = data.astronaut()
    try:
        from citywalk.likeness.capture import _import_mediapipe
        from citywalk.likeness.quiet import native_stderr_silenced

        mp = _import_mediapipe("benchmark")
        with native_stderr_silenced(), mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
            mask = seg.process(img).segmentation_mask > 0.5
    except MissingExtra:
        yy, xx = np.mgrid[:512, :512]
        mask = ((xx - 230) ** 2 + (yy - 110) ** 2 < 80**2) | ((yy > 170) & (np.abs(xx - 230) < 200))
    rgb = np.asarray(Image.fromarray(img).resize((size_px, size_px), Image.BILINEAR))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size_px, size_px))) > 127
    return rgb, m


def street(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Facades with windows over a grey road, `(h, w, 3) uint8`."""
    bg = np.zeros((h, w, 3), np.uint8)
    x = 0
    while x < w:
        bw = int(rng.integers(w // 10, w // 5))
        bg[:, x:x + bw] = rng.integers(60, 200, 3)
        for wy in range(40, int(h * 0.7), 48):
            for wx in range(x + 8, x + bw - 20, 36):
                bg[wy:wy + 24, wx:wx + 16] = rng.integers(20, 240, 3)
        x += bw
    bg[int(h * 0.75):] = (95, 95, 100)
    return bg


PERSON_PX = 560


def person_origin(i: int, h: int) -> tuple[int, int]:
    """Top-left (x, y) of the person layer in frame i: 2 px per frame to the right, then back
    (so clips longer than 10 s stay inside a 1280 px frame)."""
    span = 600
    x = (2 * i) % (2 * span)
    return 100 + (x if x <= span else 2 * span - x), h - PERSON_PX


def write_clip(path: Path, seconds: float, fps: int, size: tuple[int, int], rng: np.random.Generator) -> None:
    """Encodes the composite clip as H.264 (CRF 18) with PyAV."""
    import av

    w, h = size
    bg = street(h, w, rng)
    rgb, m = person_layer(PERSON_PX)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt, s.time_base = w, h, "yuv420p", Fraction(1, fps)
        s.options = {"crf": "18", "preset": "veryfast"}
        for i in range(int(seconds * fps)):
            frame = bg.copy()
            x0, y0 = person_origin(i, h)
            sub = frame[y0:, x0:x0 + PERSON_PX]
            sub[m] = rgb[m]
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            out.mux(s.encode(vf))
        out.mux(s.encode())


def cpu_s() -> float:
    """Process CPU seconds so far (user + system, this process and its waited-for children)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


STAGES = ("decode", "segmentation", "matte", "pose", "cycle", "write")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="auto")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--keep-actor", type=Path, help="copy the .actor file here (to compare captures)")
    ap.add_argument("--sequential", action="store_true", help="no model thread: per-stage CPU seconds")
    args = ap.parse_args()
    from citywalk.likeness.capture import capture_actor

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench.mp4"
        write_clip(clip, args.seconds, 24, (1280, 720), np.random.default_rng(0))
        timings: dict[str, float] = {}
        t0, c0 = time.perf_counter(), cpu_s()
        actor = capture_actor(clip, 1.72, method=args.method, timings=timings, model_thread=not args.sequential)
        t1, c1 = time.perf_counter(), cpu_s()
        out = actor.save(Path(tmp) / "bench.actor")
        timings["write"], timings["write_cpu"] = time.perf_counter() - t1, cpu_s() - c1
        total_s, total_cpu_s = time.perf_counter() - t0, cpu_s() - c0
        size_mb = out.stat().st_size / 1e6
        if args.keep_actor:
            shutil.copyfile(out, args.keep_actor)
    ious = matte_iou(actor, (1280, 720))
    print(f"likeness capture: {args.seconds:.0f} s 1280x720 @ 24 fps, method={actor.method}, "
          f"{actor.n_frames} frames, actor {actor.size_px[0]}x{actor.size_px[1]} px, {size_mb:.1f} MB, "
          f"cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"  {'stage':<13}{'wall s':>8}{'cpu s':>8}   ({'one thread' if args.sequential else 'model thread'})")
    for stage in ("frames", *STAGES):
        cpu = timings.get(stage + "_cpu")
        print(f"  {stage:<13}{timings.get(stage, 0.0):8.2f}" + (f"{cpu:8.2f}" if cpu is not None else f"{'-':>8}"))
    print(f"  {'total':<13}{total_s:8.2f}{total_cpu_s:8.2f}")
    print(f"matte IoU (alpha > 0.5 vs the composited layer): mean {ious.mean():.3f}, min {ious.min():.3f}")
    summary = {"benchmark": "likeness_capture", "clip_s": args.seconds, "frames": actor.n_frames,
               "method": actor.method, "model_thread": not args.sequential, "total_wall_s": round(total_s, 2),
               "total_cpu_s": round(total_cpu_s, 2),
               **{f"{k}_wall_s": round(timings.get(k, 0.0), 2) for k in ("frames", *STAGES)},
               **{f"{k}_cpu_s": round(timings[k + "_cpu"], 2) for k in ("frames", *STAGES) if k + "_cpu" in timings},
               "iou_mean": round(float(ious.mean()), 3), "iou_min": round(float(ious.min()), 3),
               "actor_mb": round(size_mb, 1), "load_avg_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(summary))


def matte_iou(actor, size: tuple[int, int]) -> np.ndarray:
    """Per-frame IoU of the actor's alpha > 0.5, pasted back into the source frame, against the
    layer that was composited (the truth)."""
    w, h = size
    _, m = person_layer(PERSON_PX)
    out = []
    for i in range(actor.n_frames):
        truth = np.zeros((h, w), bool)
        x0, y0 = person_origin(i, h)
        truth[y0:, x0:x0 + PERSON_PX] = m[: h - y0, : w - x0]
        got = np.zeros((h + 2 * 1400, w + 2 * 1400), bool)  # padded: frames may overhang
        ox, oy = (int(v) + 1400 for v in actor.crop_origin_px[i])
        a = actor.frames_rgba[i, ..., 3] > 127
        got[oy:oy + a.shape[0], ox:ox + a.shape[1]] = a
        got = got[1400:1400 + h, 1400:1400 + w]
        out.append((got & truth).sum() / max(1, (got | truth).sum()))
    return np.array(out)


if __name__ == "__main__":
    main()
