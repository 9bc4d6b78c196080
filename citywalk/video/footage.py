"""Footage tools (NumPy only, no weights): a dash-cam drive → a walk, and long drives → training clips.

`footage_walk` undistorts (or crops) a fisheye dash-cam to a pinhole view of a chosen field of view,
optionally moved toward the sidewalk through a street proxy (ground plane, two facades, a far
plane), stabilises it (high-frequency image motion removed, the drive's own motion kept), retimes
it to walking speed with optical-flow frame interpolation (the car's speed given, or measured from
the road's flow and the camera height), optionally reverses it, and adds head bob at step
frequency and sway at stride frequency. `cut_dataset` cuts videos into fixed-length clips normalised
to one field of view and size, listed in a manifest.

Cameras follow citywalk's OpenCV convention (x right, y down, z forward); pixel centres sit at
index + 0.5. Optical flow is pyramidal Lucas–Kanade, written here."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from citywalk.errors import VideoError

LENSES = ("equidistant", "equisolid", "stereographic", "rectilinear")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi")
FLOW_SIDE_PX = 192
MANIFEST_VERSION = 1


# -- lenses and maps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Lens:
    """A centred lens: its projection `model` and the horizontal field of view across the full width."""

    model: str = "equidistant"
    fov_deg: float = 150.0

    def check(self) -> "Lens":
        if self.model not in LENSES:
            raise VideoError(f"lens '{self.model}' is unknown; accepted: {', '.join(LENSES)}")
        top = 179.0 if self.model == "rectilinear" else 360.0
        if not 1.0 <= self.fov_deg <= top:
            raise VideoError(f"lens fov_deg {self.fov_deg} is out of range 1..{top:g} for a {self.model} lens")
        return self

    def _r(self, theta: np.ndarray) -> np.ndarray:
        """Image radius per unit focal length at angle theta (radians) off the axis."""
        if self.model == "equidistant":
            return theta
        if self.model == "equisolid":
            return 2 * np.sin(theta / 2)
        if self.model == "stereographic":
            return 2 * np.tan(theta / 2)
        return np.tan(np.minimum(theta, np.radians(89.9)))

    def focal_px(self, width_px: int) -> float:
        return (width_px / 2) / float(self._r(np.array(np.radians(self.fov_deg) / 2)))

    def project(self, dirs: np.ndarray, size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-index coordinates (x, y) in a `size_px` image of camera-space directions (..., 3)."""
        w, h = size_px
        f = self.focal_px(w)
        norm = np.linalg.norm(dirs, axis=-1)
        theta = np.arccos(np.clip(dirs[..., 2] / np.maximum(norm, 1e-12), -1, 1))
        r = f * self._r(theta)
        phi = np.arctan2(dirs[..., 1], dirs[..., 0])
        x, y = w / 2 + r * np.cos(phi) - 0.5, h / 2 + r * np.sin(phi) - 0.5
        if self.model == "rectilinear":
            behind = dirs[..., 2] <= 0
            x, y = np.where(behind, -1e6, x), np.where(behind, -1e6, y)
        return x, y


def pinhole_focal_px(fov_deg: float, width_px: int) -> float:
    return (width_px / 2) / math.tan(math.radians(fov_deg) / 2)


@dataclass(frozen=True)
class StreetProxy:
    """The geometry a sideways move is drawn through: the road `camera_height_m` below the camera,
    facades `half_width_m` either side, and a far plane; `shift_m` moves the camera right (+) or left."""

    shift_m: float = 0.0
    camera_height_m: float = 1.4
    half_width_m: float = 8.0
    far_m: float = 80.0

    def hit(self, rays: np.ndarray) -> np.ndarray:
        """Where rays (..., 3) from the shifted camera meet the proxy, in the original camera's frame."""
        origin = np.array([self.shift_m, 0.0, 0.0])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_ground = np.where(rays[..., 1] > 0, self.camera_height_m / rays[..., 1], np.inf)
            t_right = np.where(rays[..., 0] > 0, (self.half_width_m - self.shift_m) / rays[..., 0], np.inf)
            t_left = np.where(rays[..., 0] < 0, (-self.half_width_m - self.shift_m) / rays[..., 0], np.inf)
            t_far = np.where(rays[..., 2] > 0, self.far_m / rays[..., 2], np.inf)
        t = np.minimum.reduce([t_ground, t_right, t_left, t_far])
        t = np.where(np.isfinite(t), t, self.far_m)
        return origin + rays * t[..., None]


