"""Keyframed cameras in the style of Google Earth Studio: keys of (time, position, look-at, fov)
joined by centripetal Catmull–Rom splines (no cusps or loops between keys) with per-segment
easing, so the camera passes exactly through every key."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import ShotError
from .track import MAX_FRAMES, CameraFrame, intrinsics, look_at

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
MIN_FOV_DEG, MAX_FOV_DEG = 10.0, 150.0
MAX_KEYS = 10_000
_MIN_GAP_M = 1e-9  # a segment shorter than this holds still
_KEY_FIELDS = ("t_s", "position", "look_at", "fov_deg", "ease")


@dataclass(frozen=True)
class Keyframe:
    """One key: at `t_s` the camera is at `position` (3,) m looking at `look_at` (3,) m with a
    horizontal field of view `fov_deg`; `ease` shapes the segment from this key to the next."""

    t_s: float
    position: np.ndarray
    look_at: np.ndarray
    fov_deg: float
    ease: str = "linear"

    def to_dict(self) -> dict:
        return {"t_s": self.t_s, "position": self.position.tolist(), "look_at": self.look_at.tolist(),
                "fov_deg": self.fov_deg, "ease": self.ease}


def ease(u: np.ndarray, kind: str) -> np.ndarray:
    """Eased segment parameter in [0, 1] for u in [0, 1]; every kind is monotone non-decreasing."""
    u = np.clip(np.asarray(u, float), 0.0, 1.0)
    if kind == "linear":
        return u
    if kind == "ease_in":
        return u * u
    if kind == "ease_out":
        return 1.0 - (1.0 - u) ** 2
    if kind == "ease_in_out":
        return u * u * (3.0 - 2.0 * u)  # smoothstep
    raise ShotError(f"easing '{kind}' is unknown; use one of {', '.join(EASINGS)}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ShotError(f"{where}: expected a number, got {value!r:.60}")
    if not math.isfinite(float(value)):
        raise ShotError(f"{where}: must be finite, got {value!r}")
    return float(value)


def _point(value: Any, where: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 3:
        raise ShotError(f"{where}: expected 3 numbers [x, y, z] in metres, got {value!r:.60}")
    return np.array([_number(v, f"{where}[{i}]") for i, v in enumerate(value)])


def parse_key(raw: Any, index: int, where: str = "keyframes") -> Keyframe:
    """A validated Keyframe from a Keyframe or a dict with t_s, position, look_at, fov_deg[, ease]."""
    at = f"{where}: key {index}"
    if isinstance(raw, Keyframe):
        raw = {"t_s": raw.t_s, "position": raw.position, "look_at": raw.look_at, "fov_deg": raw.fov_deg,
               "ease": raw.ease}
    if not isinstance(raw, dict):
        raise ShotError(f"{at}: expected an object with {', '.join(_KEY_FIELDS)}, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_KEY_FIELDS))
    if unknown:
        raise ShotError(f"{at}: unknown field '{unknown[0]}'; accepted fields are {', '.join(_KEY_FIELDS)}")
    for name in _KEY_FIELDS[:4]:
        if name not in raw:
            raise ShotError(f"{at}: missing field '{name}'")
    t_s = _number(raw["t_s"], f"{at} 't_s'")
    position = _point(raw["position"], f"{at} 'position'")
    target = _point(raw["look_at"], f"{at} 'look_at'")
    fov = _number(raw["fov_deg"], f"{at} 'fov_deg'")
    if not MIN_FOV_DEG <= fov <= MAX_FOV_DEG:
        raise ShotError(f"{at} 'fov_deg': {fov:g} is outside {MIN_FOV_DEG:g}..{MAX_FOV_DEG:g} degrees")
    kind = raw.get("ease", "linear")
    if kind not in EASINGS:
        raise ShotError(f"{at} 'ease': {kind!r} is unknown; use one of {', '.join(EASINGS)}")
    if np.linalg.norm(target - position) < 1e-6:
        raise ShotError(f"{at} 'look_at': equals 'position' {position.tolist()}; the camera needs a direction")
    return Keyframe(t_s, position, target, fov, kind)


def parse_keys(raw_keys: Any, where: str = "keyframes") -> list[Keyframe]:
    """Validated keys: at least 2, at most MAX_KEYS, strictly increasing t_s."""
    if isinstance(raw_keys, (str, bytes, dict)) or not isinstance(raw_keys, Sequence):
        raise ShotError(f"{where}: expected a list of keys, got {type(raw_keys).__name__}")
    if not 2 <= len(raw_keys) <= MAX_KEYS:
        raise ShotError(f"{where}: {len(raw_keys)} keys given; need 2..{MAX_KEYS}")
    keys = [parse_key(k, i, where) for i, k in enumerate(raw_keys)]
    for i in range(1, len(keys)):
        if not keys[i].t_s > keys[i - 1].t_s:
            raise ShotError(
                f"{where}: key {i} 't_s': {keys[i].t_s:g} is not after key {i - 1}'s {keys[i - 1].t_s:g}; "
                "key times must increase strictly"
            )
    return keys


def _centripetal_segment(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points (N, 3) on the centripetal Catmull–Rom segment from p[1] to p[2] (p: (4, 3)) at
    parameters u (N,) in [0, 1] (Barry–Goldman pyramid); u = 0 gives p[1], u = 1 gives p[2]."""
    gaps = np.sqrt(np.maximum(np.linalg.norm(np.diff(p, axis=0), axis=1), 1e-12))  # |d|^0.5
    t0, t1 = 0.0, gaps[0]
    t2, t3 = t1 + gaps[1], t1 + gaps[1] + gaps[2]
    t = (t1 + u * (t2 - t1))[:, None]

    def lerp(a, b, ta, tb):
        return (tb - t) / (tb - ta) * a + (t - ta) / (tb - ta) * b

    a1, a2, a3 = lerp(p[0], p[1], t0, t1), lerp(p[1], p[2], t1, t2), lerp(p[2], p[3], t2, t3)
    b1, b2 = lerp(a1, a2, t0, t2), lerp(a2, a3, t1, t3)
    out = lerp(b1, b2, t1, t2)
    out[u <= 0.0] = p[1]  # exact at the keys
    out[u >= 1.0] = p[2]
    return out


