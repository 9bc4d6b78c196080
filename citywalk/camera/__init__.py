"""Camera rigs and paths: the first-person walk, rigs around the walker, keyframes."""

from __future__ import annotations

import numpy as np

from ..scene import FACADE, Scene
from .route import auto_route, clear_straight_route, drape, straight_route, wall_points_xy, waypoint_route
from .track import CameraFrame, intrinsics, look_at
from .walk import RigSpec, WalkDynamics, walk_distance_m, walk_frames

__all__ = ["CameraFrame", "intrinsics", "look_at", "RigSpec", "WalkDynamics", "camera_frames", "plan_route",
           "rig_spec"]


def dynamics_from_spec(cam) -> WalkDynamics:
    """The walker's gait from a Shot's camera section."""
    return WalkDynamics(speed_mps=cam.speed_mps, eye_height_m=cam.eye_height_m, step_hz=cam.step_hz,
                        bob_m=cam.bob_m, sway_m=cam.sway_m, look_ahead_m=cam.look_ahead_m)


def rig_spec(shot) -> RigSpec:
    """What every rig of a Shot shares: its output's frame rate, frame count and size, the
    camera's field of view and the walker's gait."""
    out = shot.output
    return RigSpec(out.fps, out.frame_count, tuple(out.size), shot.camera.fov_deg, dynamics_from_spec(shot.camera))


ROOMY_RIGS = ("side", "orbit")


def plan_route(scene: Scene, shot) -> np.ndarray:
    """The ground route (K, 3) of a Shot: waypoints in metres or lat/lon from the Shot, else an
    automatic walk on the scene's walk network, else straight through the middle of the scene.
    On worlds with a ground function (imported meshes) the route is draped over the ground."""
    dyn = dynamics_from_spec(shot.camera)
    walk_m = walk_distance_m(shot.output.duration_s, dyn)
    cam = shot.camera
    if cam.route_latlon is not None:
        from ..sources.geo import EnuFrame

        frame = EnuFrame(*scene.origin_latlon)
        enu = frame.from_geodetic(
            np.array([p[0] for p in cam.route_latlon]), np.array([p[1] for p in cam.route_latlon]), 0.0
        )
        route = waypoint_route([[float(x), float(y)] for x, y in np.asarray(enu)[:, :2]])
    elif cam.route != "auto":
        route = waypoint_route(cam.route)
    elif scene.capture_cameras_m is not None and len(scene.capture_cameras_m) >= 2:
        centres = np.asarray(scene.capture_cameras_m, float)
        route = np.column_stack([centres[:, :2], np.zeros(len(centres))])  # walk the capture's path on the ground
    elif scene.network is not None and len(scene.network.edges):
        rng = np.random.default_rng(shot.scene.seed + 1)
        street = cam.street
        if street == "auto":  # a side or orbiting camera needs the room of a street with sidewalks
            street = "main" if cam.rig in ROOMY_RIGS else "side"
        return auto_route(scene.network, walk_m, rng, street=street, approach_m=dyn.look_ahead_m,
                          margin_m=dyn.look_ahead_m + 2.0, buildings_xy=wall_points_xy(scene.meshes, (FACADE,)))
    else:
        route = straight_route(scene.bounds_m, walk_m, dyn.look_ahead_m + 2.0)
        if scene.ground_fn is not None:
            route = clear_straight_route(route, scene.ground_fn, scene.bounds_m)
    if scene.ground_fn is not None:
        route = drape(route, scene.ground_fn)
    return route


def camera_rig(scene: Scene, shot, route: np.ndarray | None = None):
    """Per-frame cameras for a Shot on a Scene — the first-person walk, a rig around the walker
    (follow, side, front, orbit, drone) or keyframes — and the walker's track for the rigs that
    film a walker (None otherwise)."""
    out, cam = shot.output, shot.camera
    if cam.rig == "keyframes":
        from .keyframes import keyframe_frames

        return keyframe_frames(cam.keyframes, out.fps, out.frame_count, tuple(out.size), where="camera.keyframes"), None
    if route is None:
        route = plan_route(scene, shot)
    spec = rig_spec(shot)
    if cam.rig == "walk":
        return walk_frames(route, spec), None
    from .rigs import rig_frames

    params = dict(cam.rig_params)
    if cam.rig == "side" and "side" not in params:
        params["side"] = open_side(scene, route)
    roofs = None
    if cam.rig == "drone":  # the drone flies over the roofs, never through a building
        from ..sources.meshes import ground_height_fn

        roofs = ground_height_fn(scene)
    return rig_frames(cam.rig, route, spec, roofs, **params)


def open_side(scene: Scene, route: np.ndarray) -> str:
    """'left' or 'right' of the walk, whichever faces the middle of the nearest street (where a
    side camera has room), from the scene's street centre lines; 'left' when there are none."""
    if not scene.streets or len(route) < 2:
        return "left"
    mid = route[len(route) // 2, :2]
    direction = route[-1, :2] - route[0, :2]
    best, toward = np.inf, None
    for st in scene.streets:
        line = np.asarray(st.centerline, float)
        for a, b in zip(line[:-1], line[1:]):
            ab = b - a
            u = np.clip((mid - a) @ ab / max(ab @ ab, 1e-9), 0, 1)
            p = a + u * ab
            d = np.linalg.norm(mid - p)
            if d < best:
                best, toward = d, p - mid
    left = np.array([-direction[1], direction[0]])
    return "left" if toward @ left >= 0 else "right"


def camera_frames(scene: Scene, shot, route: np.ndarray | None = None) -> list[CameraFrame]:
    """Per-frame cameras for a Shot on a Scene (see camera_rig)."""
    return camera_rig(scene, shot, route)[0]