def view_map(lens: Lens, in_size: tuple[int, int], fov_deg: float, out_size: tuple[int, int],
             margin_px: int = 0, proxy: StreetProxy | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates (x, y), each (H + 2m, W + 2m), of a pinhole view of horizontal
    `fov_deg` over `out_size` (plus a margin on every side, same focal length) from the `lens` image."""
    lens.check()
    if not 1.0 <= fov_deg <= 170.0:
        raise VideoError(f"fov_deg {fov_deg} is out of range 1..170")
    w, h = out_size
    f = pinhole_focal_px(fov_deg, w)
    u, v = np.meshgrid(np.arange(-margin_px, w + margin_px) + 0.5, np.arange(-margin_px, h + margin_px) + 0.5)
    rays = np.stack([(u - w / 2) / f, (v - h / 2) / f, np.ones_like(u)], -1)
    if proxy is not None and proxy.shift_m != 0.0:
        rays = proxy.hit(rays)
    x, y = lens.project(rays, in_size)
    return x.astype(np.float32), y.astype(np.float32)


def sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of img (H, W) or (H, W, C) at pixel-index coordinates x, y (any shape), float32;
    coordinates outside are clamped to the border."""
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int32), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int32), max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    if img.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    src = img.astype(np.float32, copy=False)
    top = src[y0, x0] * (1 - fx) + src[y0, x1] * fx
    return top * (1 - fy) + (src[y1, x0] * (1 - fx) + src[y1, x1] * fx) * fy


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# -- optical flow ----------------------------------------------------------------------------


