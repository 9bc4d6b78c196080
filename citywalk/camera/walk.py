"""First-person walking camera: arc-length motion along a smoothed route with step-synchronous
speed change, vertical bob (lowest at heel strike), lateral sway at stride frequency and a gaze
held on a point ahead on the route, so turns are smooth and the view does not jitter."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ShotError
from .route import polyline_length
from .track import MAX_FRAMES, CameraFrame, intrinsics, look_at

RESAMPLE_M = 0.25


@dataclass(frozen=True)
class WalkDynamics:
    """Gait parameters: speed, eye height, step frequency, bob (peak to peak) and sway amplitude."""

    speed_mps: float = 1.4
    eye_height_m: float = 1.65
    step_hz: float = 1.95
    bob_m: float = 0.03
    sway_m: float = 0.015
    look_ahead_m: float = 8.0
    speed_wobble: float = 0.04  # relative speed change within each step
    corner_radius_m: float = 2.5


_NUMBER = (int, float, np.integer, np.floating)


@dataclass(frozen=True)
class RigSpec:
    """What every camera rig needs besides its route and its own parameters: `n_frames` frames
    at `fps`, images of `size_px` (w, h) with a horizontal field of view of `fov_deg`, and the
    walker's gait (`dynamics`: speed, eye height, bob…), which the first-person walk rides and
    the third-person rigs film."""

    fps: float
    n_frames: int
    size_px: tuple[int, int]
    fov_deg: float
    dynamics: WalkDynamics = field(default_factory=WalkDynamics)

    def __post_init__(self) -> None:
        if isinstance(self.size_px, (list, tuple, np.ndarray)):
            object.__setattr__(self, "size_px", tuple(self.size_px))

    @property
    def times_s(self) -> np.ndarray:
        """Shot time of each frame (n_frames,) s."""
        return np.arange(self.n_frames) / self.fps

    def check(self, rig: str) -> None:
        """Raise a ShotError naming camera.<rig> and the field when a value is out of range."""
        where = f"camera.{rig}"
        fps, n, size, fov = self.fps, self.n_frames, self.size_px, self.fov_deg
        if not (isinstance(fps, _NUMBER) and math.isfinite(fps) and fps > 0):
            raise ShotError(f"{where}: fps must be a positive number, got {fps!r}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_FRAMES:
            raise ShotError(f"{where}: n_frames must be an integer in 1..{MAX_FRAMES}, got {n!r}")
        if len(size) != 2 or min(int(size[0]), int(size[1])) <= 0:
            raise ShotError(f"{where}: size_px must be (width, height) in positive pixels, got {size!r}")
        if not (isinstance(fov, _NUMBER) and 10.0 <= fov <= 150.0):
            raise ShotError(f"{where}: fov_deg must be 10..150 degrees, got {fov!r}")
        if not self.dynamics.speed_mps > 0:
            raise ShotError(f"{where}: speed_mps must be positive, got {self.dynamics.speed_mps!r}")


class SmoothPath:
    """A route resampled every 25 cm and smoothed (corners rounded) for arc-length queries."""

    def __init__(self, route: np.ndarray, corner_radius_m: float):
        pts = _resample(np.asarray(route, float), RESAMPLE_M)
        k = max(1, int(round(corner_radius_m / RESAMPLE_M)))
        if len(pts) > 2 * k + 2:
            pad = np.vstack([np.repeat(pts[:1], k, 0), pts, np.repeat(pts[-1:], k, 0)])
            kernel = np.ones(2 * k + 1) / (2 * k + 1)
            sm = np.stack([np.convolve(pad[:, i], kernel, mode="valid") for i in range(3)], 1)
            # keep the straight ends exact: the padding would otherwise pull them in
            sm[:k] = pts[:k]
            sm[-k:] = pts[-k:]
            pts = sm
        self.points = pts
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.length_m = float(self.cum[-1])

    def at(self, s: np.ndarray) -> np.ndarray:
        """Points (N, 3) at arc lengths s (N,), extrapolated straight past the ends."""
        s = np.asarray(s, float)
        out = np.empty(s.shape + (3,))
        for i in range(3):
            out[..., i] = np.interp(s, self.cum, self.points[:, i])
        end_dir = self.points[-1] - self.points[-2]
        end_dir /= max(np.linalg.norm(end_dir), 1e-9)
        over = s > self.length_m
        out[over] = self.points[-1] + (s[over] - self.length_m)[:, None] * end_dir
        return out


def _resample(pts: np.ndarray, step_m: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 1e-9])
    pts = pts[keep]
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    s = np.arange(0.0, cum[-1] + 1e-9, step_m)
    return np.stack([np.interp(s, cum, pts[:, i]) for i in range(3)], 1)


def walk_arc_length(t_s: np.ndarray, dyn: WalkDynamics) -> np.ndarray:
    """Distance walked at times t: mean speed plus a small surge each step (integrated sine)."""
    w = 2 * np.pi * dyn.step_hz
    return dyn.speed_mps * (t_s - dyn.speed_wobble / w * (np.cos(w * t_s) - 1.0))


def walk_frames(route: np.ndarray, spec: RigSpec) -> list[CameraFrame]:
    """Per-frame cameras for a first-person walk along `route` (K, 3) (ground points, metres)."""
    dyn, n_frames, size_px = spec.dynamics, spec.n_frames, spec.size_px
    path = SmoothPath(route, dyn.corner_radius_m)
    t = spec.times_s
    s = walk_arc_length(t, dyn)
    ground = path.at(s)
    ahead = path.at(s + dyn.look_ahead_m)
    tangent = path.at(s + 0.5) - path.at(np.maximum(s - 0.5, 0.0))
    tangent[:, 2] = 0
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    left = np.stack([-tangent[:, 1], tangent[:, 0], np.zeros(n_frames)], 1)
    w = 2 * np.pi * dyn.step_hz
    bob = -0.5 * dyn.bob_m * np.cos(w * t)  # lowest at heel strike (t = k / step_hz)
    sway = dyn.sway_m * np.sin(0.5 * w * t)  # one full sway per stride (two steps)
    eye = ground + np.array([0, 0, dyn.eye_height_m]) + bob[:, None] * np.array([0, 0, 1.0]) + sway[:, None] * left
    target = ahead + np.array([0, 0, dyn.eye_height_m * 0.97])
    K = intrinsics(spec.fov_deg, size_px)
    frames = []
    for i in range(n_frames):
        R, tt = look_at(eye[i], target[i])
        frames.append(CameraFrame(i, float(t[i]), R, tt, K, size_px))
    return frames


def walk_distance_m(duration_s: float, dyn: WalkDynamics) -> float:
    """Distance a walk of `duration_s` covers."""
    return float(walk_arc_length(np.array([duration_s]), dyn)[0])


__all__ = ["WalkDynamics", "RigSpec", "SmoothPath", "walk_frames", "walk_distance_m", "polyline_length"]
