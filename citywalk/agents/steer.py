"""The crowd in motion: a deterministic fixed-step simulation of pedestrians along their lanes.

Each step every pedestrian picks a lateral offset (a few candidates scored by how far they are
from its preferred side and what stands in the corridor ahead: props, other people, the camera,
the actors), slows behind whoever is in its way, and moves. Hard rules are then enforced: a move
that would touch a wall, leave the lane, or overlap another body is taken back (the previous
positions were all clear), and anyone the camera or an actor is about to walk into steps aside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crowd import EDGE_MARGIN_M, WALL_MARGIN_M, Population
from .lanes import ClearanceField, Lane, LaneSet

MAX_STEP_S = 1.0 / 24.0     # simulation step: at most this, a whole number per video frame
LOOKAHEAD_M = 4.0           # how far ahead a pedestrian looks for people in its way
MOVER_LOOKAHEAD_M = 8.0     # ... and for the camera or an actor coming its way
LATERAL_SPEED_MPS = 0.6     # fastest sideways drift
CANDIDATES = 9              # lateral offsets considered per step
GAP_M = 0.06                # kept between two bodies beyond their radii
MOVER_RADIUS_M = 0.6        # kept clear round the camera (the viewer and personal space) and each actor


@dataclass
class CrowdTrack:
    """Pedestrian positions per video frame: xy (N, M, 2) m, lane (N, M), offset (N, M) m and
    direction (N, M) (±1), for N frames of M pedestrians."""

    xy: np.ndarray
    lane: np.ndarray
    offset_m: np.ndarray
    direction: np.ndarray


class _State:
    def __init__(self, lanes: list[Lane], pop: Population):
        self.lanes, self.pop = lanes, pop
        self.set = LaneSet(lanes)
        self.lane, self.s = pop.lane.copy(), pop.s_m.copy()
        self.d, self.dir = pop.offset_m.copy(), pop.direction.copy()
        self.room = np.array([lanes[i].half_width_m for i in self.lane]) - EDGE_MARGIN_M - pop.radius_m
        self.length = np.array([lanes[i].length_m for i in self.lane])

    def frames(self, s=None, d=None, lane=None, direction=None):
        """World xy, unit heading along the walking direction, left normal of the lane (for the
        pedestrians, or for any flat arrays of lane, s, d, direction)."""
        s = self.s if s is None else s
        d = self.d if d is None else d
        lane = self.lane if lane is None else lane
        direction = self.dir if direction is None else direction
        xy, t, n = self.set.frame(lane, s, d)
        return xy, t * direction[:, None], n


def _choose_offsets(st: _State, xy, head, normal, field: ClearanceField, movers_xy, movers_v) -> np.ndarray:
    """Lateral target per pedestrian: the cheapest of CANDIDATES offsets across its lane."""
    pop, m = st.pop, len(st.s)
    frac = np.linspace(-1.0, 1.0, CANDIDATES)
    cand = frac[None, :] * st.room[:, None]                        # (M, C)
    cost = np.abs(cand - np.clip(pop.pref_offset_m, -st.room, st.room)[:, None]) * 0.6
    cost += np.abs(cand - st.d[:, None]) * 0.4                     # do not weave
    # props ahead in each candidate corridor
    ahead = np.array([0.4, 0.9, 1.6, 2.5])
    sa = np.broadcast_to((st.s[:, None] + st.dir[:, None] * ahead)[:, :, None], (m, len(ahead), CANDIDATES))
    da = np.broadcast_to(cand[:, None, :], sa.shape)
    la = np.broadcast_to(st.lane[:, None, None], sa.shape)
    p, _, _ = st.frames(sa.ravel(), da.ravel(), la.ravel(), np.ones(sa.size))
    need = (pop.radius_m + WALL_MARGIN_M + 0.05)[:, None, None]
    blocked = field.at(p, la.ravel()).reshape(sa.shape) < need
    cost += (blocked * (4.0 / ahead)[None, :, None]).sum(axis=1)
    # people and movers ahead
    others = [(xy, head * pop.speed_mps[:, None], pop.radius_m, LOOKAHEAD_M, 1.0)]
    if len(movers_xy):
        others.append((movers_xy, movers_v, np.full(len(movers_xy), MOVER_RADIUS_M), MOVER_LOOKAHEAD_M, 3.0))
    for oxy, ov, orad, look, weight in others:
        rel = oxy[None, :, :] - xy[:, None, :]                       # (M, K, 2)
        along = np.einsum("mkc,mc->mk", rel, head)
        lat = np.einsum("mkc,mc->mk", rel, normal) + st.d[:, None]   # their offset in my lane frame
        closing = np.einsum("kc,mc->mk", ov, head) < 0.0             # coming towards me
        near = (along > -1.2 * (oxy is not xy) - 0.05) & (along < look)
        if oxy is xy:
            near &= ~np.eye(m, dtype=bool)
        w = near * weight * np.where(closing, 2.0, 1.0) / (1.0 + np.maximum(along, 0.0))
        need = pop.radius_m[:, None] + orad[None, :] + 0.25         # (M, K)
        hit = np.abs(cand[:, :, None] - lat[:, None, :]) < need[:, None, :]   # (M, C, K)
        cost += np.einsum("mck,mk->mc", hit, w) * 3.0
    return cand[np.arange(m), np.argmin(cost, axis=1)]


def _leader_speed(st: _State, xy, head, normal, d_new, movers_xy) -> np.ndarray:
    """Speed per pedestrian: cruising, or slower behind whoever is in its corridor ahead."""
    pop = st.pop
    v = pop.speed_mps.copy()
    pts = [(xy, pop.radius_m)]
    if len(movers_xy):
        pts.append((movers_xy, np.full(len(movers_xy), MOVER_RADIUS_M)))
    for oxy, orad in pts:
        rel = oxy[None, :, :] - xy[:, None, :]
        along = np.einsum("mkc,mc->mk", rel, head)
        lat = np.einsum("mkc,mc->mk", rel, normal) + st.d[:, None]
        inway = (along > 0.01) & (np.abs(lat - d_new[:, None]) < pop.radius_m[:, None] + orad[None, :] + 0.1)
        gap = np.where(inway, along - pop.radius_m[:, None] - orad[None, :], np.inf).min(axis=1)
        v = np.minimum(v, np.clip((gap - 0.25) / 0.9, 0.0, None))
    return v


def _conflicts(xy, radius, movers_xy) -> np.ndarray:
    """Which bodies overlap another body or a mover (bool (M,))."""
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.sqrt(np.einsum("ijc,ijc->ij", diff, diff))
    np.fill_diagonal(dist, np.inf)
    bad = (dist < radius[:, None] + radius[None, :] + GAP_M).any(axis=1)
    if len(movers_xy):
        dm = np.linalg.norm(xy[:, None, :] - movers_xy[None, :, :], axis=2)
        bad |= (dm < radius[:, None] + MOVER_RADIUS_M + GAP_M).any(axis=1)
    return bad


def _step(st: _State, field: ClearanceField, dt: float, movers_now, movers_next) -> None:
    pop = st.pop
    xy, head, normal = st.frames()
    mv = (movers_next - movers_now) / dt if len(movers_now) else np.zeros((0, 2))
    target = _choose_offsets(st, xy, head, normal, field, movers_now, mv)
    d_new = st.d + np.clip(target - st.d, -LATERAL_SPEED_MPS * dt, LATERAL_SPEED_MPS * dt)
    d_new = np.clip(d_new, -st.room, st.room)
    v = _leader_speed(st, xy, head, normal, d_new, movers_now)
    s_new = st.s + st.dir * v * dt
    _turn_at_ends(st, s_new)
    s_new = np.clip(s_new, 0.3, st.length - 0.3)
    # hard rules: walls, then bodies (taking moves back until all are clear), then the movers
    xy_new, _, _ = st.frames(s_new, d_new)
    wall = field.at(xy_new, st.lane) < pop.radius_m + WALL_MARGIN_M
    s_new[wall], d_new[wall] = st.s[wall], st.d[wall]
    for _ in range(len(s_new) + 1):
        xy_new, _, _ = st.frames(s_new, d_new)
        moved = (s_new != st.s) | (d_new != st.d)
        bad = _conflicts(xy_new, pop.radius_m, np.zeros((0, 2))) & moved
        if not bad.any():
            break
        s_new[bad], d_new[bad] = st.s[bad], st.d[bad]
    st.s, st.d = s_new, d_new
    if len(movers_next):
        _step_aside(st, field, movers_next)


def _turn_at_ends(st: _State, s_new) -> None:
    """Pedestrians at the end of their lane turn round."""
    end = ((s_new <= 0.3) & (st.dir < 0)) | ((s_new >= st.length - 0.3) & (st.dir > 0))
    st.dir[end] *= -1
    st.pop.pref_offset_m[end] *= -1


def _step_aside(st: _State, field: ClearanceField, movers_xy) -> None:
    """Anyone a mover is about to touch moves to the nearest clear spot (sideways first, then back)."""
    pop = st.pop
    xy, _, _ = st.frames()
    dm = np.linalg.norm(xy[:, None, :] - movers_xy[None, :, :], axis=2)
    for i in np.flatnonzero((dm < pop.radius_m[:, None] + MOVER_RADIUS_M + GAP_M).any(axis=1)):
        best = None
        for dd in (0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 0.45, -0.45, 0.6, -0.6, 0.8, -0.8, 1.0, -1.0):
            for ds in (0.0, 0.15, -0.15, 0.3, -0.3, 0.5, -0.5, 0.8, -0.8):
                s_i, d_i = st.s[i] + ds, st.d[i] + dd
                if abs(d_i) > st.room[i] or not (0.3 < s_i < st.length[i] - 0.3):
                    continue
                p = st.lanes[st.lane[i]].world([s_i], [d_i])
                if field.at(p, st.lane[i])[0] < pop.radius_m[i] + WALL_MARGIN_M:
                    continue
                others = np.delete(np.arange(len(xy)), i)
                if np.any(np.linalg.norm(xy[others] - p, axis=1) < pop.radius_m[others] + pop.radius_m[i] + GAP_M):
                    continue
                if np.any(np.linalg.norm(movers_xy - p, axis=1) < MOVER_RADIUS_M + pop.radius_m[i] + GAP_M):
                    continue
                best = (s_i, d_i, p[0])
                break
            if best is not None:
                break
        if best is not None:
            st.s[i], st.d[i] = best[0], best[1]
            xy[i] = best[2]


def simulate(lanes: list[Lane], pop: Population, field: ClearanceField, fps: float, n_frames: int,
             movers_xy: np.ndarray) -> CrowdTrack:
    """Run the crowd for `n_frames` video frames at `fps`. `movers_xy` (n_frames, K, 2): the camera
    and actors per frame (K may be 0). The same inputs give the same track, bit for bit."""
    m = len(pop)
    movers = np.asarray(movers_xy, float).reshape(n_frames, -1, 2)
    sub = max(1, int(np.ceil((1.0 / fps) / MAX_STEP_S - 1e-9)))
    dt = 1.0 / fps / sub
    xy = np.zeros((n_frames, m, 2))
    lane = np.repeat(pop.lane[None], n_frames, 0)
    off, dirs = np.zeros((n_frames, m)), np.zeros((n_frames, m))
    st = _State(lanes, pop)
    if m and movers.shape[1]:
        _step_aside(st, field, movers[0])
    for f in range(n_frames):
        if f > 0 and m:
            for k in range(sub):
                a = (k / sub)
                b = ((k + 1) / sub)
                now = movers[f - 1] * (1 - a) + movers[f] * a
                nxt = movers[f - 1] * (1 - b) + movers[f] * b
                _step(st, field, dt, now, nxt)
        xy[f] = st.frames()[0] if m else np.zeros((0, 2))
        off[f], dirs[f] = st.d, st.dir
    return CrowdTrack(xy, lane, off, dirs)