def grey(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float32 luma in 0..1."""
    return (rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0


def _box(img: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window (edges replicated), by summed-area table."""
    pad = np.pad(img, ((r + 1, r), (r + 1, r)) + ((0, 0),) * (img.ndim - 2), mode="edge")
    c = pad.cumsum(0).cumsum(1)
    k = 2 * r + 1
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return s / (k * k)


def _half(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    img = np.pad(img, ((0, h % 2), (0, w % 2)) + ((0, 0),) * (img.ndim - 2), mode="edge")
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def resize_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A flow field (h, w, 2) resampled to (H, W) with its vectors scaled to the new pixels."""
    h, w = flow.shape[:2]
    H, W = shape
    sx, sy = W / w, H / h
    yy, xx = np.meshgrid((np.arange(H) + 0.5) / sy - 0.5, (np.arange(W) + 0.5) / sx - 0.5, indexing="ij")
    out = sample(flow, xx, yy)
    out[..., 0] *= sx
    out[..., 1] *= sy
    return out


def optical_flow(a: np.ndarray, b: np.ndarray, iters: int = 3, radius: int = 3, min_side_px: int = 12) -> np.ndarray:
    """Dense flow (H, W, 2) from grey image a to b (H, W) floats: a(x) ≈ b(x + flow(x)). Pyramidal
    Lucas–Kanade: each level refines the coarser level's flow by a few warped least-squares steps,
    with the mean gradient of a and the warped b (second-order convergence for a translation)."""
    pyr = [(a.astype(np.float32), b.astype(np.float32))]
    while min(pyr[-1][0].shape) >= 2 * min_side_px:
        pyr.append((_half(pyr[-1][0]), _half(pyr[-1][1])))
    flow = np.zeros(pyr[-1][0].shape + (2,), np.float32)
    for la, lb in reversed(pyr):
        if flow.shape[:2] != la.shape:
            flow = resize_flow(flow, la.shape)
        gay, gax = np.gradient(la)
        yy, xx = np.mgrid[0:la.shape[0], 0:la.shape[1]].astype(np.float32)
        for _ in range(iters):
            bw = sample(lb, xx + flow[..., 0], yy + flow[..., 1])
            gby, gbx = np.gradient(bw)
            gx, gy, it = 0.5 * (gax + gbx), 0.5 * (gay + gby), bw - la
            ixx, iyy, ixy = _box(gx * gx, radius), _box(gy * gy, radius), _box(gx * gy, radius)
            bx, by = _box(gx * it, radius), _box(gy * it, radius)
            lam = 1e-3 * float(np.mean(ixx + iyy)) + 1e-12  # damps only textureless windows
            ixx, iyy = ixx + lam, iyy + lam
            det = ixx * iyy - ixy * ixy
            flow[..., 0] -= (iyy * bx - ixy * by) / det
            flow[..., 1] -= (ixx * by - ixy * bx) / det
        flow = _box(flow, 1)
    return flow


def interpolate(a: np.ndarray, b: np.ndarray, flow_ab: np.ndarray, alpha: float) -> np.ndarray:
    """The frame at fraction `alpha` between a and b (H, W, C), float32: each pixel is met half-way
    along its flow, a sampled alpha back and b (1 - alpha) ahead, cross-faded."""
    h, w = a.shape[:2]
    if flow_ab.shape[:2] != (h, w):
        flow_ab = resize_flow(flow_ab, (h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fa = sample(a, xx - alpha * flow_ab[..., 0], yy - alpha * flow_ab[..., 1])
    fb = sample(b, xx + (1 - alpha) * flow_ab[..., 0], yy + (1 - alpha) * flow_ab[..., 1])
    return (1 - alpha) * fa + alpha * fb


def small_grey(rgb: np.ndarray, side_px: int = FLOW_SIDE_PX) -> np.ndarray:
    """Luma downsampled (area average) so the long side is at most side_px, for flow."""
    from PIL import Image

    g = grey(rgb)
    h, w = g.shape
    s = min(1.0, side_px / max(h, w))
    if s == 1.0:
        return g
    return np.asarray(Image.fromarray(g, mode="F").resize((max(8, round(w * s)), max(8, round(h * s))),
                                                          Image.BOX), np.float32)


# -- motion: stabilisation, speed, retiming, gait ----------------------------------------------


def fit_similarity(flow: np.ndarray, rows: slice | None = None) -> np.ndarray:
    """Least-squares (tx, ty, roll_rad, scale) of a flow field (H, W, 2) about the image centre,
    refitted once without the worst third (moving objects, parallax); `rows` limits the fit."""
    h, w = flow.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xx, yy = xx + 0.5 - w / 2, yy + 0.5 - h / 2
    if rows is not None:
        flow, xx, yy = flow[rows], xx[rows], yy[rows]
    x, y = xx.ravel(), yy.ravel()
    u, v = flow[..., 0].ravel(), flow[..., 1].ravel()
    one, zero = np.ones_like(x), np.zeros_like(x)
    A = np.concatenate([np.stack([one, zero, -y, x], 1), np.stack([zero, one, x, y], 1)])
    rhs = np.concatenate([u, v])
    keep = np.ones(len(rhs), bool)
    for _ in range(2):
        p = np.linalg.lstsq(A[keep], rhs[keep], rcond=None)[0]
        res = np.abs(A @ p - rhs)
        keep = res <= np.quantile(res, 0.67)
    return p


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with odd (point-mirror) padding, so steady motion (a ramp)
    is kept exactly and only the jitter is removed."""
    values = np.asarray(values, np.float64)
    if sigma <= 0 or len(values) < 3:
        return values.copy()
    r = int(min(3 * sigma, len(values) - 1))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    head = 2 * values[0] - values[r:0:-1]
    tail = 2 * values[-1] - values[-2:-r - 2:-1]
    padded = np.concatenate([head, values, tail])
    out = np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(padded.shape[1])], 1) \
        if padded.ndim == 2 else np.convolve(padded, k, mode="valid")
    return out


def ground_speed_mps(flow: np.ndarray, f_px: float, camera_height_m: float, fps: float) -> float:
    """Forward speed from the road's vertical flow in a level pinhole view (flow in that view's pixels):
    a road point r rows below the horizon is f·h/r metres ahead, and coming dz nearer moves it
    r²·dz/(f·h) rows down, so dz = flow_v·f·h/r². Median over the bottom quarter's middle, less
    its last eighth: there the road leaves the frame and pyramidal flow reads it 2-4x too fast
    (a road image warped by a known motion: 9.9 m/s for 8 with those rows, 8.15 without)."""
    h, w = flow.shape[:2]
    r = np.arange(h) + 0.5 - h / 2
    rows = (r > 0.25 * h) & (np.arange(h) < h - max(4, round(h / 8)))
    fv = flow[rows, int(0.2 * w): int(0.8 * w), 1]
    dz = fv * f_px * camera_height_m / r[rows, None] ** 2
    return float(np.median(dz) * fps)


