"""Camera paths on disk: our camera-track JSON (the render's `camera_track` extra), the
RealEstate10K text format (one line per frame: timestamp in microseconds, intrinsics
normalised by image size, world→camera 3x4 in the OpenCV convention), and keyframe files
(`{"keys": [{"t_s", "position", "look_at", "fov_deg", "ease"}, ...]}`)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import ShotError, VideoError
from ..safeio import temp_beside
from .keyframes import Keyframe, parse_keys
from .track import CameraFrame

MAX_PATH_FILE_BYTES = 256 * 1024 * 1024
MAX_PATH_FRAMES = 1_000_000
_RE10K_COLUMNS = 19
_ORTHONORMAL_TOL = 1e-4


def _write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` to a temp file beside `path` and rename it over, so no half file is left."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = temp_beside(target, ".part")
    except OSError as exc:
        raise VideoError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(name, target)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise VideoError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def _read_text(path: str | os.PathLike[str], what: str) -> tuple[Path, str]:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_PATH_FILE_BYTES:
            raise ShotError(f"{what} {p}: {size} bytes is over the {MAX_PATH_FILE_BYTES} byte limit")
        return p, p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShotError(f"cannot read {what} {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShotError(f"cannot read {what} {p}: {exc}") from None


def _check_frames(frames: list[CameraFrame], where: str) -> tuple[int, int]:
    if not frames:
        raise VideoError(f"{where}: no frames to write")
    size = tuple(frames[0].size_px)
    if any(tuple(f.size_px) != size for f in frames):
        raise VideoError(f"{where}: frames have different image sizes; one size per camera path")
    return int(size[0]), int(size[1])


# -- our camera-track JSON -------------------------------------------------------------------


def write_camera_path_json(path: str | os.PathLike[str], frames: list[CameraFrame], fps: float) -> Path:
    """Write frames as the camera-track JSON of `citywalk.tracks` (K, R_w2c, t_w2c)."""
    from ..tracks import write_camera_track

    w, h = _check_frames(frames, f"camera path {path}")
    return write_camera_track(path, [f.to_dict() for f in frames], fps=fps, width=w, height=h)


def read_camera_path_json(path: str | os.PathLike[str]) -> tuple[list[CameraFrame], float]:
    """Frames and fps from a camera-track JSON; a bad file raises ShotError naming it."""
    from ..tracks import read_camera_track

    try:
        doc = read_camera_track(path)
    except VideoError as exc:
        raise ShotError(str(exc)) from None
    size = (doc["width"], doc["height"])
    frames = [CameraFrame(f["index"], f["time_s"], f["R_w2c"], f["t_w2c"], f["K"], size) for f in doc["frames"]]
    return frames, float(doc["fps"])


# -- RealEstate10K text ----------------------------------------------------------------------


def write_realestate10k(path: str | os.PathLike[str], frames: list[CameraFrame], source: str = "citywalk") -> Path:
    """Write frames as RealEstate10K text: a first line with `source`, then per frame
    `timestamp_us fx/w fy/h cx/w cy/h 0 0` and the world→camera 3x4 row by row."""
    w, h = _check_frames(frames, f"RealEstate10K file {path}")
    if "\n" in source or "\r" in source:
        raise VideoError(f"RealEstate10K file {path}: the source line must be one line, got {source!r:.60}")
    lines = [source]
    for f in frames:
        K = np.asarray(f.K, float)
        intr = [K[0, 0] / w, K[1, 1] / h, K[0, 2] / w, K[1, 2] / h, 0.0, 0.0]
        pose = np.hstack([np.asarray(f.R, float), np.asarray(f.t, float)[:, None]]).ravel()
        stamp = int(round(f.time_s * 1e6))
        lines.append(" ".join([str(stamp)] + [repr(float(v)) for v in [*intr, *pose]]))
    return _write_text(path, "\n".join(lines) + "\n")


def _re10k_row(line: str, lineno: int, where: str) -> np.ndarray:
    parts = line.split()
    if len(parts) != _RE10K_COLUMNS:
        raise ShotError(
            f"{where} line {lineno}: {len(parts)} numbers, expected {_RE10K_COLUMNS} "
            "(timestamp_us fx fy cx cy 0 0 and a 3x4 world-to-camera matrix)"
        )
    try:
        row = np.array([float(v) for v in parts])
    except ValueError:
        raise ShotError(f"{where} line {lineno}: not all numbers: {line.strip()[:80]!r}") from None
    if not np.all(np.isfinite(row)):
        raise ShotError(f"{where} line {lineno}: numbers must be finite")
    return row


def read_realestate10k(path: str | os.PathLike[str], size_px: tuple[int, int]) -> tuple[list[CameraFrame], str]:
    """Frames and the source line from RealEstate10K text; `size_px` (w, h) turns the
    normalised intrinsics back into pixels (the format does not store the image size)."""
    p, text = _read_text(path, "RealEstate10K file")
    where = f"RealEstate10K file {p}"
    w, h = int(size_px[0]), int(size_px[1])
    if w <= 0 or h <= 0:
        raise ShotError(f"{where}: size_px must be positive (width, height), got {size_px!r}")
    lines = text.splitlines()
    if not lines:
        raise ShotError(f"{where}: empty file; expected a source line, then one line per frame")
    source, frames = lines[0].strip(), []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if len(frames) >= MAX_PATH_FRAMES:
            raise ShotError(f"{where}: more than {MAX_PATH_FRAMES} frames")
        row = _re10k_row(line, lineno, where)
        fx, fy, cx, cy = row[1:5]
        if fx <= 0 or fy <= 0:
            raise ShotError(f"{where} line {lineno}: focal lengths must be positive, got fx={fx:g} fy={fy:g}")
        pose = row[7:].reshape(3, 4)
        R, t = pose[:, :3], pose[:, 3].copy()
        if np.abs(R @ R.T - np.eye(3)).max() > _ORTHONORMAL_TOL or np.linalg.det(R) < 0:
            raise ShotError(f"{where} line {lineno}: the 3x3 part is not a rotation (orthonormal, det +1)")
        K = np.array([[fx * w, 0.0, cx * w], [0.0, fy * h, cy * h], [0.0, 0.0, 1.0]])
        frames.append(CameraFrame(len(frames), row[0] * 1e-6, R.copy(), t, K, (w, h)))
    if not frames:
        raise ShotError(f"{where}: no frame lines after the source line")
    times = np.array([f.time_s for f in frames])
    if np.any(np.diff(times) < 0):
        bad = int(np.argmax(np.diff(times) < 0)) + 1
        raise ShotError(f"{where}: frame {bad} has an earlier timestamp than frame {bad - 1}")
    return frames, source


# -- keyframe files --------------------------------------------------------------------------


def read_keyframes(path: str | os.PathLike[str]) -> list[Keyframe]:
    """Validated keys from a keyframe JSON file; errors name the file, key index and field."""
    p, text = _read_text(path, "keyframes file")
    where = f"keyframes file {p}"
    from ..safeio import check_nesting

    check_nesting(text, 64, where, ShotError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShotError(f"{where}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or "keys" not in doc:
        raise ShotError(f'{where}: expected an object {{"keys": [...]}}')
    return parse_keys(doc["keys"], where)


def write_keyframes(path: str | os.PathLike[str], keys: list[Keyframe | dict]) -> Path:
    """Write keys (validated first) as a keyframe JSON file that `read_keyframes` reads back."""
    checked = parse_keys(keys, f"keyframes file {path}")
    doc = {"keys": [k.to_dict() for k in checked]}
    return _write_text(path, json.dumps(doc, indent=1) + "\n")


def frames_close(a: list[CameraFrame], b: list[CameraFrame], tol: float = 1e-6) -> bool:
    """True when two camera paths have the same length, times, sizes and K, R, t within `tol`."""
    if len(a) != len(b):
        return False
    for fa, fb in zip(a, b):
        if tuple(fa.size_px) != tuple(fb.size_px) or not math.isclose(fa.time_s, fb.time_s, abs_tol=max(tol, 1e-6)):
            return False
        for x, y in ((fa.K, fb.K), (fa.R, fb.R), (fa.t, fb.t)):
            if not np.allclose(np.asarray(x, float), np.asarray(y, float), atol=tol, rtol=0):
                return False
    return True


__all__ = ["write_camera_path_json", "read_camera_path_json", "write_realestate10k", "read_realestate10k",
           "read_keyframes", "write_keyframes", "frames_close"]
