"""Third-person camera rigs around a walker: follow (over the shoulder), side tracking, front
(walking toward the camera), orbit and rising drone. Each is a pure function of the route, a
RigSpec (frame rate and count, image size, field of view, the walker's gait) and a few rig
parameters, and returns the per-frame cameras plus the walker's own track (ground position and
heading) so the renderer can place an actor there.

The walker moves by the same arc-length law as the first-person walk (`walk_arc_length` on a
`SmoothPath`). Cameras ride on the walker's mean-speed law (no per-step surge, as a dolly or a
drone would) and take their sideways directions from a tangent averaged over several metres,
so corners turn them smoothly instead of snapping them round."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ShotError
from .track import CameraFrame, intrinsics, look_at
from .walk import RigSpec, SmoothPath, walk_arc_length, walk_frames

CHEST_FRACTION = 0.78  # chest height as a fraction of eye height (1.29 m for 1.65 m eyes)
SMOOTH_HALF_M = 0.75  # camera paths are the route averaged over ±this many metres along it
_EXTEND_M = 10_000.0  # straight extension past the route's ends
RIGS = ("walk", "follow", "side", "front", "orbit", "drone")


@dataclass(frozen=True)
class WalkerTrack:
    """The walker seen by a third-person rig: times (N,) s, ground points (N, 3) m, unit
    horizontal headings (N, 3), distance walked (N,) m, and eye height m."""

    times_s: np.ndarray
    positions: np.ndarray
    headings: np.ndarray
    arc_m: np.ndarray
    eye_height_m: float

    @property
    def chest(self) -> np.ndarray:
        """Chest points (N, 3): where a rig aims to keep the walker framed."""
        return self.positions + np.array([0.0, 0.0, CHEST_FRACTION * self.eye_height_m])

    @property
    def yaw_deg(self) -> np.ndarray:
        """Heading angle (N,) in degrees counter-clockwise from east."""
        return np.degrees(np.arctan2(self.headings[:, 1], self.headings[:, 0]))


class _Path:
    """SmoothPath extended straight past both ends (a follow cam starts behind the first step),
    with a box-averaged form for cameras: the resampled path is piecewise linear, so a camera
    riding it would feel each 25 cm kink; its exact running mean is C1 (no velocity jumps)."""

    def __init__(self, route: np.ndarray, corner_radius_m: float):
        smooth = SmoothPath(route, corner_radius_m)
        pts, cum = smooth.points, smooth.cum
        d0, d1 = pts[1] - pts[0], pts[-1] - pts[-2]
        d0, d1 = d0 / max(np.linalg.norm(d0), 1e-9), d1 / max(np.linalg.norm(d1), 1e-9)
        self.cum = np.concatenate([[-_EXTEND_M], cum, [cum[-1] + _EXTEND_M]])
        self.points = np.vstack([pts[0] - _EXTEND_M * d0, pts, pts[-1] + _EXTEND_M * d1])
        seg = np.diff(self.cum)
        # integral of the path from the first vertex to each vertex (trapezoids)
        trapezoids = 0.5 * seg[:, None] * (self.points[1:] + self.points[:-1])
        integral = np.concatenate([[np.zeros(3)], np.cumsum(trapezoids, 0)])
        self.integral = integral - integral[1]  # zero at the route's start keeps the numbers small there

    def at(self, s: np.ndarray) -> np.ndarray:
        """Points (N, 3) at arc lengths s (N,)."""
        s = np.asarray(s, float)
        return np.stack([np.interp(s, self.cum, self.points[:, i]) for i in range(3)], -1)

    def _integral_to(self, s: np.ndarray) -> np.ndarray:
        s = np.clip(np.asarray(s, float), self.cum[0], self.cum[-1])
        j = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.cum) - 2)
        x = (s - self.cum[j])[:, None]
        slope = (self.points[j + 1] - self.points[j]) / (self.cum[j + 1] - self.cum[j])[:, None]
        return self.integral[j] + x * self.points[j] + 0.5 * x * x * slope

    def smooth_at(self, s: np.ndarray, half_m: float = SMOOTH_HALF_M) -> np.ndarray:
        """Points (N, 3): the path's mean over [s - half_m, s + half_m] (exact)."""
        s = np.asarray(s, float)
        return (self._integral_to(s + half_m) - self._integral_to(s - half_m)) / (2 * half_m)

    def tangent(self, s: np.ndarray, half_window_m: float) -> np.ndarray:
        """Unit horizontal tangents (N, 3): the chord over s ± half_window_m, i.e. the path
        direction averaged over that window."""
        d = self.smooth_at(s + half_window_m) - self.smooth_at(s - half_window_m)
        d[:, 2] = 0.0
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)


