"""Moving traffic: cars in lanes on the main streets, one lane each way, following each other
with a safe headway (the intelligent driver model) and braking for the camera or an actor in
the lane. Deterministic fixed-step simulation; cars leaving a lane's end re-enter at its start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene import Scene
from .lanes import Lane, _offset_polyline

CAR_LENGTH_M, CAR_WIDTH_M = 4.4, 1.76
MIN_GAP_M = 2.5            # bumper to bumper at standstill
HEADWAY_S = 1.3
ACCEL_MPS2, BRAKE_MPS2 = 1.4, 2.5
DENSITY_PER_M = {"none": 0.0, "light": 0.012, "busy": 0.03}   # cars per metre of lane
CAR_COLORS = np.array([(0.75, 0.75, 0.74), (0.02, 0.02, 0.025), (0.45, 0.46, 0.48), (0.6, 0.03, 0.02),
                       (0.03, 0.08, 0.25), (0.8, 0.8, 0.78), (0.18, 0.18, 0.2), (0.5, 0.42, 0.1),
                       (0.9, 0.7, 0.05)])


@dataclass
class TrafficTrack:
    """Cars per frame: position (N, C, 3) m at the ground under the car's centre, unit heading
    (N, C, 2), lane index (C,), and body colours (C, 3) linear."""

    position: np.ndarray
    heading: np.ndarray
    lane: np.ndarray
    colors: np.ndarray


def car_lanes(scene: Scene, ground, segments: np.ndarray) -> list[Lane]:
    """One lane each way along every main street wide enough for two cars abreast: the offset
    nearest a quarter of the carriageway whose whole length is dry road (no canal) and clear of
    everything standing in the scene's `segments` (parked cars, tram stops, bollards)."""
    from .lanes import ClearanceField

    lanes = []
    for st in scene.streets:
        if st.kind != "main" or st.road_width_m < 2 * CAR_WIDTH_M + 1.5:
            continue
        pts = np.asarray(st.centerline, float)[:, :2]
        half = st.road_width_m / 2
        offsets = sorted(np.arange(1.1, half - CAR_WIDTH_M / 2 - 0.3 + 1e-9, 0.25), key=lambda o: abs(o - half / 2))
        for sgn in (1.0, -1.0):
            for off in offsets:
                line = _offset_polyline(pts, -sgn * off)
                lane = Lane(line if sgn > 0 else line[::-1], 1.2, "road", st.name)
                s = np.arange(2.0, lane.length_m - 2.0, 1.0)
                xy = lane.world(s, np.zeros(len(s)))
                if not all(abs(ground(float(x), float(y))) < 0.05 for x, y in xy[::8]):
                    continue
                clear = ClearanceField(segments, [lane], margin_m=0.5).at(xy, 0)
                if np.all(clear > CAR_WIDTH_M / 2 + 0.15):
                    lanes.append(lane)
                    break
    return lanes


