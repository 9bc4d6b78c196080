"""The Actor: a captured person as RGBA frames with foot anchors, scale, landmarks and a
walking loop, and its single-file package (`.actor`: a zip of `actor.json` + `frames/NNNNNN.png`).

Likeness files are personal data: they are written and read only on this machine; nothing
here touches the network.  Loading is defensive (member names, counts and sizes are checked)
because an `.actor` file may come from someone else.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import LikenessError
from ..safeio import temp_beside

FORMAT = "citywalk.actor/2"  # /2 adds yaw_deg (view-indexed frames) and full_body
OLD_FORMATS = ("citywalk.actor/1",)  # still load: one view (yaw unknown)
MAX_PACKAGE_BYTES = 2 * 1024**3  # whole .actor file on disk
MAX_FRAMES = 3600  # 2.5 min at 24 fps
MAX_FRAME_SIDE_PX = 4096
MAX_TOTAL_PIXELS = 1_500_000_000  # RGBA pixels over all frames (~6 GB in memory)
MAX_JSON_BYTES = 64 * 1024**2
N_LANDMARKS = 33  # MediaPipe pose topology
_FRAME_NAME = re.compile(r"^frames/(\d{6})\.png$")


@dataclasses.dataclass
class Cycle:
    """The loop played by `Actor.frame_at`: frames [start_frame, end_frame) repeat seamlessly.

    period_s: one gait cycle (two steps) when walking, else the loop length;
    stride_m: ground covered per gait cycle (None when not walking)."""

    start_frame: int
    end_frame: int
    period_s: float
    walking: bool = False
    stride_m: float | None = None

    @property
    def speed_mps(self) -> float | None:
        """Walking speed implied by the stride and period (None when not walking)."""
        if not self.walking or self.stride_m is None or self.period_s <= 0:
            return None
        return self.stride_m / self.period_s


@dataclasses.dataclass
class Actor:
    """A person ready to be placed in a scene.

    frames_rgba: `(T, H, W, 4) uint8`, straight (not premultiplied) alpha, sRGB colour;
    foot_anchor_px: `(T, 2) float32` (x, y) pixel in each frame where the person meets the ground;
    height_px: `(T,) float32` head-top to ground in pixels;
    landmarks_px: `(T, 33, 3) float32` MediaPipe pose (x px, y px, visibility 0..1), NaN if unknown;
    m_per_px: metres per pixel at the person (from height_m); height_m: the person's height;
    fps: frame rate of the frames; cycle: the loop; method: how the matte was made
    ("mediapipe", "chroma", "background", "still-…"); scale_from: which landmarks gave the scale
    ("feet", "hips", "shoulders", "mask"); crop_origin_px: `(T, 2) int32` (x, y) of each frame's
    top-left corner in the processed source frame: frames are cropped to the person and shifted
    so the person walks in place (the renderer moves the actor by `cycle.speed_mps`);
    yaw_deg: `(T,) float32` which way the person faces in each frame, relative to the capture
    camera (0 facing it, +90 facing image right, ±180 showing their back), NaN where unknown —
    all NaN is a single-view actor; full_body: whether the frames show the person down to the
    feet (None: decide from scale_from, as for old packages)."""

    frames_rgba: np.ndarray
    foot_anchor_px: np.ndarray
    height_px: np.ndarray
    landmarks_px: np.ndarray
    m_per_px: float
    height_m: float
    fps: float
    cycle: Cycle
    source_name: str = ""
    captured_utc: str = ""
    method: str = ""
    scale_from: str = ""
    crop_origin_px: np.ndarray | None = None
    yaw_deg: np.ndarray | None = None
    full_body: bool | None = None

    def __post_init__(self) -> None:
        self.frames_rgba = np.asarray(self.frames_rgba, np.uint8)
        self.foot_anchor_px = np.asarray(self.foot_anchor_px, np.float32).reshape(-1, 2)
        self.height_px = np.asarray(self.height_px, np.float32).reshape(-1)
        self.landmarks_px = np.asarray(self.landmarks_px, np.float32)
        n = self.frames_rgba.shape[0] if self.frames_rgba.ndim == 4 else 0
        origin = np.zeros((n, 2)) if self.crop_origin_px is None else self.crop_origin_px
        self.crop_origin_px = np.asarray(origin, np.int32).reshape(-1, 2)
        yaw = np.full(n, np.nan) if self.yaw_deg is None else self.yaw_deg
        self.yaw_deg = np.asarray(yaw, np.float32).reshape(-1)
        if self.full_body is None:
            self.full_body = self.scale_from not in ("hips", "shoulders")
        self.full_body = bool(self.full_body)
        _check_consistent(self, "Actor")

    @property
    def n_frames(self) -> int:
        """Number of stored frames."""
        return int(self.frames_rgba.shape[0])

    @property
    def view_indexed(self) -> bool:
        """True when some frames know the person's yaw (the renderer then picks the view)."""
        return bool(np.isfinite(self.yaw_deg).any())

    def standing_refusal(self) -> str | None:
        """Why this actor cannot stand on the ground in a scene (one line), or None if it can."""
        if self.full_body:
            return None
        return (f"actor '{self.source_name or 'capture'}' shows only the upper body (no feet seen; "
                f"scaled from the {self.scale_from or 'matte'}), so it would float: capture with the feet in view")

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of every frame in pixels."""
        return int(self.frames_rgba.shape[2]), int(self.frames_rgba.shape[1])

    def frame_index_at(self, t_s: float) -> int:
        """Stored frame shown at time t_s, looping over the cycle (negative times wrap too)."""
        start, end = self.cycle.start_frame, self.cycle.end_frame
        n = max(1, end - start)
        return start + int(np.floor(t_s * self.fps + 1e-6)) % n

    def frame_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The looping appearance at time t_s: (rgba `(H, W, 4) uint8`, foot_anchor_px `(2,)`,
        height_px)."""
        i = self.frame_index_at(t_s)
        return self.frames_rgba[i], self.foot_anchor_px[i].copy(), float(self.height_px[i])

    # ------------------------------------------------------------------ package
    def save(self, path: str | Path, compress_level: int = 1) -> Path:
        """Writes the `.actor` package atomically (temp file beside it, then rename).

        compress_level: PNG zlib level 0–9 (1 is fast and still small for mattes)."""
        path = Path(path)
        meta = _meta_dict(self)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_beside(path, ".tmp")
        except OSError as e:
            raise LikenessError(f"cannot write actor package '{path}': {e}") from e
        try:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr("actor.json", json.dumps(meta, indent=1), compress_type=zipfile.ZIP_DEFLATED)
                for i, png in enumerate(_encode_pngs(self.frames_rgba, compress_level)):
                    zf.writestr(f"frames/{i:06d}.png", png)
            os.replace(tmp, path)
        except BaseException as e:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise LikenessError(f"cannot write actor package '{path}': {e}") from e
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Actor":
        """Reads an `.actor` package, rejecting unsafe or oversized content with a LikenessError."""
        from ..safeio import check_size

        path = Path(path)
        check_size(path, MAX_PACKAGE_BYTES, "actor package (.actor file)", LikenessError)
        try:
            with zipfile.ZipFile(path) as zf:
                return _read_package(zf, path)
        except zipfile.BadZipFile as e:
            raise LikenessError(f"actor package '{path}' is not a valid zip/.actor file: {e}") from e
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            zlib.error,
            EOFError,
            RecursionError,
            SyntaxError,
            NotImplementedError,
            RuntimeError,
            OverflowError,
        ) as e:  # zipfile, zlib, json and PIL failures of a corrupt package
            if isinstance(e, LikenessError):
                raise
            raise LikenessError(f"actor package '{path}' is corrupt: {e}") from e


