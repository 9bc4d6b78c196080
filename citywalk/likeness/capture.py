"""Likeness capture: a phone clip or photo of a person → an Actor (RGBA frames, foot anchors,
metric scale, pose landmarks and a seamless walking loop).

Everything runs locally: the video, the mattes and the resulting `.actor` file never leave
this machine, and no model or data is downloaded (MediaPipe 0.10.14 ships its selfie
segmentation and pose models inside the wheel; `model_complexity=2` would download, so it is
never used).  Without MediaPipe a plain backdrop still works (chroma key or median background).

Pipeline per frame (streamed, so memory follows the person's size rather than the clip's):
decode (≤ 720 px tall) → coarse mask (selfie segmentation | chroma | background) → soft alpha
(fast guided filter) → temporal smoothing (frame-difference guided) → pose landmarks → crop.
Decode, the models' input, segmentation and pose run on a worker thread a few frames ahead of
the NumPy matte (MediaPipe releases the GIL: two cores, the same actor); the selfie mask stays
at model resolution and only the parts the matte reads are upsampled.
Then the clip-wide steps: scale from height_m, gait period from ankle oscillation
(autocorrelation), loop in/out frames minimising the appearance jump.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import MissingExtra
from . import matte
from .actor import MAX_FRAMES, N_LANDMARKS, Actor, Cycle, LikenessError

METHODS = ("auto", "mediapipe", "chroma", "background")
MAX_PROCESS_HEIGHT_PX = 720  # frames are downscaled to at most this height
MAX_SOURCE_SIDE_PX = 8192  # larger sources are refused before decoding
MIN_SOURCE_SIDE_PX = 16
MAX_SOURCE_BYTES = 4 * 1024**3
MAX_DURATION_S = 30 * 60  # clips longer than this are refused (only max_frames are read anyway)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
ALPHA_MIN = 2.0 / 255.0  # alpha below this counts as empty when cropping
MAX_CAPTURE_PIXELS = 400_000_000  # person-crop pixels held over a clip (~1.6 GB RGBA)

# MediaPipe pose landmark indices (BlazePose topology).
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 11, 12, 23, 24
L_ANKLE, R_ANKLE, L_HEEL, R_HEEL, L_FOOT, R_FOOT = 27, 28, 29, 30, 31, 32
# Fractions of standing height from the head top down to a joint (Drillis & Contini tables).
HEAD_TO_HIP_FRAC, HEAD_TO_SHOULDER_FRAC = 0.47, 0.182
VISIBLE = 0.5
SCALE_MODES = ("feet", "hips", "shoulders", "mask")

Progress = Callable[[float, str], None]
STAGES = ("decode", "segmentation", "matte", "pose", "cycle")
AHEAD_FRAMES = 4  # frames the model thread may run ahead of the matte (a few 720p frames of memory)


class _StageClock:
    """Adds each stage's wall seconds to `times[stage]` and, when `cpu`, process CPU seconds (all
    threads, so only meaningful while stages do not overlap) to `times[stage + "_cpu"]`."""

    def __init__(self, times: dict[str, float], cpu: bool = True):
        self.times, self.cpu = times, cpu
        for k in STAGES:
            times.setdefault(k, 0.0)

    @contextlib.contextmanager
    def __call__(self, stage: str):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.times[stage] = self.times.get(stage, 0.0) + time.perf_counter() - wall0
            if self.cpu:
                self.times[stage + "_cpu"] = self.times.get(stage + "_cpu", 0.0) + time.process_time() - cpu0


class _Ahead:
    """Runs an iterator on a worker thread up to `n` items ahead of its consumer, in order;
    an exception in the worker re-raises in the consumer.  MediaPipe releases the GIL while it
    runs, so the models and the NumPy matte use two cores."""

    def __init__(self, source: Iterator, n: int):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, n))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), name="likeness-models", daemon=True)
        self._thread.start()

    def _run(self, source: Iterator) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(("error", e))
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator: release the video it decodes now
                close()

    def _put(self, message: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        """Stops the worker after its current item and waits for it (before the models close)."""
        self._stop.set()
        self._thread.join()


@dataclasses.dataclass
class _Clip:
    """Decoded source description: frame iterator factory, rate, count estimate and size."""

    name: str
    fps: float
    n_frames: int
    still: bool
    frames: Callable[[], Iterator[np.ndarray]]


# ---------------------------------------------------------------------------- decoding
def _process_size(width: int, height: int, name: str) -> tuple[int, int]:
    """Checks a source size and returns the processing size (≤ 720 px tall, even width)."""
    if not (MIN_SOURCE_SIDE_PX <= width <= MAX_SOURCE_SIDE_PX and MIN_SOURCE_SIDE_PX <= height <= MAX_SOURCE_SIDE_PX):
        raise LikenessError(f"'{name}' is {width}x{height} px; each side must be within "
                            f"{MIN_SOURCE_SIDE_PX}..{MAX_SOURCE_SIDE_PX} px")
    if height <= MAX_PROCESS_HEIGHT_PX:
        return width, height
    scale = MAX_PROCESS_HEIGHT_PX / height
    return max(2, int(round(width * scale / 2)) * 2), MAX_PROCESS_HEIGHT_PX


def _resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-filtered resize of `(H, W, 3) uint8` (no-op when already that size)."""
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BOX))