def _left(tangent: np.ndarray) -> np.ndarray:
    return np.stack([-tangent[:, 1], tangent[:, 0], np.zeros(len(tangent))], 1)


def _check_route(route, rig: str) -> np.ndarray:
    """The route as (K, 3) floats, or a ShotError naming camera.<rig>."""
    where = f"camera.{rig}"
    pts = np.asarray(route, float) if not isinstance(route, str) else np.zeros((0,))
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 2 or not np.all(np.isfinite(pts)):
        raise ShotError(f"{where}: route must be (K, 3) finite ground points with K >= 2, got shape {pts.shape}")
    if np.linalg.norm(np.diff(pts, axis=0), axis=1).sum() < 0.5:
        raise ShotError(f"{where}: route is shorter than 0.5 m; give waypoints that go somewhere")
    return pts


def _param(value, name: str, rig: str, lo: float = 0.0, hi: float = 1000.0, lo_open: bool = True) -> float:
    """A finite rig parameter in (lo, hi] (or [lo, hi]), else ShotError naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        raise ShotError(f"camera.{rig}.{name}: {value!r} is not a number in {bracket}{lo:g}, {hi:g}]")
    return float(value)


def walker_track(route: np.ndarray, spec: RigSpec) -> WalkerTrack:
    """Where the walker is in each frame: the first-person walk's arc-length law on the same
    smoothed route, heading from the same ±0.5 m tangent as `walk_frames`."""
    dyn = spec.dynamics
    path = SmoothPath(np.asarray(route, float), dyn.corner_radius_m)
    t = spec.times_s
    s = walk_arc_length(t, dyn)
    tangent = path.at(s + 0.5) - path.at(np.maximum(s - 0.5, 0.0))
    tangent[:, 2] = 0.0
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    return WalkerTrack(t, path.at(s), tangent, s, dyn.eye_height_m)


def _frames(eye: np.ndarray, target: np.ndarray, times: np.ndarray, spec: RigSpec) -> list[CameraFrame]:
    size = (int(spec.size_px[0]), int(spec.size_px[1]))
    K = intrinsics(spec.fov_deg, size)
    out = []
    for i in range(len(eye)):
        R, t = look_at(eye[i], target[i])
        out.append(CameraFrame(i, float(times[i]), R, t, K, size))
    return out


def _setup(route, spec: RigSpec, rig: str):
    pts = _check_route(route, rig)
    spec.check(rig)
    walker = walker_track(pts, spec)
    path = _Path(pts, spec.dynamics.corner_radius_m)
    mean_s = spec.dynamics.speed_mps * walker.times_s  # <= walker.arc_m at every frame (the surge only adds)
    return walker, path, mean_s


def follow_frames(route: np.ndarray, spec: RigSpec, *, distance_m: float = 2.5, height_m: float = 1.9,
                  shoulder_m: float = 0.4, lead_m: float = 4.0, target_height_m: float = 1.5
                  ) -> tuple[list[CameraFrame], WalkerTrack]:
    """Follow-cam `distance_m` behind the walker along the route (an arc-length lag, so it is
    never ahead), `height_m` above the ground and `shoulder_m` to the walker's right (negative:
    left), looking at a point `lead_m` ahead of the walker at `target_height_m`."""
    distance_m = _param(distance_m, "distance_m", "follow", 0.0, 100.0)
    height_m = _param(height_m, "height_m", "follow", 0.0, 200.0)
    shoulder_m = _param(shoulder_m, "shoulder_m", "follow", -20.0, 20.0, lo_open=False)
    lead_m = _param(lead_m, "lead_m", "follow", 0.0, 200.0)
    target_height_m = _param(target_height_m, "target_height_m", "follow", 0.0, 200.0, lo_open=False)
    walker, path, mean_s = _setup(route, spec, "follow")
    s_cam = mean_s - distance_m
    cam_dir = path.tangent(s_cam, max(1.5, 0.6 * distance_m))
    eye = path.smooth_at(s_cam) - shoulder_m * _left(cam_dir) + np.array([0.0, 0.0, height_m])
    # aim ahead of the walker along the mean of the camera's and the walker's directions: on a
    # corner the view turns with the walker but keeps them in frame instead of cutting ahead
    aim = cam_dir + path.tangent(mean_s, 1.5)
    aim /= np.maximum(np.linalg.norm(aim, axis=1, keepdims=True), 1e-9)
    target = path.smooth_at(mean_s) + lead_m * aim + np.array([0.0, 0.0, target_height_m])
    return _frames(eye, target, walker.times_s, spec), walker


def side_frames(route: np.ndarray, spec: RigSpec, *, distance_m: float = 3.5, side: str = "left",
                height_m: float = 1.5) -> tuple[list[CameraFrame], WalkerTrack]:
    """Side tracking shot: the camera keeps `distance_m` to the walker's `side` ('left' or
    'right'), `height_m` above the ground, moving parallel to the route and aimed at the
    walker's chest. The sideways direction is the route tangent averaged over ±1.5 distance_m,
    so on the inside of a corner the camera slows down instead of swinging round."""
    distance_m = _param(distance_m, "distance_m", "side", 0.0, 100.0)
    height_m = _param(height_m, "height_m", "side", 0.0, 200.0)
    if side not in ("left", "right"):
        raise ShotError(f"camera.side.side: {side!r} is not 'left' or 'right'")
    walker, path, mean_s = _setup(route, spec, "side")
    sign = 1.0 if side == "left" else -1.0
    normal = _left(path.tangent(mean_s, 1.5 * distance_m)) * sign
    ground = path.smooth_at(mean_s)
    eye = ground + distance_m * normal + np.array([0.0, 0.0, height_m])
    target = ground + np.array([0.0, 0.0, CHEST_FRACTION * spec.dynamics.eye_height_m])
    return _frames(eye, target, walker.times_s, spec), walker


def front_frames(route: np.ndarray, spec: RigSpec, *, distance_m: float = 4.0,
                 height_m: float = 1.6) -> tuple[list[CameraFrame], WalkerTrack]:
    """The walker walks toward the camera: it rides `distance_m` ahead along the route at the
    walking speed, `height_m` above the ground, looking back at the walker's chest."""
    distance_m = _param(distance_m, "distance_m", "front", 0.0, 100.0)
    height_m = _param(height_m, "height_m", "front", 0.0, 200.0)
    walker, path, mean_s = _setup(route, spec, "front")
    eye = path.smooth_at(mean_s + distance_m) + np.array([0.0, 0.0, height_m])
    target = path.smooth_at(mean_s) + np.array([0.0, 0.0, CHEST_FRACTION * spec.dynamics.eye_height_m])
    return _frames(eye, target, walker.times_s, spec), walker


