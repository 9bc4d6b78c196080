"""Placing an Actor along a shot's route: per-frame ground position, facing and which stored
frame to show, so a captured walk plays in step with the ground it covers (no sliding feet).

Placements (a Shot's `ActorSpec.placement`), relative to the first-person walker on the route:
  ahead  — walks `distance_m` ahead along the route, same speed (the camera follows);
  beside — walks `BESIDE_OFFSET_M` to the walker's left, `distance_m` ahead (so in view);
  toward — walks back along the route toward the walker, passing `TOWARD_OFFSET_M` to the
           walker's left, and is `distance_m` ahead at the shot's last frame;
  fixed  — stands `distance_m` ahead of the walker's start, facing back along the route.
An actor that does not show its feet (a waist-up photo) is refused with a one-line reason
(`Actor.standing_refusal`): stood on the ground it would be a torso floating above its shadow.
For third-person rigs (follow, side, front, orbit, drone) the actor IS the walker: pass the
rig's `WalkerTrack` and the actor takes its positions and headings.

The animation: a walking actor's capture covers `cycle.stride_m` per `cycle.period_s`; here it
advances by distance walked / stride, i.e. it plays at route speed / captured speed of its rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .actor import Actor, LikenessError

PLACEMENTS = ("ahead", "beside", "toward", "fixed")
BESIDE_OFFSET_M = 1.0
TOWARD_OFFSET_M = 0.6
MAX_TRACK_FRAMES = 100_000


@dataclass(frozen=True)
class ActorTrack:
    """Where the actor is in each of N frames: times_s (N,), ground points positions (N, 3) m,
    unit horizontal headings (N, 3) (the direction they face / walk), frame_index (N,) int
    into `Actor.frames_rgba`, walked_m (N,) distance walked so far, whether the capture's own
    walk plays, and legs: the walk cycle the pedestrians use (`agents.gait.Gait`, one walker)
    along these positions for views the capture holds no walk for (None when they stand)."""

    times_s: np.ndarray
    positions: np.ndarray
    headings: np.ndarray
    frame_index: np.ndarray
    walked_m: np.ndarray
    walking: bool
    legs: object = None

    def __len__(self) -> int:
        return int(len(self.times_s))

    def at(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(ground point (3,), heading (3,), stored frame index) for frame i, clamped to the track."""
        j = min(max(int(i), 0), len(self.times_s) - 1)
        return self.positions[j], self.headings[j], int(self.frame_index[j])


def animation_time_s(actor: Actor, walked_m: np.ndarray, times_s: np.ndarray, walking: bool) -> np.ndarray:
    """Time (N,) in the actor's own clip to show: distance walked / captured walking speed for a
    walking actor (feet keep pace with the ground), else the shot time (an idle loop)."""
    speed = actor.cycle.speed_mps
    if walking and speed is not None and speed > 0:
        return np.asarray(walked_m, float) / speed
    return np.asarray(times_s, float)


def frame_indices(actor: Actor, anim_t_s: np.ndarray) -> np.ndarray:
    """Stored frame (N,) int shown at each animation time, looping over the actor's cycle."""
    return np.array([actor.frame_index_at(float(t)) for t in anim_t_s], np.int64)


def walk_legs(actor: Actor, positions: np.ndarray, headings: np.ndarray, fps: float):
    """The pedestrians' walk cycle (`agents.gait`) for `actor` moving through positions (N, 3):
    one walker of the actor's height, feet planted on the track's ground; None when it stands."""
    from ..agents.gait import walk_cycle

    pos = np.asarray(positions, float)
    steps = np.linalg.norm(np.diff(pos[:, :2], axis=0), axis=1) if len(pos) > 1 else np.zeros(0)
    if steps.sum() < 0.05:
        return None
    moving = steps[steps > 1e-4]
    speed = float(np.median(moving)) * float(fps)

    def ground(x: float, y: float) -> float:
        return float(pos[int(np.argmin((pos[:, 0] - x) ** 2 + (pos[:, 1] - y) ** 2)), 2])

    first = np.asarray(headings, float)[:1, :2]
    return walk_cycle(pos[:, None, :2], float(fps), np.array([actor.height_m]), np.array([1.0]),
                      np.array([speed]), first, ground)