def simulate_traffic(lanes: list[Lane], level: str, seed: int, fps: float, n_frames: int,
                     movers_xy: np.ndarray, ground) -> TrafficTrack:
    """Cars for crowd `level` on `lanes` over `n_frames`; `movers_xy` (N, K, 2) are the camera and
    actors, for whom cars brake when they stand in the lane."""
    rng = np.random.default_rng([int(seed), 0xCA25])
    lane_of, s0, v0 = [], [], []
    for li, ln in enumerate(lanes):
        count = int(rng.poisson(DENSITY_PER_M.get(level, 0.0) * ln.length_m))
        count = min(count, int(ln.length_m // (CAR_LENGTH_M + MIN_GAP_M + 2.0)))
        if count == 0:
            continue
        slots = np.sort(rng.choice(int(ln.length_m // (CAR_LENGTH_M + MIN_GAP_M + 2.0)), count, replace=False))
        s = slots * (CAR_LENGTH_M + MIN_GAP_M + 2.0) + rng.uniform(0, 1.5, count)
        lane_of += [li] * count
        s0 += list(s)
        v0 += list(rng.uniform(7.0, 11.5, count))
    lane_of = np.array(lane_of, int)
    s = np.array(s0, float)
    vmax = np.array(v0, float)
    c = len(s)
    v = vmax * 0.8
    colors = CAR_COLORS[rng.integers(0, len(CAR_COLORS), c)] * rng.uniform(0.85, 1.1, (c, 1))
    pos = np.zeros((n_frames, c, 3))
    head = np.zeros((n_frames, c, 2))
    movers = np.asarray(movers_xy, float).reshape(n_frames, -1, 2)
    dt = 1.0 / fps
    lengths = np.array([ln.length_m for ln in lanes]) if lanes else np.zeros(0)
    for f in range(n_frames):
        if f > 0 and c:
            s, v = _idm_step(lanes, lane_of, s, v, vmax, lengths, dt, movers[f])
        for li in np.unique(lane_of):
            m = lane_of == li
            p, t, _ = lanes[li].frame(s[m])
            pos[f, m, :2], head[f, m] = p, t
    if c:
        pos[:, :, 2] = np.array([[ground(float(x), float(y)) for x, y in pos[0, :, :2]]]).reshape(1, c)
    return TrafficTrack(pos, head, lane_of, colors)


def _idm_step(lanes, lane_of, s, v, vmax, lengths, dt, movers):
    """One step of the intelligent driver model on every lane (ring roads: the last car follows
    the first), with movers in a lane as standing obstacles."""
    acc = np.zeros(len(s))
    for li in np.unique(lane_of):
        idx = np.flatnonzero(lane_of == li)
        order = idx[np.argsort(s[idx], kind="stable")]
        L = lengths[li]
        lead_s = np.roll(s[order], -1)
        lead_v = np.roll(v[order], -1)
        gap = (lead_s - s[order]) % L - CAR_LENGTH_M
        if len(order) == 1:
            gap = np.array([1e6])
        if len(movers):
            ln = lanes[li]
            ms, md = _project(ln, movers)
            inlane = np.abs(md) < CAR_WIDTH_M / 2 + 0.6
            for k in np.flatnonzero(inlane):
                ahead = ms[k] - s[order] - CAR_LENGTH_M / 2 - 0.6
                closer = (ahead > -CAR_LENGTH_M) & (ahead < gap)
                gap = np.where(closer, np.maximum(ahead, 0.0), gap)
                lead_v = np.where(closer, 0.0, lead_v)
        vo = v[order]
        brake = 2 * np.sqrt(ACCEL_MPS2 * BRAKE_MPS2)
        s_star = MIN_GAP_M + np.maximum(0.0, vo * HEADWAY_S + vo * (vo - lead_v) / brake)
        acc[order] = ACCEL_MPS2 * (1 - (vo / vmax[order]) ** 4 - (s_star / np.maximum(gap, 0.1)) ** 2)
    v_new = np.clip(v + acc * dt, 0.0, vmax)
    s_new = s + (v + v_new) / 2 * dt
    s_new = np.mod(s_new, lengths[lane_of])
    return s_new, v_new


def _project(lane: Lane, xy: np.ndarray):
    """Arc length and left offset of points (K, 2) on a lane."""
    pts = lane.points
    best_s, best_d, best = np.zeros(len(xy)), np.zeros(len(xy)), np.full(len(xy), np.inf)
    cum = lane.cum_m
    for i, (a, b) in enumerate(zip(pts[:-1], pts[1:])):
        ab = b - a
        L = max(float(np.linalg.norm(ab)), 1e-9)
        t = ab / L
        u = np.clip((xy - a) @ t, 0, L)
        q = a + u[:, None] * t
        dist = np.linalg.norm(xy - q, axis=1)
        closer = dist < best
        d = (xy - a) @ np.array([-t[1], t[0]])
        best_s, best_d, best = (np.where(closer, cum[i] + u, best_s), np.where(closer, d, best_d),
                                np.minimum(best, dist))
    return best_s, best_d


def car_mesh():
    """The shared car: the procedural kit's car (at the origin, facing +x), with head and tail
    lights, as a UnitMesh whose body vertices take each car's colour."""
    from ..scene import EMISSIVE, Material
    from ..sources.geometry import MeshBuilder
    from ..sources.procedural import props
    from .bodies import UnitMesh

    b = MeshBuilder()
    props.car(b, (0.0, 0.0, 0.0), 0.0, (1.0, 1.0, 1.0))
    head = Material("car_headlight", (1.0, 0.95, 0.85), 0.3, emissive=60.0, kind=EMISSIVE)
    tail = Material("car_taillight", (0.9, 0.05, 0.03), 0.3, emissive=25.0, kind=EMISSIVE)
    for y in (-0.62, 0.62):
        b.box(head, (2.205, y, 0.62), (0.02, 0.3, 0.12))
        b.box(tail, (-2.205, y, 0.68), (0.02, 0.28, 0.1))
    parts = []
    for mesh in b.build():
        n = len(mesh.positions)
        mat = mesh.material
        body = mat.name == "car_body"
        col = np.asarray(mesh.colors if mesh.colors is not None else np.ones((n, 3)), float) * mat.albedo
        parts.append((mesh, col, np.full(n, 1.0 if body else 0.0), np.full(n, mat.roughness),
                      np.full(n, float(mat.kind)), np.full(n, float(mat.emissive))))
    offs = np.cumsum([0] + [len(p[0].positions) for p in parts])
    return UnitMesh(np.vstack([p[0].positions for p in parts]), np.vstack([p[0].normals for p in parts]),
                    np.vstack([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
                    np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts]),
                    np.concatenate([p[5] for p in parts]),
                    np.vstack([p[0].indices + o for p, o in zip(parts, offs)]).astype(np.uint32))


def car_instances(track: TrafficTrack, frame: int) -> np.ndarray:
    """Instance rows (C, 17) of the cars at `frame`."""
    from .bodies import INSTANCE_FLOATS

    c = track.position.shape[1]
    rows = np.zeros((c, INSTANCE_FLOATS), np.float32)
    h = track.heading[frame]
    rows[:, 0:2] = h
    rows[:, 3:5] = np.stack([-h[:, 1], h[:, 0]], 1)
    rows[:, 8] = 1.0
    rows[:, 9:12] = track.position[frame]
    rows[:, 12:15] = track.colors
    rows[:, 15] = 1.0
    rows[:, 16] = track.position[frame, :, 2]
    return rows