def _encode_pngs(frames_rgba: np.ndarray, compress_level: int):
    """PNG bytes per frame, encoded on a few threads (zlib releases the GIL), in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        yield from pool.map(lambda rgba: _rgba_png(rgba, compress_level), frames_rgba)


def _rgba_png(rgba: np.ndarray, compress_level: int = 1) -> bytes:
    """An `(H, W, 4) uint8` image as PNG bytes: every row 'Up'-filtered (NumPy) and deflated by
    zlib — lossless, about as small as Pillow's adaptive filtering at level 1 and half the CPU."""
    h, w = rgba.shape[:2]
    rows = np.ascontiguousarray(rgba, np.uint8).reshape(h, w * 4)
    filtered = np.empty((h, w * 4 + 1), np.uint8)
    filtered[:, 0] = 2  # filter type Up: each byte minus the byte above (mod 256)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(filtered.tobytes(), int(compress_level))) + chunk(b"IEND", b""))


def _meta_dict(actor: Actor) -> dict:
    """The `actor.json` content: everything but the pixels (NaN landmarks → null)."""
    lm = np.where(np.isfinite(actor.landmarks_px), np.round(actor.landmarks_px, 3), np.nan)
    return {
        "format": FORMAT,
        "n_frames": actor.n_frames,
        "size_px": list(actor.size_px),
        "fps": actor.fps,
        "height_m": actor.height_m,
        "m_per_px": actor.m_per_px,
        "cycle": dataclasses.asdict(actor.cycle),
        "source_name": actor.source_name,
        "captured_utc": actor.captured_utc,
        "method": actor.method,
        "scale_from": actor.scale_from,
        "crop_origin_px": actor.crop_origin_px.tolist(),
        "yaw_deg": [None if not np.isfinite(v) else round(float(v), 2) for v in actor.yaw_deg],
        "full_body": actor.full_body,
        "foot_anchor_px": actor.foot_anchor_px.tolist(),
        "height_px": actor.height_px.tolist(),
        "landmarks_px": [[[None if not np.isfinite(v) else float(v) for v in p] for p in f] for f in lm],
    }