def retime_positions(n_src: int, src_speed_mps: float, speed_mps: float, reverse: bool = False) -> np.ndarray:
    """Fractional source-frame positions of the output frames (same frame rate) that make a drive at
    src_speed_mps look like motion at speed_mps; reversed when asked (the same frames, backwards)."""
    if not (src_speed_mps > 0 and speed_mps > 0):
        raise VideoError(f"speeds must be positive (source {src_speed_mps} m/s, target {speed_mps} m/s)")
    step = speed_mps / src_speed_mps
    pos = np.arange(0.0, n_src - 1 + 1e-9, step)
    return pos[::-1].copy() if reverse else pos


def gait_offsets_px(t_s: np.ndarray, step_hz: float, bob_deg: float, sway_deg: float, f_px: float) -> np.ndarray:
    """(N, 2) image offsets (x, y) of a walker's head: bob up and down once per step, sway side to
    side once per stride (two steps), as small pitch and yaw angles."""
    w = 2 * np.pi * step_hz * np.asarray(t_s, np.float64)
    dy = f_px * np.tan(np.radians(bob_deg)) * np.cos(w)
    dx = f_px * np.tan(np.radians(sway_deg)) * np.sin(0.5 * w)
    return np.stack([dx, dy], 1)


# -- the walk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkOptions:
    """Everything `footage_walk` does; sizes in pixels, angles in degrees, speeds in m/s.
    `source_speed_mps` is the car's speed; None measures it from the road's flow with the dash-cam's
    `camera_height_m` (level camera, road ahead in the lower middle of the view)."""

    fov_deg: float = 60.0
    speed_mps: float = 1.4
    reverse: bool = False
    sidewalk: str | None = None
    sidewalk_offset_m: float = 2.5
    lens: Lens = field(default_factory=Lens)
    size_px: tuple[int, int] | None = None
    source_speed_mps: float | None = None
    camera_height_m: float = 1.4
    stabilise: bool = True
    stabilise_sigma_s: float = 0.5
    step_hz: float = 1.95
    bob_deg: float = 0.35
    sway_deg: float = 0.25
    margin: float = 0.06

    def check(self) -> None:
        self.lens.check()
        if self.sidewalk not in (None, "left", "right"):
            raise VideoError(f"sidewalk '{self.sidewalk}' is unknown; accepted: left, right")
        for name in ("speed_mps", "camera_height_m", "step_hz"):
            if not getattr(self, name) > 0:
                raise VideoError(f"{name} must be positive, got {getattr(self, name)}")
        if self.source_speed_mps is not None and not self.source_speed_mps > 0:
            raise VideoError(f"source_speed_mps must be positive, got {self.source_speed_mps}")
        if not 0 <= self.margin <= 0.25:
            raise VideoError(f"margin must be in 0..0.25 of the width, got {self.margin}")


def _out_size(opts: WalkOptions, in_size: tuple[int, int]) -> tuple[int, int]:
    from .encode import check_video_size

    w, h = opts.size_px or in_size
    return check_video_size((w - w % 2, h - h % 2))


def _analyse(video, opts: WalkOptions, out_size, margin_px: int, store: Path, fps: float):
    """Pass 1: undistort every frame into `store` (raw uint8, margin included) and measure, on the
    unshifted view, the image motion between neighbours and the road-flow speed of each pair
    → (count, (N-1, 4) similarity params, per-pair speeds in m/s)."""
    maps = level = None
    motion, speeds, prev, n = [], [], None, 0
    with open(store, "wb") as raw:
        for frame in video.frames():
            if maps is None:
                in_size = (frame.rgb.shape[1], frame.rgb.shape[0])
                shift = {"left": -1.0, "right": 1.0}.get(opts.sidewalk, 0.0) * opts.sidewalk_offset_m
                proxy = StreetProxy(shift, opts.camera_height_m)
                maps = view_map(opts.lens, in_size, opts.fov_deg, out_size, margin_px, proxy)
                level = view_map(opts.lens, in_size, opts.fov_deg, out_size) if shift else None
            view = to_uint8(sample(frame.rgb, *maps))
            raw.write(view.tobytes())
            flat = view[margin_px:view.shape[0] - margin_px, margin_px:view.shape[1] - margin_px] \
                if level is None else to_uint8(sample(frame.rgb, *level))
            g = small_grey(flat)
            if prev is not None:
                fl = optical_flow(prev, g)
                motion.append(fit_similarity(fl, slice(0, int(0.55 * fl.shape[0]))))  # above the road
                f = pinhole_focal_px(opts.fov_deg, out_size[0]) * fl.shape[1] / out_size[0]
                speeds.append(ground_speed_mps(fl, f, opts.camera_height_m, fps))
            prev, n = g, n + 1
    return n, np.array(motion).reshape(-1, 4), speeds