def _open_array(source: np.ndarray, fps: float, max_frames: int) -> _Clip:
    """An in-memory `(H, W, 3)` photo or `(T, H, W, 3)` clip (uint8 RGB)."""
    a = np.asarray(source)
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or a.shape[-1] != 3:
        raise LikenessError(f"array source must be (H, W, 3) or (T, H, W, 3) uint8 RGB, got {a.shape} {a.dtype}")
    still = a.ndim == 3
    clip = a[None] if still else a[:max_frames]
    if clip.shape[0] == 0:
        raise LikenessError("array source has zero frames")
    w, h = _process_size(clip.shape[2], clip.shape[1], "array source")
    return _Clip("array", fps, clip.shape[0], still, lambda: (_resize_rgb(f, w, h) for f in clip))


def _open_image(path: Path) -> _Clip:
    """A photo file read with Pillow (size checked before pixels are decoded)."""
    try:
        with Image.open(path) as im:
            w0, h0 = im.size
            w, h = _process_size(w0, h0, str(path))
            im.draft("RGB", (w, h))  # cheap JPEG downscale on decode
            rgb = np.asarray(im.convert("RGB"))
    except LikenessError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise LikenessError(f"cannot read photo '{path}': {e} (expected a PNG/JPEG/WebP image)") from e
    rgb = _resize_rgb(rgb, w, h)
    return _Clip(path.name, 24.0, 1, True, lambda: iter([rgb]))


def _open_video(path: Path, max_frames: int) -> _Clip:
    """A video file decoded with PyAV; probes size, rate and duration up front."""
    from ..media import VideoFile

    video = VideoFile(path, LikenessError, "cannot decode video", "an MP4/MOV/WebM clip or a photo")
    info = video.probe()
    if info.duration_s > MAX_DURATION_S:
        raise LikenessError(f"video '{path}' lasts {info.duration_s:.0f} s; at most {MAX_DURATION_S} s is accepted "
                            "(trim it to the walk)")
    if not (0 < info.fps <= 240):
        raise LikenessError(f"video '{path}' reports {info.fps} fps; 1..240 fps is accepted")
    size_px = _process_size(info.width, info.height, str(path))
    n_est = info.frame_count or int(round(info.duration_s * info.fps))

    def frames() -> Iterator[np.ndarray]:
        return (f.rgb for f in video.frames(max_frames, size_px, keep_truncated_tail=True))

    return _Clip(path.name, info.fps, max(1, min(n_est or max_frames, max_frames)), False, frames)


def _open_source(source: str | Path | np.ndarray, max_frames: int, fps: float) -> _Clip:
    """Dispatches on the source type; raises LikenessError for missing/oversized files."""
    if isinstance(source, np.ndarray):
        return _open_array(source, fps, max_frames)
    path = Path(source)
    from ..safeio import check_size

    if check_size(path, MAX_SOURCE_BYTES, "likeness source (a video or photo file)", LikenessError) == 0:
        raise LikenessError(f"likeness source '{path}' is empty (zero bytes)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _open_image(path)
    return _open_video(path, max_frames)


# ---------------------------------------------------------------------------- models
def _import_mediapipe(feature: str):
    """MediaPipe, imported on first use; MissingExtra names the 'likeness' extra."""
    from .quiet import native_stderr_silenced, quiet_environment, silence_absl

    quiet_environment()
    try:
        with native_stderr_silenced():
            import mediapipe as mp
    except ImportError as e:
        raise MissingExtra("mediapipe", "likeness", feature) from e
    silence_absl()
    return mp


def mediapipe_available() -> bool:
    """True when MediaPipe imports (the ML segmentation and pose path can run)."""
    try:
        _import_mediapipe("probe")
        return True
    except MissingExtra:
        return False


class _CoarseMask:
    """A coarse person mask in [0, 1] that stands for its bilinear resize to the frame size
    (`matte.resize_float`); only the parts the matte reads are computed."""

    def __init__(self, mask: np.ndarray, frame_w: int, frame_h: int):
        self.mask, self.shape = np.asarray(mask, np.float32), (int(frame_h), int(frame_w))

    def grid(self, step: int) -> np.ndarray:
        """Every `step`-th row and column of the frame-size mask."""
        if self.mask.shape == self.shape:
            return self.mask[::step, ::step]
        return matte.resized_grid(self.mask, self.shape[1], self.shape[0], step)

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """The frame-size mask's [y0:y1, x0:x1] window."""
        if self.mask.shape == self.shape:
            return self.mask[y0:y1, x0:x1]
        return matte.resized_crop(self.mask, self.shape[1], self.shape[0], (x0, y0, x1, y1))


class _Segmenter:
    """Coarse person mask per frame: `(H, W, 3) uint8` → a `_CoarseMask` of the frame's size."""

    def __init__(self, method: str, clip: _Clip):
        self.method = method
        self._seg = self._key = self._bg = None
        if method == "mediapipe":
            mp = _import_mediapipe("Person segmentation (method='mediapipe')")
            self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        elif method == "background":
            sample = list(_sample_frames(clip, 25))
            if len(sample) < 2:
                raise LikenessError(f"'{clip.name}': method='background' needs a video in which the person "
                                    "moves over a still backdrop; use method='chroma' for a plain backdrop photo")
            self._bg = matte.median_background(np.stack(sample))

    def __call__(self, rgb: np.ndarray, small: np.ndarray | None = None) -> _CoarseMask:
        """small: the frame at model resolution (the selfie model works at 256 px anyway)."""
        h, w = rgb.shape[:2]
        if self._seg is not None:  # copied: the matte reads it while the models move on
            mask = np.array(self._seg.process(rgb if small is None else small).segmentation_mask, np.float32)
            return _CoarseMask(mask, w, h)
        if self._bg is not None:
            return _CoarseMask(matte.background_mask(rgb, self._bg), w, h)
        if self._key is None:
            self._key = matte.border_colour(rgb)
        return _CoarseMask(matte.chroma_mask(rgb, self._key), w, h)

    def close(self) -> None:
        if self._seg is not None:
            self._seg.close()


def _sample_frames(clip: _Clip, n: int) -> Iterator[np.ndarray]:
    """Up to n frames spread through the clip (one extra decoding pass for files)."""
    step = max(1, clip.n_frames // n)
    for i, f in enumerate(clip.frames()):
        if i % step == 0:
            yield f


class _Pose:
    """MediaPipe pose (model_complexity=1, bundled) → `(33, 3) float32` (x px, y px, visibility)."""

    def __init__(self, still: bool):
        mp = _import_mediapipe("Body landmarks")
        self._pose = mp.solutions.pose.Pose(static_image_mode=still, model_complexity=1,
                                            smooth_landmarks=True, enable_segmentation=False)

    def __call__(self, rgb: np.ndarray, full_size: tuple[int, int]) -> tuple[np.ndarray, float]:
        """rgb: the frame (any scale); full_size: (w, h) the landmarks are returned in.
        → (landmarks `(33, 3)`, the person's yaw in degrees from the world landmarks, or NaN)."""
        from .views import yaw_from_world

        out = np.full((N_LANDMARKS, 3), np.nan, np.float32)
        yaw = float("nan")
        with warnings.catch_warnings():  # protobuf deprecation noise from mediapipe 0.10.14
            warnings.simplefilter("ignore", UserWarning)
            res = self._pose.process(rgb)
        if res.pose_landmarks is not None:
            w, h = full_size
            for i, lm in enumerate(res.pose_landmarks.landmark[:N_LANDMARKS]):
                out[i] = (lm.x * w, lm.y * h, lm.visibility)
        if res.pose_world_landmarks is not None:
            world = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark[:N_LANDMARKS]], float)
            yaw = yaw_from_world(world, float(out[NOSE, 2]))
        return out, yaw

    def close(self) -> None:
        self._pose.close()


