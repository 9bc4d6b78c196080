"""Life in the streets: pedestrians on the sidewalks and cars in the lanes of main streets.

Reads the Scene (streets, mesh walls and props, the ground), takes the camera's and actors'
per-frame positions as plain arrays from the pipeline, and produces per-frame agent states that
render/ draws as instances of a few shared meshes. Everything is seeded and deterministic.
See design.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene import Scene
from .bodies import INSTANCE_FLOATS, ellipsoid_mesh, limb_mesh, pedestrian_instances
from .crowd import CROWD_LEVELS, Population, check_crowd, spawn
from .gait import Gait, walk_cycle
from .lanes import ClearanceField, Lane, ground_fn, mesh_slices, walk_lanes
from .steer import CrowdTrack, simulate
from .traffic import TrafficTrack, car_instances, car_lanes, car_mesh, simulate_traffic

DRAW_DISTANCE_M = 140.0  # agents farther from the camera than this are not drawn
NEAR_LOD_M = 25.0        # people farther than this are drawn with fewer triangles, no hands or neck


@dataclass
class Agents:
    """A shot's agents: the population, its track and gait, the traffic, and where they walk."""

    level: str
    lanes: list[Lane]
    field: ClearanceField | None
    population: Population
    track: CrowdTrack
    gait: Gait
    traffic: TrafficTrack

    @property
    def n_frames(self) -> int:
        return len(self.track.xy)

    def instances(self, frame: int, camera=None) -> dict[str, np.ndarray]:
        """Instance rows (n, 17) per shared mesh at `frame`: 'limb' and 'ellipsoid' for people
        near the camera, 'limb_far' and 'ellipsoid_far' (fewer triangles) beyond NEAR_LOD_M,
        'car'. With a CameraFrame `camera`, agents outside its view or beyond DRAW_DISTANCE_M are
        left out."""
        f = int(np.clip(frame, 0, self.n_frames - 1))
        pop, g = self.population, self.gait
        dist = np.zeros(len(pop))
        keep = np.ones(len(pop), bool)
        if camera is not None and len(pop):
            xyz = np.concatenate([self.track.xy[f], g.ground_z[f, :, None] + 0.9], 1)
            keep, dist = _in_view(camera, xyz, 1.1)
        out = {}
        for key, sel in (("", keep & (dist <= NEAR_LOD_M)), ("_far", keep & (dist > NEAR_LOD_M))):
            rows = pedestrian_instances(g.joints[f, sel].astype(np.float64), g.heading[f, sel].astype(np.float64),
                                        pop.height_m[sel], pop.build[sel], pop.colors[sel], pop.skirt[sel],
                                        g.ground_z[f, sel], detail=not key)
            out["limb" + key], out["ellipsoid" + key] = rows["limb"], rows["ellipsoid"]
        cars = car_instances(self.traffic, f) if self.traffic.position.shape[1] else \
            np.zeros((0, INSTANCE_FLOATS), np.float32)
        if camera is not None and len(cars):
            cars = cars[_in_view(camera, cars[:, 9:12].astype(np.float64) + [0, 0, 0.8], 2.6)[0]]
        out["car"] = cars
        return out


def _in_view(camera, xyz: np.ndarray, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Which points (n, 3) have a sphere of `radius_m` inside the camera's view and closer than
    DRAW_DISTANCE_M, and their distances."""
    pc = xyz @ np.asarray(camera.R, float).T + np.asarray(camera.t, float)
    dist = np.linalg.norm(pc, axis=1)
    K, (w, h) = np.asarray(camera.K, float), camera.size_px
    z = np.maximum(pc[:, 2], 1e-6)
    slack = radius_m / z
    ok = (pc[:, 2] > -radius_m) & (dist < DRAW_DISTANCE_M)
    ok &= np.abs(pc[:, 0] / z - (w / 2 - K[0, 2]) / K[0, 0]) < w / 2 / K[0, 0] + slack * 1.5
    ok &= np.abs(pc[:, 1] / z - (h / 2 - K[1, 2]) / K[1, 1]) < h / 2 / K[1, 1] + slack * 1.5
    ok |= dist < radius_m * 2
    return ok, dist


def plan_agents(scene: Scene, level: str, seed: int, fps: float, n_frames: int, camera_xy: np.ndarray,
                actors_xy: np.ndarray | None = None) -> Agents | None:
    """The agents of a shot at crowd `level` ('none' → None): camera_xy (N, 2) and actors_xy
    (N, A, 2) per frame are what pedestrians make way for and cars stop for."""
    level = check_crowd(level)
    if level == "none":
        return None
    n = int(n_frames)
    cam = np.asarray(camera_xy, float).reshape(n, 1, 2)
    act = np.zeros((n, 0, 2)) if actors_xy is None else np.asarray(actors_xy, float).reshape(n, -1, 2)
    movers = np.concatenate([cam, act], axis=1)
    ground = ground_fn(scene)
    lanes = walk_lanes(scene)
    empty = Population(*(np.zeros(0, t) for t in (int, float, float, float, float, float, float, float, float)),
                       np.zeros((0, 5, 3)), np.zeros(0, bool))
    field = None
    pop = empty
    segments = mesh_slices(scene)
    if lanes:
        field = ClearanceField(segments, lanes)
        pop = spawn(lanes, field, level, seed, movers[0])
    track = simulate(lanes, pop, field, fps, n, movers) if len(pop) else \
        CrowdTrack(np.zeros((n, 0, 2)), np.zeros((n, 0), int), np.zeros((n, 0)), np.zeros((n, 0)))
    first = np.zeros((len(pop), 2))
    for i in range(len(pop)):
        _, t, _ = lanes[pop.lane[i]].frame([pop.s_m[i]])
        first[i] = t[0] * pop.direction[i]
    gait = walk_cycle(track.xy, fps, pop.height_m, pop.build, pop.speed_mps, first, ground)
    traffic = simulate_traffic(car_lanes(scene, ground, segments), level, seed, fps, n, movers, ground)
    return Agents(level, lanes, field, pop, track, gait, traffic)


def crowd_for_shot(shot) -> str:
    """The Shot's crowd level: look.crowd, or for 'style' the style's own default on generated and
    map worlds (procedural, osm) and none on imported ones (mesh, tiles, splat, …)."""
    level = str(shot.look.crowd)
    if level != "style":
        return check_crowd(level)
    if shot.scene.source not in ("procedural", "osm"):
        return "none"
    from ..sources.procedural import load_style

    return check_crowd(load_style(shot.scene.style).traffic.crowd, "style traffic.crowd")


def unit_meshes() -> dict:
    """The shared meshes the instances refer to, by name."""
    return {"limb": limb_mesh(), "ellipsoid": ellipsoid_mesh(), "limb_far": limb_mesh(5, far=True),
            "ellipsoid_far": ellipsoid_mesh(6, 5), "car": car_mesh()}


__all__ = ["Agents", "CROWD_LEVELS", "check_crowd", "crowd_for_shot", "plan_agents", "unit_meshes"]
