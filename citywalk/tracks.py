"""The camera-track JSON: per-frame OpenCV cameras of a render or a capture, shared by the
camera rigs (export), the scene sources (a capture's cameras), capture packaging and video
extras — so it sits left of them all. Files are written to a temporary name and renamed."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from citywalk.errors import VideoError
from citywalk.safeio import temp_beside

MAX_TRACK_FILE_BYTES = 256 * 1024 * 1024
TRACK_CONVENTION = "opencv"
TRACK_WORLD = "ENU metres, Z up"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Run `write(tmp)` on a temp file beside `path`, then rename it over `path`; VideoError on failure."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = temp_beside(target, ".part" + target.suffix)
    except OSError as exc:
        raise VideoError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise VideoError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# -- camera track --------------------------------------------------------------------------

_TRACK_FIELDS = {"K": (3, 3), "R_w2c": (3, 3), "t_w2c": (3,), "position_m": (3,)}


def _matrix(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """`value` as a finite float64 array of `shape`, or VideoError naming `where`."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise VideoError(f"{where}: expected numbers of shape {shape}, got {value!r:.80}") from None
    if arr.shape != shape:
        raise VideoError(f"{where}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise VideoError(f"{where}: values must be finite")
    return arr


def _check_track_frame(frame: Any, i: int, where: str) -> dict[str, Any]:
    """Validate one per-frame record; position_m defaults to the camera centre -R^T t."""
    if not isinstance(frame, dict):
        raise VideoError(f"{where} frame {i}: expected an object with index, time_s, K, R_w2c, t_w2c")
    out: dict[str, Any] = {}
    for key in ("index", "time_s"):
        if key not in frame:
            raise VideoError(f"{where} frame {i}: missing '{key}'")
    index, time_s = frame["index"], frame["time_s"]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise VideoError(f"{where} frame {i}: 'index' must be a non-negative integer, got {index!r}")
    if isinstance(time_s, bool) or not isinstance(time_s, (int, float, np.floating)) or not math.isfinite(time_s):
        raise VideoError(f"{where} frame {i}: 'time_s' must be a finite number, got {time_s!r}")
    out["index"], out["time_s"] = int(index), float(time_s)
    for key, shape in _TRACK_FIELDS.items():
        if key not in frame:
            if key == "position_m" and "R_w2c" in out and "t_w2c" in out:
                out[key] = -out["R_w2c"].T @ out["t_w2c"]
                continue
            raise VideoError(f"{where} frame {i}: missing '{key}'")
        out[key] = _matrix(frame[key], shape, f"{where} frame {i} '{key}'")
    return out


def _check_header(fps: Any, width: Any, height: Any, where: str) -> None:
    for name, value in (("fps", fps), ("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
            raise VideoError(f"{where}: '{name}' must be a positive number, got {value!r}")


def write_camera_track(
    path: str | os.PathLike[str], frames: list[dict[str, Any]], *, fps: float, width: int, height: int
) -> Path:
    """Write per-frame OpenCV cameras (K 3x3, R_w2c 3x3, t_w2c 3, position_m 3) as JSON.

    x_cam = R_w2c @ x_world + t_w2c, world ENU metres with Z up; position_m may be omitted
    (it is then -R_w2c^T t_w2c).
    """
    where = f"camera track {path}"
    _check_header(fps, width, height, where)
    records = []
    for i, frame in enumerate(frames):
        rec = _check_track_frame(frame, i, where)
        records.append({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rec.items()})
    doc = {
        "convention": TRACK_CONVENTION,
        "world": TRACK_WORLD,
        "fps": float(fps) if not float(fps).is_integer() else int(fps),
        "width": int(width),
        "height": int(height),
        "frames": records,
    }
    text = json.dumps(doc, indent=None, separators=(",", ":"))
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_camera_track(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a camera-track JSON → the header fields plus 'frames' with float64 numpy arrays."""
    p = Path(path)
    where = f"camera track {p}"
    from .safeio import check_nesting, read_text_capped

    text = read_text_capped(p, MAX_TRACK_FILE_BYTES, "camera track", VideoError)
    check_nesting(text, 64, where, VideoError)
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise VideoError(f"cannot read {where}: {exc}") from None
    if not isinstance(doc, dict):
        raise VideoError(f"{where}: expected a JSON object")
    if doc.get("convention") != TRACK_CONVENTION or doc.get("world") != TRACK_WORLD:
        raise VideoError(
            f"{where}: convention/world are {doc.get('convention')!r}/{doc.get('world')!r}, "
            f"expected {TRACK_CONVENTION!r}/{TRACK_WORLD!r}"
        )
    _check_header(doc.get("fps"), doc.get("width"), doc.get("height"), where)
    frames = doc.get("frames")
    if not isinstance(frames, list):
        raise VideoError(f"{where}: 'frames' must be a list")
    return {
        "convention": doc["convention"],
        "world": doc["world"],
        "fps": doc["fps"],
        "width": int(doc["width"]),
        "height": int(doc["height"]),
        "frames": [_check_track_frame(f, i, where) for i, f in enumerate(frames)],
    }