def orbit_frames(route: np.ndarray, spec: RigSpec, *, radius_m: float = 6.0, height_m: float = 2.5,
                 degrees_total: float = 120.0, target_m=None, start_deg: float | None = None
                 ) -> tuple[list[CameraFrame], WalkerTrack]:
    """Orbit at `radius_m` (horizontal) and `height_m` above the walker's mid-shot ground around
    `target_m` (3,) — by default the walker's chest at mid-shot — turning `degrees_total` at a
    constant rate over the shot (negative: clockwise). `start_deg` is the camera's bearing from
    the target (counter-clockwise from east); by default the arc is centred behind the walker."""
    radius_m = _param(radius_m, "radius_m", "orbit", 0.0, 10_000.0)
    height_m = _param(height_m, "height_m", "orbit", -10_000.0, 10_000.0)
    degrees_total = _param(degrees_total, "degrees_total", "orbit", -3600.0, 3600.0, lo_open=False)
    walker, _, _ = _setup(route, spec, "orbit")
    n_frames = spec.n_frames
    mid = (n_frames - 1) // 2
    if target_m is None:
        target = walker.chest[mid]
    else:
        target = np.asarray(target_m, float)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ShotError(f"camera.orbit.target_m: expected 3 finite numbers [x, y, z] m, got {target_m!r:.60}")
    if start_deg is None:
        start_deg = float(walker.yaw_deg[mid]) + 180.0 - degrees_total / 2
    start_deg = _param(start_deg, "start_deg", "orbit", -3600.0, 3600.0, lo_open=False)
    span = max(n_frames - 1, 1)
    bearing = np.radians(start_deg + degrees_total * np.arange(n_frames) / span)
    ground_z = walker.positions[mid, 2]
    eye = np.stack([target[0] + radius_m * np.cos(bearing), target[1] + radius_m * np.sin(bearing),
                    np.full(n_frames, ground_z + height_m)], 1)
    return _frames(eye, np.repeat(target[None], n_frames, 0), walker.times_s, spec), walker


DRONE_SKY_DEG = 6.0  # the drone's top image row looks at least this far above the horizon
DRONE_WALKER_MARGIN_DEG = 4.0  # and the walker's chest stays this far inside the bottom edge
DRONE_PROBE_M = 3.0  # roofs within this radius of the drone count as under it (near plane, rotors)