def _corrections(motion: np.ndarray, fps: float, opts: WalkOptions) -> np.ndarray:
    """Per source frame (N, 3) image corrections (dx, dy, roll) that cancel the jitter: the smoothed
    accumulated motion minus the accumulated motion."""
    path = np.vstack([np.zeros(3), np.cumsum(motion[:, :3], 0)]) if len(motion) else np.zeros((1, 3))
    if not opts.stabilise:
        return np.zeros_like(path)
    return smooth(path, opts.stabilise_sigma_s * fps) - path


def footage_walk(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str], opts: WalkOptions) -> dict:
    """Turn a dash-cam drive into a walk (see the module note); returns figures of what was done."""
    from citywalk.media import VideoFile

    from .encode import VideoWriter

    opts.check()
    video = VideoFile(in_path, VideoError, "footage")
    info = video.probe()
    fps = info.fps or 30.0
    out_size = _out_size(opts, (info.width, info.height))
    m = int(round(opts.margin * out_size[0]))
    with tempfile.TemporaryDirectory(prefix="citywalk-footage-") as tmp:
        store = Path(tmp) / "frames.raw"
        n, motion, speeds = _analyse(video, opts, out_size, m, store, fps)
        frames = np.memmap(store, np.uint8, "r", shape=(n, out_size[1] + 2 * m, out_size[0] + 2 * m, 3))
        src_speed = opts.source_speed_mps
        if src_speed is None:
            src_speed = float(np.median(speeds)) if speeds else float("nan")
            if not (np.isfinite(src_speed) and src_speed > 0.5):
                raise VideoError(f"footage {in_path}: the car's speed could not be measured from the road "
                                 f"({src_speed:.2f} m/s); give --source-speed-mps")
        corr = _corrections(motion, fps, opts)
        pos = retime_positions(n, src_speed, opts.speed_mps, opts.reverse)
        f_px = pinhole_focal_px(opts.fov_deg, out_size[0])
        out_fps = max(1, int(round(fps)))
        gait = gait_offsets_px(np.arange(len(pos)) / out_fps, opts.step_hz, opts.bob_deg, opts.sway_deg, f_px)
        writer = VideoWriter(out_path, out_fps, out_size, crf=18)
        try:
            _write_walk(writer, frames, pos, corr, gait, out_size, m)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        del frames
    jitter = float(np.sqrt((np.diff(corr[:, :2], axis=0) ** 2).sum(1).mean())) if len(corr) > 1 else 0.0
    return {"frames_in": n, "frames_out": len(pos), "fps": out_fps, "duration_in_s": n / fps,
            "duration_out_s": len(pos) / out_fps, "source_speed_mps": src_speed,
            "speed_measured": opts.source_speed_mps is None,
            "speed_mps": opts.speed_mps, "fov_deg": opts.fov_deg, "size": list(out_size), "reverse": opts.reverse,
            "sidewalk": opts.sidewalk, "step_hz": opts.step_hz, "stabilise_rms_px_per_frame": jitter}


def _write_walk(writer, frames, pos, corr, gait, out_size, m) -> None:
    """Pass 2: each output frame interpolated at its source position, then cropped with the
    stabilising correction and the gait offset (one bilinear resampling)."""
    w, h = out_size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 - 0.5, h / 2 - 0.5
    cached = (-1, None)
    for k, p in enumerate(pos):
        i = min(int(np.floor(p)), len(frames) - 1)
        a = p - i
        if a < 1e-3 or i + 1 >= len(frames):
            img = frames[i].astype(np.float32)
        else:
            if cached[0] != i:
                cached = (i, optical_flow(small_grey(frames[i]), small_grey(frames[i + 1])))
            img = interpolate(frames[i], frames[i + 1], cached[1], a)
        c = corr[i] * (1 - a) + corr[min(i + 1, len(corr) - 1)] * a
        dx, dy = c[0] + gait[k, 0], c[1] + gait[k, 1]
        cos, sin = np.cos(c[2]), np.sin(c[2])
        # output pixel → rotate by the roll correction about the centre, shift, into the margin frame
        sx = cos * (xx - cx) - sin * (yy - cy) + cx - dx + m
        sy = sin * (xx - cx) + cos * (yy - cy) + cy - dy + m
        writer.write(to_uint8(sample(img, sx, sy)))