def _read_package(zf: zipfile.ZipFile, path: Path) -> Actor:
    """Validates member names and sizes, then decodes metadata and frames."""
    infos = zf.infolist()
    if len(infos) > MAX_FRAMES + 1:
        raise LikenessError(f"actor package '{path}' holds {len(infos)} entries; at most {MAX_FRAMES + 1} allowed")
    frames: dict[int, zipfile.ZipInfo] = {}
    meta_info = None
    for info in infos:
        name = info.filename
        if name == "actor.json":
            meta_info = info
            continue
        m = _FRAME_NAME.match(name)
        if not m:
            raise LikenessError(
                f"actor package '{path}' has an unexpected entry {name!r} "
                "(only 'actor.json' and 'frames/NNNNNN.png' are allowed)")
        frames[int(m.group(1))] = info
    if meta_info is None:
        raise LikenessError(f"actor package '{path}' has no actor.json")
    if meta_info.file_size > MAX_JSON_BYTES:
        raise LikenessError(
            f"actor package '{path}': actor.json is {meta_info.file_size} bytes (limit {MAX_JSON_BYTES})"
        )
    meta = json.loads(_read_limited(zf, meta_info, MAX_JSON_BYTES, path))
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, *OLD_FORMATS):
        raise LikenessError(f"actor package '{path}': actor.json format is not '{FORMAT}' "
                            f"(nor an older {', '.join(OLD_FORMATS)})")
    n = int(meta["n_frames"])
    w, h = (int(v) for v in meta["size_px"])
    if not (1 <= n <= MAX_FRAMES) or sorted(frames) != list(range(n)):
        raise LikenessError(f"actor package '{path}': expected frames/000000.png … for n_frames={n} (1..{MAX_FRAMES}), "
                            f"found {len(frames)} frames")
    if not (1 <= w <= MAX_FRAME_SIDE_PX and 1 <= h <= MAX_FRAME_SIDE_PX) or n * w * h > MAX_TOTAL_PIXELS:
        raise LikenessError(f"actor package '{path}': {n} frames of {w}x{h} px exceed the limits "
                            f"(side ≤ {MAX_FRAME_SIDE_PX}, total ≤ {MAX_TOTAL_PIXELS} px)")
    rgba = np.empty((n, h, w, 4), np.uint8)
    max_png = w * h * 4 * 2 + 4096  # a PNG is never much larger than its raw pixels
    for i in range(n):
        data = _read_limited(zf, frames[i], max_png, path)
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG" or im.size != (w, h):
                raise LikenessError(f"actor package '{path}': frames/{i:06d}.png is not a {w}x{h} PNG")
            rgba[i] = np.asarray(im.convert("RGBA"))
    lm = np.array([[[np.nan if v is None else v for v in p] for p in f] for f in meta["landmarks_px"]], np.float32)
    c = meta["cycle"]
    cycle = Cycle(int(c["start_frame"]), int(c["end_frame"]), float(c["period_s"]),
                  bool(c.get("walking", False)), None if c.get("stride_m") is None else float(c["stride_m"]))
    try:
        return Actor(rgba, np.array(meta["foot_anchor_px"], np.float32), np.array(meta["height_px"], np.float32),
                     lm.reshape(n, -1, 3) if lm.size else np.full((n, N_LANDMARKS, 3), np.nan, np.float32),
                     float(meta["m_per_px"]), float(meta["height_m"]), float(meta["fps"]), cycle,
                     str(meta.get("source_name", "")), str(meta.get("captured_utc", "")),
                     str(meta.get("method", "")), str(meta.get("scale_from", "")),
                     np.array(meta.get("crop_origin_px", np.zeros((n, 2))), np.int32),
                     _yaws(meta.get("yaw_deg"), n), meta.get("full_body"))
    except LikenessError as e:
        raise LikenessError(f"actor package '{path}': {e}") from e


