"""What the renderer draws for agents: shared unit meshes (a rounded limb, an ellipsoid, a car)
and per-frame instances — one (17,) float32 row per limb or car: the local x, y, z axes and
origin of the unit mesh in world metres (12), a linear albedo (3), a taper of the limb's
cross-section from its base to its top (1) and the ground height under its owner (1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gait import FOREARM, UP, J

INSTANCE_FLOATS = 17


@dataclass(frozen=True)
class UnitMesh:
    """Triangles of one shared mesh: positions (V, 3), normals (V, 3), linear colours (V, 3)
    (multiplied by the instance colour where `tint` (V,) is 1, else used alone), roughness (V,),
    shading kind (V,) and emission (V,), indices (T, 3)."""

    positions: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    tint: np.ndarray
    roughness: np.ndarray
    kind: np.ndarray
    emissive: np.ndarray
    indices: np.ndarray

    def vertex_data(self) -> np.ndarray:
        """Interleaved float32 rows: pos 3, normal 3, colour 3, tint, roughness, kind, emissive."""
        return np.hstack([self.positions, self.normals, self.colors, self.tint[:, None], self.roughness[:, None],
                          self.kind[:, None], self.emissive[:, None]]).astype(np.float32)


def _revolve(profile_z: np.ndarray, profile_r: np.ndarray, sides: int, rough: float) -> UnitMesh:
    """A surface of revolution about z (x, y radius `profile_r`) with smooth normals."""
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang)], 1)
    rows = len(profile_z)
    pos = np.zeros((rows, sides, 3))
    pos[:, :, :2] = profile_r[:, None, None] * ring[None]
    pos[:, :, 2] = profile_z[:, None]
    dz = np.gradient(profile_z)
    dr = np.gradient(profile_r)
    nrm = np.zeros_like(pos)
    nrm[:, :, :2] = dz[:, None, None] * ring[None]
    nrm[:, :, 2] = -dr[:, None]
    nrm /= np.maximum(np.linalg.norm(nrm, axis=2, keepdims=True), 1e-9)
    idx = []
    for r in range(rows - 1):
        for s in range(sides):
            a, b = r * sides + s, r * sides + (s + 1) % sides
            c, d = a + sides, b + sides
            idx += [(a, b, d), (a, d, c)]
    v = rows * sides
    return UnitMesh(pos.reshape(-1, 3), nrm.reshape(-1, 3), np.ones((v, 3)), np.ones(v), np.full(v, rough),
                    np.zeros(v), np.zeros(v), np.array(idx, np.uint32))


def limb_mesh(sides: int = 8, far: bool = False) -> UnitMesh:
    """A limb from z = 0 to 1, cross-section radius 1, ends rounded (`far`: fewer rows)."""
    zs = np.array([0.0, 0.02, 0.07, 0.14, 0.5, 0.86, 0.93, 0.98, 1.0])
    rs = np.array([0.0, 0.55, 0.85, 1.0, 1.0, 1.0, 0.85, 0.55, 0.0])
    if far:
        zs, rs = np.array([0.0, 0.06, 0.5, 0.94, 1.0]), np.array([0.0, 0.8, 1.0, 0.8, 0.0])
    return _revolve(zs, rs, sides, 0.85)


def ellipsoid_mesh(sides: int = 10, rows: int = 7) -> UnitMesh:
    """An ellipsoid from z = 0 to 1, radius 1 at its middle."""
    a = np.linspace(0, np.pi, rows)
    return _revolve(0.5 - 0.5 * np.cos(a), np.sin(a), sides, 0.7)


def _limb_rows(a, b, fwd, rx, ry, color, taper=1.0, ground=None, extend=0.0):
    """Instance rows (n, 17) of limbs from points a to b (n, 3), cross-section half sizes rx
    (sideways) and ry (along `fwd`), each extended by `extend` × its radius past both ends."""
    n = len(a)
    z = b - a
    length = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-6)
    zh = z / length
    if np.any(extend):
        ext = zh * (np.maximum(rx, ry) * extend)[:, None] if np.ndim(rx) else zh * max(rx, ry) * extend
        a, z = a - ext, z + 2 * ext
    f = fwd - zh * np.sum(fwd * zh, axis=1, keepdims=True)
    bad = np.linalg.norm(f, axis=1) < 1e-4
    f[bad] = np.cross(zh[bad], [0.0, 0.0, 1.0]) + [1e-3, 0, 0]
    f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
    x = np.cross(f, zh)
    rows = np.zeros((n, INSTANCE_FLOATS), np.float32)
    rows[:, 0:3] = x * np.broadcast_to(rx, (n,))[:, None]
    rows[:, 3:6] = f * np.broadcast_to(ry, (n,))[:, None]
    rows[:, 6:9] = z
    rows[:, 9:12] = a
    rows[:, 12:15] = color
    rows[:, 15] = taper
    rows[:, 16] = 0.0 if ground is None else ground
    return rows


class _LimbBatch:
    """The arguments of many _limb_rows calls, turned into rows by one vectorised call (a
    frame's pedestrians take 16 calls: NumPy's per-call overhead was most of their cost)."""

    def __init__(self):
        self.calls: list[tuple] = []

    def append(self, a, b, fwd, rx, ry, color, taper=1.0, ground=None, extend=0.0) -> None:
        self.calls.append((a, b, fwd, rx, ry, color, taper, ground, extend))

    def rows(self) -> np.ndarray:
        """(n, 17) rows in the order the limbs were appended."""
        cols = [[] for _ in range(9)]
        for call in self.calls:
            n = len(call[0])
            for k, v in enumerate(call):
                v = 0.0 if v is None else v
                cols[k].append(np.broadcast_to(v, (n, 3) if k in (0, 1, 2, 5) else (n,)))
        return _limb_rows(*(np.concatenate(c) for c in cols))


def pedestrian_instances(joints: np.ndarray, heading: np.ndarray, height: np.ndarray, build: np.ndarray,
                         colors: np.ndarray, skirt: np.ndarray, ground_z: np.ndarray,
                         detail: bool = True) -> dict[str, np.ndarray]:
    """Instance rows for M pedestrians of one frame: {'limb': (L, 17), 'ellipsoid': (E, 17)}.
    joints (M, J, 3), heading (M, 2), colours (M, 5, 3) top, bottom, shoes, skin, hair.
    Without `detail` (people far off) the neck and hands are left out."""
    m = len(joints)
    if m == 0:
        z = np.zeros((0, INSTANCE_FLOATS), np.float32)
        return {"limb": z, "ellipsoid": z}
    s = (height / 1.7)[:, None]
    b = build[:, None]
    fwd = np.concatenate([heading, np.zeros((m, 1))], 1)
    top, bottom, shoes, skin, hair = (colors[:, i] for i in range(5))
    g = ground_z
    jt = {k: joints[:, i] for k, i in J.items()}
    limbs, ells = _LimbBatch(), _LimbBatch()
    hs = s[:, 0]
    bs = b[:, 0]
    # pelvis and torso
    pelvis = jt["pelvis"]
    limbs.append(pelvis - UP * 0.09 * hs[:, None], pelvis + UP * 0.09 * hs[:, None], fwd,
                            0.165 * hs * bs, 0.11 * hs * bs, bottom, 1.0, g)
    neck = jt["neck"]
    limbs.append(pelvis + UP * 0.02 * hs[:, None], neck, fwd, 0.16 * hs * bs, 0.105 * hs * bs, top,
                            1.12, g)
    if detail:
        limbs.append(neck - UP * 0.03 * hs[:, None], neck + UP * 0.07 * hs[:, None], fwd, 0.045 * hs,
                                0.045 * hs, skin, 1.0, g)
    head_c = jt["head"]
    hh = 0.118 * hs
    ells.append(head_c - UP * hh[:, None], head_c + UP * hh[:, None], fwd, 0.078 * hs, 0.095 * hs,
                           skin, 1.0, g)
    ells.append(head_c - UP * (0.02 * hs)[:, None] - fwd * (0.025 * hs)[:, None],
                           head_c + UP * (hh + 0.015 * hs)[:, None] - fwd * (0.01 * hs)[:, None], fwd,
                           0.085 * hs, 0.095 * hs, hair, 1.0, g)
    for side in ("l", "r"):
        limbs.append(jt["shoulder_" + side], jt["elbow_" + side], fwd, 0.048 * hs * bs, 0.05 * hs * bs,
                                top, 0.85, g, 0.6)
        limbs.append(jt["elbow_" + side], jt["wrist_" + side], fwd, 0.04 * hs * bs, 0.04 * hs * bs,
                                top, 0.8, g, 0.3)
        w, e = jt["wrist_" + side], jt["elbow_" + side]
        d = (w - e) / (FOREARM * 1.7 * hs[:, None])
        if detail:
            ells.append(w - d * (0.01 * hs)[:, None], w + d * (0.1 * hs)[:, None], fwd, 0.03 * hs,
                                   0.045 * hs, skin, 1.0, g)
        leg_col = np.where(skirt[:, None], skin * 0.8, bottom)
        limbs.append(jt["hip_" + side], jt["knee_" + side], fwd, 0.075 * hs * bs, 0.08 * hs * bs,
                                bottom, 0.72, g, 0.5)
        limbs.append(jt["knee_" + side], jt["ankle_" + side], fwd, 0.055 * hs * bs, 0.06 * hs * bs,
                                leg_col, 0.7, g, 0.3)
        heel, toe = jt["heel_" + side], jt["toe_" + side]
        ft = toe - heel
        ft_n = ft / np.maximum(np.linalg.norm(ft, axis=1, keepdims=True), 1e-9)
        up_f = np.cross(np.cross(ft_n, UP), ft_n)
        up_f /= np.maximum(np.linalg.norm(up_f, axis=1, keepdims=True), 1e-9)
        foot_h = 0.045 * hs
        a, bb = heel + up_f * foot_h[:, None] - ft_n * (0.01 * hs)[:, None], toe + up_f * foot_h[:, None]
        limbs.append(a, bb, up_f, 0.05 * hs, foot_h, shoes, 0.85, g)
    if skirt.any():
        k = np.flatnonzero(skirt)
        top_pt = pelvis[k] + UP * 0.06 * hs[k, None]
        knee_mid = (jt["knee_l"][k] + jt["knee_r"][k]) / 2 + UP * 0.05 * hs[k, None]
        limbs.append(top_pt, knee_mid, fwd[k], 0.15 * hs[k] * bs[k], 0.11 * hs[k] * bs[k],
                                bottom[k], 1.45, g[k])
    return {"limb": limbs.rows(), "ellipsoid": ells.rows()}