def spline_points(points: np.ndarray, seg: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points (N, 3) on the centripetal Catmull–Rom spline through `points` (M, 3): segment
    `seg` (N,) ints, local parameter `u` (N,) in [0, 1]. Ends use mirrored phantom points."""
    pts = np.asarray(points, float)
    padded = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    out = np.empty((len(u), 3))
    for i in np.unique(seg):
        sel = seg == i
        ctrl = padded[i:i + 4]
        if np.linalg.norm(ctrl[2] - ctrl[1]) < _MIN_GAP_M:
            out[sel] = ctrl[1]  # the camera (or its look-at point) holds still over this segment
        else:
            out[sel] = _centripetal_segment(ctrl, u[sel])
    return out


def sample_keys(keys: list[Keyframe], times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (N, 3), look-at points (N, 3) and fov_deg (N,) at times (N,); held before the
    first key and after the last."""
    times = np.asarray(times_s, float)
    key_t = np.array([k.t_s for k in keys])
    seg = np.clip(np.searchsorted(key_t, times, side="right") - 1, 0, len(keys) - 2)
    u = np.clip((times - key_t[seg]) / (key_t[seg + 1] - key_t[seg]), 0.0, 1.0)
    ue = np.empty_like(u)
    for i in np.unique(seg):
        sel = seg == i
        ue[sel] = ease(u[sel], keys[i].ease)
    pos = spline_points(np.array([k.position for k in keys]), seg, ue)
    target = spline_points(np.array([k.look_at for k in keys]), seg, ue)
    fov = np.array([k.fov_deg for k in keys])
    fov_deg = fov[seg] + ue * (fov[seg + 1] - fov[seg])
    return pos, target, fov_deg


def keyframe_frames(keys: Sequence[Keyframe | dict], fps: float, n_frames: int, size_px: tuple[int, int],
                    where: str = "keyframes") -> list[CameraFrame]:
    """Per-frame cameras (frame i at time i / fps) from keyframes; keys are validated first."""
    keys = parse_keys(keys, where)
    fps = _number(fps, f"{where}: fps")
    if fps <= 0:
        raise ShotError(f"{where}: fps must be positive, got {fps:g}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or not 1 <= n_frames <= MAX_FRAMES:
        raise ShotError(f"{where}: n_frames must be an integer in 1..{MAX_FRAMES}, got {n_frames!r}")
    size = (int(size_px[0]), int(size_px[1]))
    if min(size) <= 0:
        raise ShotError(f"{where}: size_px must be positive (width, height), got {size_px!r}")
    times = np.arange(n_frames) / fps
    pos, target, fov_deg = sample_keys(keys, times)
    frames = []
    for i in range(n_frames):
        if np.linalg.norm(target[i] - pos[i]) < 1e-6:
            raise ShotError(
                f"{where}: at t={times[i]:.3f} s the camera reaches its look-at point; "
                "move the keys' look_at further from their positions"
            )
        R, t = look_at(pos[i], target[i])
        frames.append(CameraFrame(i, float(times[i]), R, t, intrinsics(float(fov_deg[i]), size), size))
    return frames


__all__ = ["EASINGS", "Keyframe", "ease", "parse_key", "parse_keys", "sample_keys", "spline_points",
           "keyframe_frames"]
