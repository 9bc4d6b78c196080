"""Frames from a capture: decode (PyAV) or read images, score each frame (sharpness = variance of
the Laplacian, exposure statistics), keep the sharpest frame per time window, drop blurred, dark,
blown-out, featureless and near-duplicate frames — each drop with its reason — and write the kept
frames as PNGs for SfM."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.intake import IMAGE_SUFFIXES, check_png_chunks, list_images

THUMB_W_PX = 64


@dataclass
class FrameOptions:
    """How frames are chosen. target_fps: at most this many kept frames per second of video (the
    sharpest of each 1/target_fps window); blur_ratio: a frame whose sharpness is below this share of
    the median kept sharpness counts as motion-blurred; the luma limits are on 0..1 sRGB values."""

    target_fps: float = 4.0
    max_frames: int = 300
    max_side_px: int = 960
    max_decode_frames: int = 20_000
    blur_ratio: float = 0.35
    min_sharpness: float = 2e-5
    dark_mean: float = 0.04
    bright_mean: float = 0.96
    clipped_share: float = 0.85
    duplicate_diff: float = 0.004

    def check(self) -> "FrameOptions":
        if not 0 < self.target_fps <= 120:
            raise CaptureError(f"frame options target_fps={self.target_fps}: expected 0 < fps ≤ 120")
        if not 2 <= self.max_frames <= 5000:
            raise CaptureError(f"frame options max_frames={self.max_frames}: expected 2..5000")
        if not 32 <= self.max_side_px <= 8192:
            raise CaptureError(f"frame options max_side_px={self.max_side_px}: expected 32..8192")
        return self


@dataclass
class FrameRecord:
    """One decoded frame's scores and fate. reason is '' for kept frames."""

    index: int
    time_s: float
    sharpness: float
    mean_luma: float
    dark_share: float
    bright_share: float
    kept: bool = False
    reason: str = ""
    file: str = ""


@dataclass
class FrameSelection:
    """Result of frame selection: every scored frame, the kept ones' PNG paths and image size."""

    records: list[FrameRecord]
    folder: Path
    size_px: tuple[int, int]
    fps: float
    windows: int
    thumbs: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def kept(self) -> list[FrameRecord]:
        return [r for r in self.records if r.kept]

    def kept_paths(self) -> list[Path]:
        return [self.folder / r.file for r in self.kept]

    def to_dict(self) -> dict:
        return {"records": [asdict(r) for r in self.records], "size_px": list(self.size_px),
                "fps": self.fps, "windows": self.windows}


def luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 sRGB → (H, W) float32 luma in 0..1 (Rec. 709 weights on encoded values)."""
    return (rgb[..., :3].astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)) / 255.0


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a (H, W) 0..1 image: low for blur and flat walls."""
    g = np.asarray(gray, np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var()) if lap.size else 0.0


def exposure_stats(gray: np.ndarray) -> tuple[float, float, float]:
    """(mean luma, share of pixels below 0.02, share above 0.98) of a (H, W) 0..1 image."""
    return float(gray.mean()), float((gray < 0.02).mean()), float((gray > 0.98).mean())