def _yaws(values, n: int) -> np.ndarray:
    """yaw_deg from actor.json ((n,) numbers or nulls; absent in /1 packages → all NaN)."""
    if values is None:
        return np.full(n, np.nan, np.float32)
    return np.array([np.nan if v is None else float(v) for v in values], np.float32)


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: Path) -> bytes:
    """Reads one member, refusing more than `limit` bytes whatever its header claims (zip bombs)."""
    from ..errors import SceneError
    from ..safeio import read_zip_entry

    try:
        return read_zip_entry(zf, info.filename, max_bytes=limit)
    except SceneError as exc:
        raise LikenessError(f"actor package '{path}': {info.filename}: {exc}") from None


def _check_consistent(a: Actor, where: str) -> None:
    """Shapes, counts and ranges agree; raises LikenessError naming the field."""
    f = a.frames_rgba
    if f.ndim != 4 or f.shape[-1] != 4 or f.shape[0] < 1:
        raise LikenessError(f"{where}: frames_rgba must be (T, H, W, 4) uint8 with T ≥ 1, got {f.shape}")
    n = f.shape[0]
    if a.foot_anchor_px.shape != (n, 2) or a.height_px.shape != (n,):
        raise LikenessError(f"{where}: foot_anchor_px {a.foot_anchor_px.shape} / height_px {a.height_px.shape} "
                            f"must match {n} frames")
    if a.crop_origin_px.shape != (n, 2):
        raise LikenessError(f"{where}: crop_origin_px must be ({n}, 2), got {a.crop_origin_px.shape}")
    if a.landmarks_px.shape != (n, N_LANDMARKS, 3):
        raise LikenessError(f"{where}: landmarks_px must be ({n}, {N_LANDMARKS}, 3), got {a.landmarks_px.shape}")
    if a.yaw_deg.shape != (n,):
        raise LikenessError(f"{where}: yaw_deg must be ({n},), got {a.yaw_deg.shape}")
    c = a.cycle
    if not (0 <= c.start_frame < c.end_frame <= n):
        raise LikenessError(f"{where}: cycle [{c.start_frame}, {c.end_frame}) must lie within 0..{n}")
    if not (a.fps > 0 and np.isfinite(a.fps)) or not (a.m_per_px > 0 and np.isfinite(a.m_per_px)):
        raise LikenessError(f"{where}: fps ({a.fps}) and m_per_px ({a.m_per_px}) must be positive")
