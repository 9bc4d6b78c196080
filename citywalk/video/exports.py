"""Side outputs of a render: frame PNGs and 16-bit depth PNGs (the camera track is `citywalk.tracks`).

Every format here has a reader beside its writer so the round trip is testable.  Files are
written to a temporary name and renamed, so a crash never leaves a truncated file behind.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from citywalk.errors import VideoError
from citywalk.tracks import atomic_write as _atomic_write

DEPTH_SCALE_KEY = "citywalk:depth_scale_m"
DEPTH_MAX_UNITS = 65535
DEFAULT_MAX_DEPTH_M = 655.35  # 1 cm per unit


# -- colour frames -------------------------------------------------------------------------


def write_png(path: str | os.PathLike[str], rgb_uint8: np.ndarray) -> Path:
    """Write an (H, W, 3) or (H, W, 4) uint8 sRGB image as an 8-bit PNG."""
    from PIL import Image

    arr = np.asarray(rgb_uint8)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise VideoError(f"PNG {path}: expected an (H, W, 3|4) uint8 image, got {arr.shape} {arr.dtype}")
    image = Image.fromarray(np.ascontiguousarray(arr))  # RGB or RGBA from the last axis
    return _atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


# -- depth ---------------------------------------------------------------------------------


def write_depth_png16(
    path: str | os.PathLike[str], depth_m: np.ndarray, max_depth_m: float = DEFAULT_MAX_DEPTH_M
) -> Path:
    """Write (H, W) metric depth as a 16-bit grey PNG: unit = max_depth_m / 65535 m (1 cm by default).

    0 marks no depth (sky: inf, NaN, <= 0).  Depth beyond max_depth_m saturates at 65535; depth
    that would round to 0 is stored as 1 so it stays valid.  The scale goes in a PNG text chunk.
    """
    from PIL import Image, PngImagePlugin

    if not (isinstance(max_depth_m, (int, float)) and math.isfinite(max_depth_m) and max_depth_m > 0):
        raise VideoError(f"depth PNG {path}: max_depth_m must be a positive finite number, got {max_depth_m!r}")
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise VideoError(
            f"depth PNG {path}: expected an (H, W) float depth map in metres, got {depth.shape} {depth.dtype}"
        )
    scale_m = max_depth_m / DEPTH_MAX_UNITS
    valid = np.isfinite(depth) & (depth > 0)
    units = np.zeros(depth.shape, dtype=np.uint16)
    scaled = np.rint(np.where(valid, depth, 0.0).astype(np.float64) / scale_m)
    units[valid] = np.clip(scaled[valid], 1, DEPTH_MAX_UNITS).astype(np.uint16)
    image = Image.fromarray(units)  # mode I;16
    info = PngImagePlugin.PngInfo()
    info.add_text(DEPTH_SCALE_KEY, repr(float(scale_m)))
    return _atomic_write(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def read_depth_png16(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a depth PNG written by write_depth_png16 → (H, W) float32 metres; no-depth pixels are +inf."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as image:
            image.load()
            text = dict(getattr(image, "text", {}) or {})
            mode = image.mode
            units = np.array(image)
    except FileNotFoundError:
        raise VideoError(f"cannot read depth PNG {p}: no such file") from None
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise VideoError(f"cannot read depth PNG {p}: {exc}") from None
    if mode not in ("I;16", "I;16B", "I") or units.ndim != 2:
        raise VideoError(f"depth PNG {p}: expected 16-bit greyscale, got PIL mode {mode}")
    raw_scale = text.get(DEPTH_SCALE_KEY)
    try:
        scale_m = float(raw_scale) if raw_scale is not None else float("nan")
    except ValueError:
        scale_m = float("nan")
    if not (math.isfinite(scale_m) and scale_m > 0):
        raise VideoError(
            f"depth PNG {p}: text chunk '{DEPTH_SCALE_KEY}' is missing or invalid ({raw_scale!r}); "
            "expected metres per unit as written by citywalk"
        )
    units = units.astype(np.float64)
    depth = (units * scale_m).astype(np.float32)
    depth[units == 0] = np.inf
    return depth


# -- per-frame files -----------------------------------------------------------------------


class FrameSink:
    """Writes frame PNGs to `out_dir/frames/000000.png` and depth PNGs to `out_dir/depth/000000.png`.

    Only the kinds asked for are written; passing an array for a kind not asked for is ignored.
    """

    def __init__(self, out_dir: str | os.PathLike[str], frames: bool = False, depth: bool = False,
                 max_depth_m: float = DEFAULT_MAX_DEPTH_M):
        self.out_dir = Path(out_dir)
        self.frames, self.depth, self.max_depth_m = frames, depth, max_depth_m
        self.count = 0
        for kind, wanted in (("frames", frames), ("depth", depth)):
            if wanted:
                folder = self.out_dir / kind
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise VideoError(f"cannot create {folder}: {exc.strerror or exc}") from None

    def frame_path(self, index: int) -> Path:
        return self.out_dir / "frames" / f"{index:06d}.png"

    def depth_path(self, index: int) -> Path:
        return self.out_dir / "depth" / f"{index:06d}.png"

    def write(self, index: int, rgb: np.ndarray | None = None, depth_m: np.ndarray | None = None) -> None:
        """Write frame `index`'s (H, W, 3) uint8 colour and/or (H, W) float depth in metres."""
        if index < 0 or index > 999_999:
            raise VideoError(f"frame index {index} is out of range 0..999999")
        if self.frames:
            if rgb is None:
                raise VideoError(f"frame {index}: frame PNGs were requested but no colour image was given")
            write_png(self.frame_path(index), rgb)
        if self.depth:
            if depth_m is None:
                raise VideoError(f"frame {index}: depth PNGs were requested but no depth map was given")
            write_depth_png16(self.depth_path(index), depth_m, self.max_depth_m)
        self.count += 1


