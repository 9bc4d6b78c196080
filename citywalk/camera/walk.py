"""First-person walking camera: arc-length motion along a smoothed route with step-synchronous
speed change, vertical bob (lowest at heel strike), lateral sway at stride frequency and a gaze
held on a point ahead on the route, so turns are smooth and the view does not jitter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .route import polyline_length
from .track import CameraFrame, intrinsics, look_at

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


def walk_frames(route: np.ndarray, dyn: WalkDynamics, fps: int, n_frames: int, size_px: tuple[int, int],
                fov_deg: float) -> list[CameraFrame]:
    """Per-frame cameras for a walk along `route` (K, 3) (ground points, metres)."""
    path = SmoothPath(route, dyn.corner_radius_m)
    t = np.arange(n_frames) / fps
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
    K = intrinsics(fov_deg, size_px)
    frames = []
    for i in range(n_frames):
        R, tt = look_at(eye[i], target[i])
        frames.append(CameraFrame(i, float(t[i]), R, tt, K, size_px))
    return frames


def walk_distance_m(duration_s: float, dyn: WalkDynamics) -> float:
    """Distance a walk of `duration_s` covers."""
    return float(walk_arc_length(np.array([duration_s]), dyn)[0])


__all__ = ["WalkDynamics", "SmoothPath", "walk_frames", "walk_distance_m", "polyline_length"]