# -- training clips --------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetOptions:
    """How drives are cut: clip length, spacing of clip starts (None: back to back), the normalised
    view (lens in, field of view and size out) and an optional frame rate to resample to."""

    clip_s: float = 4.0
    stride_s: float | None = None
    fov_deg: float = 60.0
    size_px: tuple[int, int] = (256, 144)
    lens: Lens = field(default_factory=Lens)
    fps: float | None = None

    def check(self) -> None:
        self.lens.check()
        if not self.clip_s > 0 or (self.stride_s is not None and not self.stride_s > 0):
            raise VideoError(f"clip_s and stride_s must be positive, got {self.clip_s} and {self.stride_s}")
        if self.fps is not None and not 0 < self.fps <= 240:
            raise VideoError(f"fps must be in (0, 240], got {self.fps}")


def cut_dataset(in_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], opts: DatasetOptions) -> Path:
    """Cut every video in `in_dir` into fixed-length clips of one view in `out_dir`, and write
    `out_dir/manifest.json` listing them → its path."""
    from .encode import VideoWriter, check_video_size

    opts.check()
    check_video_size(opts.size_px)
    src = Path(in_dir)
    if not src.is_dir():
        raise VideoError(f"footage dataset: {src} is not a folder of videos")
    videos = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise VideoError(f"footage dataset: {src} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    out = Path(out_dir)
    clips = []
    for path in videos:
        for k, (start_s, frames, fps) in enumerate(_clip_stream(path, opts)):
            name = f"{path.stem}_{k:04d}.mp4"
            with VideoWriter(out / name, max(1, int(round(fps))), opts.size_px, crf=18) as writer:
                for f in frames:
                    writer.write(f)
            clips.append({"path": name, "source": str(path), "start_s": round(start_s, 6), "frames": len(frames),
                          "fps": fps})
    manifest = {"version": MANIFEST_VERSION, "fov_deg": opts.fov_deg, "size": list(opts.size_px),
                "lens": asdict(opts.lens), "clip_s": opts.clip_s, "clips": clips}
    return write_manifest(out / "manifest.json", manifest)


def _clip_stream(path: Path, opts: DatasetOptions):
    """Full clips of one video → (start_s, frames, fps), a clip starting every stride, the video
    resampled to opts.fps by taking the nearest source frame for each output time."""
    from collections import deque

    from citywalk.media import VideoFile

    video = VideoFile(path, VideoError, "footage")
    src_fps = video.probe().fps or 30.0
    fps = float(opts.fps or src_fps)
    n_clip = max(2, int(round(opts.clip_s * fps)))
    stride = max(1, int(round((opts.stride_s or opts.clip_s) * fps)))
    maps, buf, j = None, deque(maxlen=n_clip), 0
    for frame in video.frames():
        if maps is None:
            maps = view_map(opts.lens, (frame.rgb.shape[1], frame.rgb.shape[0]), opts.fov_deg, opts.size_px)
        view = None
        while round(j * src_fps / fps) <= frame.index:
            view = view if view is not None else to_uint8(sample(frame.rgb, *maps))
            buf.append(view)
            start = j - n_clip + 1
            if start >= 0 and start % stride == 0:
                yield start / fps, list(buf), fps
            j += 1


def write_manifest(path: str | os.PathLike[str], manifest: dict) -> Path:
    """Write a clip manifest (JSON) atomically."""
    from citywalk.tracks import atomic_write

    text = json.dumps(manifest, indent=1)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_manifest(path: str | os.PathLike[str]) -> dict:
    """Read and check a clip manifest written by `cut_dataset`; clip paths are resolved beside it."""
    from citywalk.safeio import read_text_capped

    p = Path(path)
    try:
        doc = json.loads(read_text_capped(p, 64 * 1024 * 1024, "clip manifest", VideoError))
    except json.JSONDecodeError as exc:
        raise VideoError(f"clip manifest {p}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != MANIFEST_VERSION or not isinstance(doc.get("clips"), list):
        raise VideoError(f"clip manifest {p}: expected version {MANIFEST_VERSION} with a 'clips' list")
    for i, clip in enumerate(doc["clips"]):
        if not isinstance(clip, dict) or not {"path", "source", "start_s", "frames", "fps"} <= set(clip):
            raise VideoError(f"clip manifest {p}: clip {i} needs path, source, start_s, frames and fps")
        clip["file"] = str(p.parent / clip["path"])
    return doc