def _check(spec, fps, n_frames) -> tuple[str, float]:
    placement = getattr(spec, "placement", None)
    if placement not in PLACEMENTS:
        raise LikenessError(f"actors[].placement: {placement!r} is not one of {', '.join(PLACEMENTS)}")
    distance_m = getattr(spec, "distance_m", None)
    ok = isinstance(distance_m, (int, float)) and not isinstance(distance_m, bool) and math.isfinite(distance_m)
    if not ok or not 0.0 <= distance_m <= 10_000.0:
        raise LikenessError(f"actors[].distance_m: {distance_m!r} must be a number of metres in 0..10000")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise LikenessError(f"actor track: fps must be positive, got {fps!r}")
    if (
        isinstance(n_frames, bool)
        or not isinstance(n_frames, (int, np.integer))
        or not 1 <= n_frames <= MAX_TRACK_FRAMES
    ):
        raise LikenessError(f"actor track: n_frames must be an integer in 1..{MAX_TRACK_FRAMES}, got {n_frames!r}")
    return placement, float(distance_m)


def _tangents(path, s: np.ndarray) -> np.ndarray:
    """Unit horizontal route directions (N, 3) at arc lengths s: the chord over s ± 0.5 m."""
    d = path.at(s + 0.5) - path.at(np.maximum(s - 0.5, 0.0))
    d[:, 2] = 0.0
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)


def _left(tangent: np.ndarray) -> np.ndarray:
    return np.stack([-tangent[:, 1], tangent[:, 0], np.zeros(len(tangent))], 1)


def actor_track(actor: Actor, spec, route: np.ndarray, dyn, fps: float, n_frames: int,
                walker_track=None) -> ActorTrack:
    """Per-frame placement of `actor` for an ActorSpec-like `spec` (placement, distance_m) on
    `route` (K, 3) walked with WalkDynamics `dyn`, at `fps` for `n_frames` frames. With a
    third-person rig's `walker_track` the actor is that walker (placement is then ignored)."""
    from ..camera.walk import SmoothPath, walk_arc_length

    placement, distance_m = _check(spec, fps, n_frames)
    refusal = actor.standing_refusal()
    if refusal is not None:  # refused rather than placed: nothing could hold it on the ground
        raise LikenessError(refusal)
    t = np.arange(n_frames) / float(fps)
    walking = bool(actor.cycle.walking)
    if walker_track is not None:
        pos = np.asarray(walker_track.positions, float)
        head = np.asarray(walker_track.headings, float)
        if len(pos) != n_frames or head.shape != pos.shape:
            raise LikenessError(f"actor track: walker_track has {len(pos)} frames, the shot {n_frames}")
        walked = np.asarray(walker_track.arc_m, float) - float(walker_track.arc_m[0])
        anim = animation_time_s(actor, walked, t, walking)
        return ActorTrack(t, pos, head, frame_indices(actor, anim), walked, walking,
                          walk_legs(actor, pos, head, fps))

    pts = np.asarray(route, float)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 2 or not np.isfinite(pts).all():
        raise LikenessError(f"actor track: route must be (K, 3) finite points with K >= 2, got {pts.shape}")
    path = SmoothPath(pts, dyn.corner_radius_m)
    s_cam = walk_arc_length(t, dyn)
    if placement == "fixed":
        s = np.full(n_frames, distance_m)
        tangent = _tangents(path, s)
        pos, head = path.at(s), -tangent
        walked = np.zeros(n_frames)
        anim = animation_time_s(actor, walked, t, False)
        if walking:  # a walk capture standing still: hold the loop's first frame
            anim = np.zeros(n_frames)
        return ActorTrack(t, pos, head, frame_indices(actor, anim), walked, False)
    if placement == "toward":
        s_end = float(s_cam[-1]) + distance_m
        walked = dyn.speed_mps * t
        s = s_end + dyn.speed_mps * (t[-1] - t)
        tangent = _tangents(path, s)
        pos, head = path.at(s) + TOWARD_OFFSET_M * _left(tangent), -tangent
    else:
        s = s_cam + distance_m
        walked = s_cam - s_cam[0]
        tangent = _tangents(path, s)
        pos, head = path.at(s), tangent
        if placement == "beside":
            pos = pos + BESIDE_OFFSET_M * _left(tangent)
    anim = animation_time_s(actor, walked, t, walking)
    return ActorTrack(t, pos, head, frame_indices(actor, anim), walked, walking, walk_legs(actor, pos, head, fps))


__all__ = ["ActorTrack", "PLACEMENTS", "actor_track", "animation_time_s", "frame_indices", "walk_legs"]