def _resize(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side_px:
        return rgb
    from PIL import Image

    s = max_side_px / max(h, w)
    size = (max(2, round(w * s)), max(2, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def _thumb(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((THUMB_W_PX, max(1, round(h * THUMB_W_PX / w))),
                                                  Image.Resampling.BOX))


def iter_video(path: Path, opts: FrameOptions) -> tuple[float, float, Iterator[tuple[int, float, np.ndarray]]]:
    """(fps, duration_s, iterator of (index, time_s, (H, W, 3) uint8 upright)) for a video file."""
    from citywalk.media import VideoFile

    video = VideoFile(path, CaptureError, "capture")
    info = video.probe()

    def frames() -> Iterator[tuple[int, float, np.ndarray]]:
        for f in video.frames(opts.max_decode_frames):
            yield f.index, f.time_s, _resize(f.rgb, opts.max_side_px)

    fps = info.fps or 30.0
    duration_s = info.duration_s
    return fps, duration_s, frames()


def _draft_for(im, max_side_px: int) -> None:
    """Let a JPEG decode at 1/2–1/8 scale when that still leaves its long side at least
    `max_side_px`: a 48-megapixel phone photo then needs a sixteenth of the memory and time."""
    s = max_side_px / max(im.width, im.height, 1)
    if s < 1.0:
        im.draft("RGB", (math.ceil(im.width * s), math.ceil(im.height * s)))


def iter_images(folder: Path, opts: FrameOptions) -> Iterator[tuple[int, float, np.ndarray]]:
    """Images of a folder as (index, index as pseudo-time, (H, W, 3) uint8 upright), in name order."""
    from PIL import Image, ImageOps

    for i, p in enumerate(list_images(folder)[:opts.max_decode_frames]):
        try:
            check_png_chunks(p)
            with Image.open(p) as im:  # upright: phones tag portrait photos with an EXIF orientation
                _draft_for(im, opts.max_side_px)
                rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise CaptureError(f"capture image {p}: not a readable image ({exc})") from None
        yield i, float(i), _resize(rgb, opts.max_side_px)


def select_frames(source: str | Path, out_dir: str | Path, opts: FrameOptions | None = None) -> FrameSelection:
    """Score every frame of `source` (video file or image folder), keep the best one per window and
    write kept frames to `out_dir` as PNGs → FrameSelection (every frame with its reason)."""
    from PIL import Image

    opts = (opts or FrameOptions()).check()
    src, out = Path(source), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if src.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in src.iterdir()):
        fps, window_s, frames = 1.0, 1.0, iter_images(src, opts)
    else:
        fps, duration_s, frames = iter_video(src, opts)
        window_s = max(1.0 / opts.target_fps, duration_s / opts.max_frames if duration_s else 0.0)
    records: list[FrameRecord] = []
    thumbs: dict[int, np.ndarray] = {}
    size_px = (0, 0)
    best: tuple[FrameRecord, np.ndarray] | None = None
    current_window = -1
    last_small: np.ndarray | None = None
    last_kept_index = -1
    windows = 0

    def finish(candidate: tuple[FrameRecord, np.ndarray] | None) -> None:
        nonlocal last_small, last_kept_index
        if candidate is None:
            return
        rec, rgb = candidate
        gray = luma(rgb)
        small = _small(gray)
        if rec.mean_luma < opts.dark_mean or rec.dark_share > opts.clipped_share:
            rec.reason = f"too dark (mean luma {rec.mean_luma:.3f} < {opts.dark_mean})"
        elif rec.mean_luma > opts.bright_mean or rec.bright_share > opts.clipped_share:
            rec.reason = f"overexposed (mean luma {rec.mean_luma:.3f})"
        elif rec.sharpness < opts.min_sharpness:
            rec.reason = f"featureless (sharpness {rec.sharpness:.2e} < {opts.min_sharpness:.0e}; a flat wall or sky?)"
        elif (last_small is not None and last_small.shape == small.shape  # photos may differ in size
              and float(np.abs(small - last_small).mean()) < opts.duplicate_diff):
            rec.reason = f"near-duplicate of frame {last_kept_index}"
        elif sum(r.kept for r in records) >= opts.max_frames:
            rec.reason = f"over the {opts.max_frames}-frame limit"
        else:
            rec.kept, rec.file = True, f"frame_{rec.index:06d}.png"
            Image.fromarray(rgb).save(out / rec.file, compress_level=1)
            last_small, last_kept_index = small, rec.index

    for index, time_s, rgb in frames:
        size_px = (rgb.shape[1], rgb.shape[0])
        gray = luma(rgb)
        mean, dark, bright = exposure_stats(gray)
        rec = FrameRecord(index, round(time_s, 4), sharpness(gray), mean, dark, bright)
        records.append(rec)
        window = int(math.floor(time_s / window_s + 1e-9))
        if window != current_window:
            finish(best)
            best, current_window = None, window
            windows += 1
        if best is None or rec.sharpness > best[0].sharpness:
            if best is not None:
                best[0].reason = "a sharper frame was kept in its time window"
            best = (rec, rgb)
            thumbs[rec.index] = _thumb(rgb)
        else:
            rec.reason = "a sharper frame was kept in its time window"
    finish(best)
    _drop_blurred(records, opts, out)
    return FrameSelection(records, out, size_px, fps, windows, thumbs)


def _small(gray: np.ndarray) -> np.ndarray:
    """A 32×18-ish block average used to spot near-duplicates."""
    h, w = gray.shape
    bh, bw = max(1, h // 18), max(1, w // 32)
    g = gray[:h - h % bh, :w - w % bw]
    return g.reshape(g.shape[0] // bh, bh, g.shape[1] // bw, bw).mean(axis=(1, 3))


def _drop_blurred(records: list[FrameRecord], opts: FrameOptions, out: Path) -> None:
    """Drop kept frames much blurrier than the median kept frame (motion blur)."""
    kept = [r for r in records if r.kept]
    if len(kept) < 3:
        return
    median = float(np.median([r.sharpness for r in kept]))
    for r in kept:
        if r.sharpness < opts.blur_ratio * median:
            r.kept = False
            r.reason = f"motion blur (sharpness {r.sharpness:.2e} < {opts.blur_ratio} × median {median:.2e})"
            (out / r.file).unlink(missing_ok=True)
            r.file = ""