def drone_frames(route: np.ndarray, spec: RigSpec, roofs=None, *, altitude_m: float | None = None,
                 back_m: float = 3.0, start_height_m: float | None = None, forward_fraction: float = 0.5,
                 lead_m: float = 6.0, rise_s: float | None = None, clearance_m: float = 4.0
                 ) -> tuple[list[CameraFrame], WalkerTrack]:
    """Drone: rises with smoothstep easing from `start_height_m` (default 8 m under the
    altitude; eye height + 0.2 m gives a rise from the street) to `altitude_m` over `rise_s`
    (default: the whole shot), flying behind the walker along the route at `forward_fraction`
    of the walking speed and falling back as it rises (at least `back_m`) so the walker stays
    in frame; it looks down the street toward the route `lead_m` ahead of the walker, pitched
    down no more than keeps the top rows `DRONE_SKY_DEG` above the horizon (rooftops, street
    and sky in view). Heights are above the route's ground under the drone.

    `roofs(x, y) -> z` (the top surface under a point, e.g. `ground_height_fn` of the scene)
    moves it sideways over the open street (up to 8 m, one shift for the shot) and keeps it out
    of buildings: the default altitude clears the roofs beside the street (the median over the
    shot of the highest roof up to 15 m either side of drone and walker) by `clearance_m`, at
    least 25 m; wherever a roof within DRONE_PROBE_M would come closer than `clearance_m` the
    drone is lifted, smoothly, over it. Without `roofs` the default altitude is 25 m."""
    if altitude_m is not None:
        altitude_m = _param(altitude_m, "altitude_m", "drone", 0.0, 10_000.0)
    back_m = _param(back_m, "back_m", "drone", 0.0, 1000.0, lo_open=False)
    forward_fraction = _param(forward_fraction, "forward_fraction", "drone", 0.0, 0.95, lo_open=False)
    lead_m = _param(lead_m, "lead_m", "drone", 0.0, 1000.0)
    clearance_m = _param(clearance_m, "clearance_m", "drone", 0.0, 1000.0, lo_open=False)
    walker, path, mean_s = _setup(route, spec, "drone")
    duration_s = max((spec.n_frames - 1) / spec.fps, 1e-9)
    rise_s = duration_s if rise_s is None else _param(rise_s, "rise_s", "drone", 0.0, 1e6)
    half_v = math.atan(math.tan(math.radians(spec.fov_deg) / 2) * spec.size_px[1] / spec.size_px[0])
    pitch_max = max(half_v - math.radians(DRONE_SKY_DEG), math.radians(3.0))
    walker_down = pitch_max + half_v - math.radians(DRONE_WALKER_MARGIN_DEG)
    chest_m = CHEST_FRACTION * spec.dynamics.eye_height_m
    u = np.clip(walker.times_s / rise_s, 0.0, 1.0)
    ease = u * u * (3.0 - 2.0 * u)

    def track(alt: float, offset_m: float = 0.0) -> np.ndarray:
        h0 = alt - 8.0 if start_height_m is None else start_height_m
        h0 = _param(h0, "start_height_m", "drone", 0.0, 10_000.0)
        height = h0 + (alt - h0) * ease
        back = np.maximum(back_m, (height - chest_m) / math.tan(walker_down))
        s_cam = forward_fraction * mean_s - back
        side = offset_m * _left(path.tangent(s_cam, 3.0)) if offset_m else 0.0
        return path.smooth_at(s_cam) + side + height[:, None] * np.array([0.0, 0.0, 1.0])

    alt = 25.0 if altitude_m is None else altitude_m
    offset = 0.0 if roofs is None else _open_offset(roofs, lambda o: track(alt, o))
    base_track = track
    track = lambda a: base_track(a, offset)  # noqa: E731  (the same flight, shifted over the open street)
    if roofs is not None and altitude_m is None:
        # over most roofs on both sides of the street; the lift below takes it over a taller one
        walk = path.smooth_at(mean_s)[::4]
        walk_left = _left(path.tangent(mean_s, 3.0))[::4]
        sides = [[roofs(x, y) for x, y, _ in base_track(alt, offset + o)[::4]] +
                 [roofs(x, y) for x, y, _ in walk + o * walk_left] for o in DRONE_BESIDE_M]
        canyon_top = np.max(np.array(sides), axis=0)  # the highest roof beside drone and walker
        alt = max(alt, float(np.median(canyon_top)) + clearance_m)
    eye = track(alt)
    if roofs is not None:
        eye[:, 2] += _smooth_lift(_roof_heights(roofs, eye) + clearance_m - eye[:, 2], spec.fps)
    target = path.smooth_at(mean_s + lead_m)
    d = target - eye
    horiz = np.maximum(np.linalg.norm(d[:, :2], axis=1), 1e-6)
    target[:, 2] = np.maximum(target[:, 2], eye[:, 2] - horiz * math.tan(pitch_max))
    return _frames(eye, target, walker.times_s, spec), walker