def _model_input(rgb: np.ndarray, max_height_px: int = 360) -> np.ndarray:
    """The frame halved (repeatedly) to ≤ max_height_px for the MediaPipe models, which work
    at 256 px internally: less copying, the same masks and landmarks."""
    im, k = Image.fromarray(rgb), 1
    while rgb.shape[0] // k > max_height_px:
        k *= 2
    return rgb if k == 1 else np.asarray(im.reduce(k))


def _choose_method(method: str, clip: _Clip, first: np.ndarray) -> str:
    """Resolves method='auto': MediaPipe when installed, else chroma for a uniform border,
    else background subtraction for a video."""
    if method not in METHODS:
        raise LikenessError(f"method '{method}' is unknown; use one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    if mediapipe_available():
        return "mediapipe"
    border = np.concatenate([first[:4].reshape(-1, 3), first[:, :4].reshape(-1, 3), first[:, -4:].reshape(-1, 3)])
    if float(border.astype(np.float32).std(axis=0).max()) < 12.0:
        return "chroma"
    if clip.still:
        raise MissingExtra("mediapipe", "likeness", "Capturing a person from a photo on a busy background")
    return "background"


# ---------------------------------------------------------------------------- per frame
def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) exclusive bounds of True pixels, or None when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _alpha_for_frame(rgb: np.ndarray, coarse: _CoarseMask, smoother: matte.TemporalSmoother
                     ) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Coarse mask → clean, soft, temporally smoothed alpha `(H, W) float32`, and the (rows,
    cols) slices outside which it is zero.

    Specks are removed on a ~180 px tall copy of the mask (the models' own masks are coarser),
    and only the person's neighbourhood is refined at full size, which keeps 720p fast."""
    h, w = coarse.shape
    s = max(1, h // 180)
    core = matte.main_components(matte.clean_mask(coarse.grid(s), radius_px=1))
    box = _bbox(core)
    alpha = np.zeros((h, w), np.float32)
    if box is None:
        return smoother(rgb, alpha), (slice(0, h), slice(0, w))
    pad = max(8, h // 30)
    x0, y0 = max(0, box[0] * s - pad), max(0, box[1] * s - pad)
    x1, y1 = min(w, box[2] * s + pad), min(h, box[3] * s + pad)
    # Keep only the main body (plus a margin for soft edges) before refining.
    near = matte.box_mean(core.astype(np.float32), max(1, pad // (2 * s))) > 0
    support = np.repeat(np.repeat(near, s, axis=0), s, axis=1)[y0:y1, x0:x1]
    sub = np.where(support, coarse.crop(x0, y0, x1, y1), 0.0).astype(np.float32)
    alpha[y0:y1, x0:x1] = matte.refine_alpha(rgb[y0:y1, x0:x1], sub) * support
    prev = smoother.prev_roi
    roi_y = slice(min(y0, prev[0].start), max(y1, prev[0].stop)) if prev else slice(y0, y1)
    roi_x = slice(min(x0, prev[1].start), max(x1, prev[1].stop)) if prev else slice(x0, x1)
    smoother.prev_roi = (slice(y0, y1), slice(x0, x1))
    return smoother(rgb, alpha, (roi_y, roi_x)), (roi_y, roi_x)


# ---------------------------------------------------------------------------- clip-wide
@dataclasses.dataclass
class _Solid:
    """The solid part (alpha > 0.5) of one frame's matte: a `(h, w) bool` crop holding all of it,
    the crop's top-left (x0, y0) in the frame, and the frame's width; results are in frame px."""

    mask: np.ndarray
    x0: int
    y0: int
    frame_w: int


def _head_top_y(solid: _Solid, lm: np.ndarray) -> float:
    """Topmost solid row of the matte, searched near the nose when landmarks exist."""
    m = solid.mask
    if np.isfinite(lm[NOSE, 0]) and np.isfinite(lm[L_SHOULDER, 0]) and np.isfinite(lm[R_SHOULDER, 0]):
        half = max(4.0, 0.6 * abs(lm[L_SHOULDER, 0] - lm[R_SHOULDER, 0]))
        x0 = int(max(0, lm[NOSE, 0] - half))
        x1 = int(min(solid.frame_w, lm[NOSE, 0] + half + 1))
        if x1 > x0:
            m = m[:, max(0, x0 - solid.x0):max(0, x1 - solid.x0)]
    rows = np.flatnonzero(m.any(axis=1))
    return float(rows[0] + solid.y0) if rows.size else float("nan")


def _scale_mode(landmarks: np.ndarray, h: int) -> str:
    """Which landmarks give the height: 'feet' when feet are seen in most frames, else
    'hips', 'shoulders', or 'mask' (no landmarks: the matte is assumed to be the whole body)."""
    vis = landmarks[..., 2]
    inside = (landmarks[..., 1] < h - 1)

    def seen(idx: list[int]) -> float:
        ok = (np.nan_to_num(vis[:, idx]) > VISIBLE) & inside[:, idx]
        return float(ok.any(axis=1).mean())

    if not np.isfinite(vis).any():
        return "mask"
    if seen([L_HEEL, R_HEEL, L_FOOT, R_FOOT]) > 0.6:
        return "feet"
    if seen([L_HIP, R_HIP]) > 0.6:
        return "hips"
    if seen([L_SHOULDER, R_SHOULDER]) > 0.6:
        return "shoulders"
    return "mask"


def _anchors(solid: _Solid, lm: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Foot anchor (x, y) and head-top-to-ground height for one frame in frame pixels, per scale
    mode (see _anchor_and_height); all NaN for an empty matte or no head top."""
    top = _head_top_y(solid, lm)
    rows = np.flatnonzero(solid.mask.any(axis=1))
    if rows.size == 0 or not np.isfinite(top):
        return {m: (float("nan"), float("nan"), float("nan")) for m in SCALE_MODES}
    cols = np.flatnonzero(solid.mask.any(axis=0)) + solid.x0
    low_cols = np.flatnonzero(solid.mask[rows[-1]]) + solid.x0
    ground = _Ground(top, float(rows[-1] + solid.y0) + 1.0, 0.5 * (cols[0] + cols[-1]),
                     float(low_cols.mean()) if low_cols.size else float("nan"))
    return {m: _anchor_and_height(ground, lm, m) for m in SCALE_MODES}


@dataclasses.dataclass
class _Ground:
    """What the matte says about one frame (frame px): head-top row, the row below the lowest
    solid row, the middle of its column span and the mean column of its lowest row."""

    top_y: float
    bottom_y: float
    centre_x: float
    low_x: float


def _anchor_and_height(g: _Ground, lm: np.ndarray, mode: str) -> tuple[float, float, float]:
    """Foot anchor (x, y) and head-top-to-ground height for one frame, in frame pixels.

    With feet in view the ground is the matte's lowest solid row under the feet; otherwise it
    is extrapolated from hips/shoulders with standard body proportions."""
    def mean_of(idx: list[int], axis: int) -> float:
        v = lm[idx, axis][np.nan_to_num(lm[idx, 2]) > VISIBLE]
        return float(v.mean()) if v.size else float("nan")

    if mode in ("feet", "mask"):
        foot_x = mean_of([L_ANKLE, R_ANKLE, L_HEEL, R_HEEL], 0) if mode == "feet" else float("nan")
        if not np.isfinite(foot_x):
            foot_x = g.low_x if np.isfinite(g.low_x) else g.centre_x
        return foot_x, g.bottom_y, g.bottom_y - g.top_y
    idx, frac = (
        ([L_HIP, R_HIP], HEAD_TO_HIP_FRAC) if mode == "hips" else ([L_SHOULDER, R_SHOULDER], HEAD_TO_SHOULDER_FRAC)
    )
    joint_y, joint_x = mean_of(idx, 1), mean_of(idx, 0)
    if not np.isfinite(joint_y) or joint_y <= g.top_y:
        return float("nan"), float("nan"), float("nan")
    height = (joint_y - g.top_y) / frac
    return (joint_x if np.isfinite(joint_x) else g.centre_x), g.top_y + height, height


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN gaps along axis 0 of `(T,)` or `(T, k)`; all-NaN stays."""
    x = np.array(x, np.float64)
    flat = x.reshape(len(x), -1)
    t = np.arange(len(x))
    for j in range(flat.shape[1]):
        ok = np.isfinite(flat[:, j])
        if ok.any() and not ok.all():
            flat[:, j] = np.interp(t, t[ok], flat[ok, j])
    return flat.reshape(x.shape)


def detect_period(signal: np.ndarray, fps: float, min_period_s: float = 0.6,
                  max_period_s: float = 2.5) -> tuple[float | None, float]:
    """Dominant period of a `(T,)` signal by normalised autocorrelation.

    Returns (period in frames, refined to sub-frame; None if no clear peak, strength = the
    autocorrelation at that lag in [-1, 1]).  Needs at least ~1.5 periods of signal."""
    x = _fill_nan(np.asarray(signal, np.float64))
    n = len(x)
    if n < 8 or not np.isfinite(x).all():
        return None, 0.0
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)  # drop drift (walking across the frame)
    if x.std() < 1e-6:
        return None, 0.0
    spec = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[:n]
    acf = acf / (acf[0] * (n - t) / n)  # unbiased, normalised to 1 at lag 0
    lo = max(2, int(np.floor(min_period_s * fps)))
    hi = min(int(np.ceil(max_period_s * fps)), int(n / 1.5))
    if hi <= lo + 1:
        return None, 0.0
    seg = acf[lo:hi + 1]
    peaks = [i for i in range(1, len(seg) - 1) if seg[i] >= seg[i - 1] and seg[i] >= seg[i + 1]]
    if not peaks:
        return None, 0.0
    best = max(peaks, key=lambda i: seg[i])
    # Prefer the first peak nearly as strong as the best (avoid locking onto 2x the period).
    first = next((i for i in peaks if seg[i] >= seg[best] - 0.15 * abs(seg[best])), best)
    k = lo + first
    y0, y1, y2 = acf[k - 1], acf[k], acf[k + 1]
    denom = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if abs(denom) > 1e-12 else 0.0
    return float(k + np.clip(shift, -0.5, 0.5)), float(min(1.0, y1))


def gait_signal(landmarks: np.ndarray) -> np.ndarray | None:
    """Left-minus-right ankle offset projected on its main axis: `(T, 33, 3)` → `(T,)`.

    It oscillates once per gait cycle (two steps) whether the person is seen from the side
    (x swings) or the front (y alternates).  None when ankles are rarely visible."""
    ankles = landmarks[:, [L_ANKLE, R_ANKLE]]
    vis = np.nan_to_num(ankles[..., 2]).min(axis=1) > 0.3
    if vis.mean() < 0.7:
        return None
    d = ankles[:, 0, :2] - ankles[:, 1, :2]
    d[~vis] = np.nan
    d = _fill_nan(d)
    d = d - d.mean(axis=0)
    _, _, vt = np.linalg.svd(d, full_matrices=False)
    return d @ vt[0]


def detect_walk_cycle(landmarks: np.ndarray | None, fps: float,
                      leg_spread_px: np.ndarray | None = None,
                      min_strength: float = 0.4) -> tuple[float | None, float]:
    """Gait cycle period in frames (None when not walking) and its autocorrelation strength.

    Uses the ankle landmarks when visible, else the leg spread of the matte (whose period is
    one step, so it is doubled)."""
    sig = gait_signal(landmarks) if landmarks is not None else None
    if sig is not None:
        period, strength = detect_period(sig, fps, 0.6, 2.5)
    elif leg_spread_px is not None:
        period, strength = detect_period(np.asarray(leg_spread_px, np.float64), fps, 0.3, 1.25)
        period = None if period is None else 2.0 * period
    else:
        return None, 0.0
    if period is None or strength < min_strength:
        return None, strength
    return period, strength


def appearance_thumbs(frames_rgba: np.ndarray, anchors: np.ndarray, height_px: float,
                      size_px: tuple[int, int] = (16, 32)) -> np.ndarray:
    """Premultiplied RGBA thumbnails aligned on each frame's foot anchor: `(T, h, w, 4) float32`.

    Aligning on the anchor makes a person walking across the frame comparable frame to frame."""
    out = np.zeros((len(frames_rgba), size_px[1], size_px[0], 4), np.float32)
    hh = max(4.0, height_px)
    step = max(1, int(hh // (4 * size_px[1])))  # subsample before the exact area resize
    for i, (rgba, (ax, ay)) in enumerate(zip(frames_rgba, anchors)):
        if not (np.isfinite(ax) and np.isfinite(ay)):
            continue
        box = (int(ax - 0.45 * hh), int(ay - 1.05 * hh), int(ax + 0.45 * hh), int(ay + 0.05 * hh))
        crop = _subsampled_crop(rgba, box, step).astype(np.float32) / 255.0
        crop[..., :3] *= crop[..., 3:]
        for ch in range(4):
            out[i, ..., ch] = matte.resize_float(crop[..., ch], *size_px)
    return out


def _subsampled_crop(img: np.ndarray, box: tuple[int, int, int, int], step: int) -> np.ndarray:
    """`img[y0:y1:step, x0:x1:step]` of the (x0, y0, x1, y1) box, zeros where the box leaves
    the image (as Pillow's crop pads), without copying the rest of the image."""
    x0, y0, x1, y1 = box
    ys, xs = np.arange(y0, y1, step), np.arange(x0, x1, step)
    out = np.zeros((len(ys), len(xs)) + img.shape[2:], img.dtype)
    rows = np.flatnonzero((ys >= 0) & (ys < img.shape[0]))
    cols = np.flatnonzero((xs >= 0) & (xs < img.shape[1]))
    if rows.size and cols.size:
        out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = \
            img[ys[rows[0]]:ys[rows[-1]] + 1:step, xs[cols[0]]:xs[cols[-1]] + 1:step]
    return out


def choose_loop(thumbs: np.ndarray, period_frames: float | None) -> tuple[int, int]:
    """Loop [start, end) whose end frame looks most like its start frame, so the jump from
    end-1 back to start is as small as the step between neighbouring frames.

    Walking: the length is a whole number of gait cycles (±1 frame); otherwise any span of at
    least half the clip.  thumbs: `(T, h, w, 4)` from appearance_thumbs."""
    n = len(thumbs)
    if n < 3:
        return 0, n
    flat = thumbs.reshape(n, -1)
    if period_frames is not None and period_frames * 1.0 < n - 1:
        lengths = sorted({int(round(k * period_frames)) + d for k in range(1, int((n - 1) / period_frames) + 1)
                          for d in (-1, 0, 1)})
    else:
        lengths = list(range(max(2, n // 2), n))
    best = (np.inf, 0, n)
    for length in lengths:
        if not (2 <= length <= n - 1):
            continue
        diff = np.abs(flat[: n - length] - flat[length:]).mean(axis=1)  # start s vs frame s+length
        s = int(np.argmin(diff))
        # Slightly favour longer loops (more variety) when the match is about as good.
        cost = float(diff[s]) * (1.0 + 0.05 * (n - length) / n)
        if cost < best[0]:
            best = (cost, s, s + length)
    return (best[1], best[2]) if np.isfinite(best[0]) else (0, n)


# ---------------------------------------------------------------------------- main entry
def capture_actor(
    source: str | Path | np.ndarray,
    height_m: float,
    method: str = "auto",
    max_frames: int = 600,
    progress: Progress | None = None,
    *,
    fps: float = 24.0,
    use_pose: bool | None = None,
    timings: dict[str, float] | None = None,
    yaw_deg=None,
    model_thread: bool = True,
) -> Actor:
    """Captures a person from a video or photo as an Actor (see the module docstring).

    source: a video file (MP4/MOV…), a photo (PNG/JPEG…), or an RGB uint8 array `(H, W, 3)`
    (photo) / `(T, H, W, 3)` (clip at `fps`); height_m: the person's standing height in metres
    (gives the metric scale); method: "auto" | "mediapipe" | "chroma" | "background";
    max_frames: frames read from the start of a clip (1..3600); progress: called with
    (fraction done 0..1, stage name); use_pose: MediaPipe landmarks (default: when installed);
    timings: if given, filled with wall seconds per stage (busy time: with the model thread
    stages overlap), "frames"/"frames_cpu" for the whole per-frame part and, with
    model_thread=False, process CPU seconds per stage as "<stage>_cpu"; yaw_deg: the person's
    known yaw per frame (degrees, see `likeness.views`; e.g. from a turntable), used instead of
    the pose's estimate — without MediaPipe landmarks and without it the actor is single-view;
    model_thread: decode, segmentation and pose run on a worker thread a few frames ahead of
    the matte (the same actor either way).
    Runs offline; nothing leaves the machine.
    """
    if not (0.3 <= float(height_m) <= 2.8):
        raise LikenessError(f"height_m={height_m} is not a person's height; give metres within 0.3..2.8")
    if not (1 <= int(max_frames) <= MAX_FRAMES):
        raise LikenessError(f"max_frames={max_frames} must be within 1..{MAX_FRAMES}")
    if not (0 < fps <= 240):
        raise LikenessError(f"fps={fps} must be within (0, 240]")
    clock = _StageClock(timings if timings is not None else {}, cpu=not model_thread)
    report = progress or (lambda _f, _s: None)
    clip = _open_source(source, int(max_frames), fps)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    state = _stream_frames(clip, method, use_pose, clock, report, model_thread)
    clock.times["frames"] = time.perf_counter() - wall0  # the whole per-frame part (all threads)
    clock.times["frames_cpu"] = time.process_time() - cpu0
    with _StageClock(clock.times)("cycle"):  # alone on the CPU: its CPU seconds are its own
        actor = _assemble(clip, state, float(height_m), yaw_deg)
    report(1.0, "done")
    return actor


def capture_to_file(source: str | Path, height_m: float, output: str | Path, method: str = "auto",
                    max_frames: int = 600, progress: Progress | None = None) -> Path:
    """`citywalk likeness capture SOURCE --height-m H -o OUT.actor`: capture and save atomically."""
    out = Path(output)
    if out.suffix.lower() != ".actor":
        raise LikenessError(f"output '{out}' must end in .actor")
    return capture_actor(source, height_m, method=method, max_frames=max_frames, progress=progress).save(out)


@dataclasses.dataclass
class _Stream:
    """Per-frame results kept while streaming: crops in frame coordinates plus landmarks."""

    method: str
    frame_size: tuple[int, int]  # (w, h)
    crops: list  # (x0, y0, rgba) or None per frame
    landmarks: list
    anchors: list  # per frame: {scale mode: (foot x, foot y, height) px}
    spreads: list  # per frame: leg spread px
    yaws: list  # per frame: the person's yaw from the pose's world landmarks (deg, NaN unknown)


def _stream_frames(clip: _Clip, method: str, use_pose: bool | None, clock: _StageClock,
                   report: Progress, model_thread: bool = True) -> _Stream:
    """Runs decode → mask → alpha → pose per frame, keeping only each frame's person crop."""
    from .quiet import native_stderr_silenced

    # MediaPipe's graphs log from their own threads while they run: fd 2 stays silenced
    # from model creation until the models are closed (Python's stderr still shows).
    with native_stderr_silenced():
        return _stream_frames_quiet(clip, method, use_pose, clock, report, model_thread)


@dataclasses.dataclass
class _ModelOut:
    """One frame with its model results: coarse mask, pose landmarks and yaw."""

    frame: np.ndarray  # (H, W, 3) uint8
    coarse: _CoarseMask
    landmarks: np.ndarray  # (33, 3) float32
    yaw_deg: float


def _model_outputs(it: Iterator[np.ndarray], first: np.ndarray, segment: "_Segmenter", pose: "_Pose | None",
                   clock: _StageClock) -> Iterator[_ModelOut]:
    """Decode → model input → coarse mask → pose landmarks for each frame, in order."""
    h, w = first.shape[:2]
    frame: np.ndarray | None = first
    while frame is not None:
        with clock("segmentation"):
            small = _model_input(frame)
            coarse = segment(frame, small)
        with clock("pose"):
            lm, yaw = pose(small, (w, h)) if pose is not None else (
                np.full((N_LANDMARKS, 3), np.nan, np.float32), float("nan"))
        yield _ModelOut(frame, coarse, lm, yaw)
        with clock("decode"):
            frame = next(it, None)


def _stream_frames_quiet(clip: _Clip, method: str, use_pose: bool | None, clock: _StageClock,
                         report: Progress, model_thread: bool = True) -> _Stream:
    """_stream_frames with native logging already silenced."""
    it = clip.frames()
    with clock("decode"):
        first = next(it, None)
    if first is None:
        raise LikenessError(f"'{clip.name}' holds no frames")
    chosen = _choose_method(method, clip, first)
    if use_pose is None:
        use_pose = chosen == "mediapipe" or mediapipe_available()
    segment = _Segmenter(chosen, clip)
    pose = _Pose(clip.still) if use_pose else None
    smoother = matte.TemporalSmoother(max_keep=0.0 if clip.still else 0.6)
    h, w = first.shape[:2]
    st = _Stream(("still-" if clip.still else "") + chosen, (w, h), [], [], [], [], [])
    outputs = _model_outputs(it, first, segment, pose, clock)
    ahead = _Ahead(outputs, AHEAD_FRAMES) if model_thread and not clip.still else None
    try:
        held_px = 0
        for i, out in enumerate(ahead if ahead is not None else outputs):
            with clock("matte"):
                alpha, roi = _alpha_for_frame(out.frame, out.coarse, smoother)
                held_px += _keep_frame(st, out.frame, alpha, roi, out.landmarks)
            st.yaws.append(out.yaw_deg)
            st.landmarks.append(out.landmarks)
            if held_px > MAX_CAPTURE_PIXELS:
                raise LikenessError(f"'{clip.name}': the person crops of the first {i + 1} frames exceed "
                                    f"{MAX_CAPTURE_PIXELS} px of memory; pass a smaller max_frames")
            report(min(0.95, 0.95 * (i + 1) / max(clip.n_frames, 1)), "frames")
    finally:
        if ahead is not None:
            ahead.close()
        segment.close()
        if pose is not None:
            pose.close()
    return st


def _keep_frame(st: _Stream, frame: np.ndarray, alpha: np.ndarray, roi: tuple[slice, slice],
                lm: np.ndarray) -> int:
    """Stores one frame's person crop (RGBA, no background pixels), anchors and leg spread;
    returns the crop's pixel count.  roi: the (rows, cols) outside which alpha is zero."""
    box = _bbox(alpha[roi] >= ALPHA_MIN)
    if box is None:
        st.crops.append(None)
        empty = _Solid(np.zeros((0, 0), bool), 0, 0, frame.shape[1])
        st.anchors.append(_anchors(empty, lm))
        st.spreads.append(float("nan"))
        return 0
    x0, y0 = roi[1].start + box[0], roi[0].start + box[1]
    x1, y1 = roi[1].start + box[2], roi[0].start + box[3]
    crop = alpha[y0:y1, x0:x1]
    a8 = np.round(crop * 255).astype(np.uint8)
    rgba = np.empty(a8.shape + (4,), np.uint8)
    rgba[..., :3] = frame[y0:y1, x0:x1]
    rgba[..., 3] = a8
    rgba.view(np.uint32)[..., 0][a8 == 0] = 0  # keep no background pixels (privacy, smaller files)
    st.crops.append((x0, y0, rgba))
    solid = _Solid(crop > 0.5, x0, y0, frame.shape[1])
    st.anchors.append(_anchors(solid, lm))
    st.spreads.append(_leg_spread_px(solid.mask))
    return a8.size


def _leg_spread_px(solid: np.ndarray) -> float:
    """Horizontal extent of the solid matte (`(H, W) bool`) in its lowest 8 % (the feet): wide
    mid-step, narrow when the feet pass each other.  NaN for an empty matte."""
    rows = np.flatnonzero(solid.any(axis=1))
    if rows.size == 0:
        return float("nan")
    band0 = int(rows[-1] - 0.08 * (rows[-1] - rows[0]))
    cols = np.flatnonzero(solid[band0:rows[-1] + 1].any(axis=0))
    return float(cols[-1] - cols[0] + 1)


def _frame_yaws(st: _Stream, given) -> np.ndarray:
    """Per-frame yaw: the caller's when given (checked), else the pose's estimate."""
    n = len(st.crops)
    if given is None:
        return np.asarray(st.yaws, np.float32).reshape(n)
    y = np.asarray(given, np.float64).reshape(-1)
    if y.shape != (n,) or not np.isfinite(y).all():
        raise LikenessError(f"yaw_deg: expected {n} finite angles (one per frame read), got shape {y.shape}")
    return ((y + 180.0) % 360.0 - 180.0).astype(np.float32)


def _assemble(clip: _Clip, st: _Stream, height_m: float, yaw_deg=None) -> Actor:
    """Crops → one canvas per frame, scale, anchors, gait cycle, loop and metadata."""
    n = len(st.crops)
    boxes = [(x0, y0, x0 + c.shape[1], y0 + c.shape[0]) for x0, y0, c in (c for c in st.crops if c is not None)]
    if not boxes:
        raise LikenessError(f"no person found in '{clip.name}' (the matte is empty in every frame); "
                            "try another method or a clip where the whole body is in view")
    landmarks = np.stack(st.landmarks).astype(np.float32)
    mode = _scale_mode(landmarks, st.frame_size[1])
    cand = np.array([a[mode] for a in st.anchors], np.float64)  # (T, 3): foot x, foot y, height
    if not np.isfinite(cand).all(axis=1).any() and mode != "mask":
        mode = "mask"
        cand = np.array([a[mode] for a in st.anchors], np.float64)
    cand = _fill_nan(cand)
    if not np.isfinite(cand).all():
        raise LikenessError(f"could not find the head top and ground in '{clip.name}'")
    median_h = float(np.median(cand[:, 2]))
    if median_h < 8:
        raise LikenessError(f"the person in '{clip.name}' is only {median_h:.0f} px tall; at least 8 px needed")
    m_per_px = height_m / median_h

    canvas, origins = _walk_in_place(st.crops, boxes, cand[:, 0])
    anchors = (cand[:, :2] - origins).astype(np.float32)
    landmarks[..., :2] -= origins[:, None, :]

    if clip.still or n < 3:
        cycle = Cycle(0, n, n / clip.fps, walking=False)
    else:
        has_lm = bool(np.isfinite(landmarks[..., 2]).any())
        period, _ = detect_walk_cycle(landmarks if has_lm else None, clip.fps, np.array(st.spreads))
        start, end = choose_loop(appearance_thumbs(canvas, anchors, median_h), period)
        cycle = _make_cycle(start, end, period, clip.fps, cand[:, :2], landmarks, np.array(st.spreads), m_per_px,
                            median_h)
    return Actor(canvas, anchors, cand[:, 2].astype(np.float32), landmarks, m_per_px, height_m, clip.fps, cycle,
                 source_name=clip.name, captured_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 method=st.method, scale_from=mode, crop_origin_px=origins,
                 yaw_deg=_frame_yaws(st, yaw_deg), full_body=_shows_feet(mode, boxes, st.frame_size[1]))


def _shows_feet(mode: str, boxes: list, frame_h_px: int) -> bool:
    """Whether the capture shows the person down to the feet: seen feet landmarks, or (no
    landmarks) a matte that ends above the frame's bottom edge in most frames. A body cut by
    the frame edge (a waist-up photo) would float if stood on the ground."""
    if mode in ("hips", "shoulders"):
        return False
    if mode == "feet":
        return True
    cut = [b[3] >= frame_h_px - max(1, frame_h_px // 100) for b in boxes]
    return float(np.mean(cut)) <= 0.5


def _walk_in_place(crops: list, boxes: list, foot_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pastes the per-frame person crops into one canvas size with every frame shifted so its
    foot anchor sits at the same column: (frames `(T, H, W, 4) uint8`, origins `(T, 2)` int —
    each frame's top-left in source pixels)."""
    n = len(crops)
    fx = np.round(foot_x).astype(int)
    left = max(int(fx[i]) - c[0] for i, c in enumerate(crops) if c is not None)
    right = max(c[0] + c[2].shape[1] - int(fx[i]) for i, c in enumerate(crops) if c is not None)
    left, right = max(left, 0), max(right, 1)
    uy0, uy1 = min(b[1] for b in boxes), max(b[3] for b in boxes)
    canvas = np.zeros((n, uy1 - uy0, left + right, 4), np.uint8)
    origins = np.stack([fx - left, np.full(n, uy0)], axis=1).astype(np.int32)
    for i, c in enumerate(crops):
        if c is not None:
            x0, y0, rgba = c
            cx, cy = x0 - int(origins[i, 0]), y0 - uy0
            canvas[i, cy:cy + rgba.shape[0], cx:cx + rgba.shape[1]] = rgba
            crops[i] = None  # free each crop once copied: peak memory stays ~one clip of crops
    return canvas, origins


def _make_cycle(start: int, end: int, period: float | None, fps: float, anchors: np.ndarray,
                landmarks: np.ndarray, spreads: np.ndarray, m_per_px: float, height_px: float) -> Cycle:
    """Cycle record; stride from ground travelled over the loop when the person crosses the
    frame, else from the largest ankle (or foot-matte) separation, which is about one step."""
    if period is None:
        return Cycle(start, end, (end - start) / fps, walking=False)
    n_cycles = max(1, int(round((end - start) / period)))
    period_s = (end - start) / n_cycles / fps
    travel_px = abs(float(anchors[end - 1, 0] - anchors[start, 0])) * (end - start) / max(1, end - 1 - start)
    if travel_px / n_cycles > 0.15 * height_px:
        stride_px = travel_px / n_cycles
    else:
        sep = np.hypot(*(landmarks[:, L_ANKLE, :2] - landmarks[:, R_ANKLE, :2]).T)
        if np.isfinite(sep).sum() >= 3:
            stride_px = 2.0 * float(np.nanpercentile(sep, 95))
        else:  # matte only: widest foot spread minus about one foot length
            stride_px = 2.0 * max(0.0, float(np.nanpercentile(spreads, 95)) - 0.15 * height_px)
    return Cycle(start, end, period_s, walking=True, stride_m=round(stride_px * m_per_px, 4))