DRONE_BESIDE_M = (-15.0, -10.0, -5.0, 5.0, 10.0, 15.0)  # where the roofs beside the street are looked for
DRONE_SHIFTS_M = (0.0, 2.0, -2.0, 4.0, -4.0, 6.0, -6.0, 8.0, -8.0)  # sideways, tried in this order


def _open_offset(roofs, track_at) -> float:
    """The sideways shift (m, + = left of the route) that puts the drone over open street rather
    than over the roofs beside the walk: the one with the lowest mean roof under a quarter of
    its frames; the smallest shift wins a tie (within 0.5 m)."""
    best, best_cost = 0.0, np.inf
    for off in DRONE_SHIFTS_M:
        eye = track_at(off)[::4]
        cost = float(np.mean(_roof_heights(roofs, eye)))
        if cost < best_cost - 0.5:
            best, best_cost = off, cost
    return best


def _roof_heights(roofs, eye: np.ndarray) -> np.ndarray:
    """The highest roof (N,) m under each eye point or within DRONE_PROBE_M of it (9 probes)."""
    offsets = [(0.0, 0.0)] + [(DRONE_PROBE_M * math.cos(a), DRONE_PROBE_M * math.sin(a))
                              for a in np.linspace(0, 2 * math.pi, 8, endpoint=False)]
    return np.array([max(float(roofs(x + dx, y + dy)) for dx, dy in offsets) for x, y, _ in eye])


def _smooth_lift(need_m: np.ndarray, fps: float, climb_mps: float = 5.0, window_s: float = 1.0) -> np.ndarray:
    """A smooth lift (N,) >= max(need_m, 0) at every frame: an envelope over the need that
    climbs and sinks at most `climb_mps` (raised by the climb over `window_s`, a forward and a
    backward pass), box-averaged over ±window_s; the average of a curve of slope <= v over ±h
    is at least its middle value - v h, which the raise pays for. Acceleration <= v / h."""
    need = np.maximum(need_m, 0.0)
    if not need.any():
        return need
    h = max(1, int(round(window_s * fps)))
    step = climb_mps / fps
    env = np.where(need > 0, need + climb_mps * window_s, 0.0)
    for i in range(1, len(env)):
        env[i] = max(env[i], env[i - 1] - step)
    for i in range(len(env) - 2, -1, -1):
        env[i] = max(env[i], env[i + 1] - step)
    padded = np.pad(env, h, mode="edge")
    return np.convolve(padded, np.ones(2 * h + 1) / (2 * h + 1), mode="valid")


_RIG_FUNCS = {"follow": follow_frames, "side": side_frames, "front": front_frames, "orbit": orbit_frames,
              "drone": drone_frames}


def rig_params(rig: str) -> tuple[str, ...]:
    """The keyword parameters a rig accepts (for help text and validation)."""
    if rig == "walk":
        return ()
    if rig == "keyframes":
        raise ShotError("camera.rig 'keyframes' takes keys, not rig parameters: use keyframes.keyframe_frames")
    if rig not in _RIG_FUNCS:
        raise ShotError(f"camera.rig: '{rig}' is unknown; use one of {', '.join(RIGS)} or keyframes")
    sig = inspect.signature(_RIG_FUNCS[rig])
    return tuple(n for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)


def rig_frames(rig: str, route: np.ndarray, spec: RigSpec, roofs=None,
               **params) -> tuple[list[CameraFrame], WalkerTrack | None]:
    """Cameras for `rig` (walk | follow | side | front | orbit | drone) and, for the
    third-person rigs, the walker's track; `params` are the rig's keyword parameters;
    `roofs(x, y) -> z` (the scene's top surface) keeps the drone out of buildings."""
    accepted = rig_params(rig)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        raise ShotError(f"camera.{rig}: unknown parameter '{unknown[0]}'; accepted: {listed}")
    if rig == "walk":
        pts = _check_route(route, rig)
        spec.check(rig)
        return walk_frames(pts, spec), None
    if rig == "drone":
        return drone_frames(route, spec, roofs, **params)
    return _RIG_FUNCS[rig](route, spec, **params)


__all__ = ["RIGS", "RigSpec", "WalkerTrack", "walker_track", "follow_frames", "side_frames", "front_frames",
           "orbit_frames", "drone_frames", "rig_frames", "rig_params"]
