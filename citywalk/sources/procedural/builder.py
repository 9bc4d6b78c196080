"""MeshBuilder: accumulates quads, boxes, cylinders and tubes per material, then emits one
Mesh per material (few large meshes draw fastest)."""

from __future__ import annotations

import numpy as np

from ...scene import Material, Mesh

Z = np.array([0.0, 0.0, 1.0])


def _cross(a, b) -> np.ndarray:
    """3-vector cross product without numpy's general-axis overhead (hot in big scenes)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


class _Part:
    def __init__(self) -> None:
        self.pos: list[np.ndarray] = []
        self.nrm: list[np.ndarray] = []
        self.uv: list[np.ndarray] = []
        self.idx: list[np.ndarray] = []
        self.col: list[np.ndarray] = []
        self.var: list[np.ndarray] = []
        self.count = 0


class MeshBuilder:
    """Collects geometry in world metres (Z up); `color` multiplies the material albedo and
    `variation` (0..1) keys per-object procedural shading."""

    def __init__(self) -> None:
        self._parts: dict[Material, _Part] = {}

    def add(self, mat: Material, pos, nrm, uv, idx, color=(1.0, 1.0, 1.0), variation: float = 0.0) -> None:
        part = self._parts.setdefault(mat, _Part())
        pos = np.asarray(pos, np.float32)
        n = len(pos)
        part.pos.append(pos)
        part.nrm.append(np.asarray(nrm, np.float32))
        part.uv.append(np.asarray(uv, np.float32))
        part.idx.append(np.asarray(idx, np.uint32) + part.count)
        part.col.append(np.broadcast_to(np.asarray(color, np.float32), (n, 3)))
        part.var.append(np.full(n, variation, np.float32))
        part.count += n

    def quad(self, mat: Material, o, u, v, uv=((0, 0), (1, 1)), color=(1, 1, 1), variation=0.0, two_sided=False) -> None:
        """Parallelogram o, o+u, o+u+v, o+v; front face normal = u × v; uv = ((u0, v0), (u1, v1))."""
        o, u, v = (np.asarray(a, np.float64) for a in (o, u, v))
        n = _unit(_cross(u, v))
        (u0, v0), (u1, v1) = uv
        pos = [o, o + u, o + u + v, o + v]
        uvs = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        self.add(mat, pos, [n] * 4, uvs, [(0, 1, 2), (0, 2, 3)], color, variation)
        if two_sided:
            self.add(mat, pos, [-n] * 4, uvs, [(0, 2, 1), (0, 3, 2)], color, variation)

    def quads(self, mat: Material, origins, u, v, color=(1, 1, 1), variation=0.0, two_sided=False) -> None:
        """Many equal parallelograms at once: origins (K, 3), shared edges `u`, `v` (railing bars,
        balusters); uv spans (0..1) each. One call instead of K keeps big scenes fast."""
        o = np.asarray(origins, np.float64).reshape(-1, 3)
        k = len(o)
        if not k:
            return
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        n = _unit(_cross(u, v))
        pos = np.stack([o, o + u, o + u + v, o + v], 1).reshape(-1, 3)
        uv = np.tile(np.array([(0, 0), (1, 0), (1, 1), (0, 1)], np.float32), (k, 1))
        base = (np.arange(k) * 4)[:, None, None]
        idx = (base + np.array([[(0, 1, 2), (0, 2, 3)]])).reshape(-1, 3)
        self.add(mat, pos, np.broadcast_to(n, pos.shape), uv, idx, color, variation)
        if two_sided:
            idx2 = (base + np.array([[(0, 2, 1), (0, 3, 2)]])).reshape(-1, 3)
            self.add(mat, pos, np.broadcast_to(-n, pos.shape), uv, idx2, color, variation)

    def polygon(self, mat: Material, points, uvs=None, color=(1, 1, 1), variation=0.0) -> None:
        """A flat convex polygon (K, 3), counter-clockwise seen from its front (gables, roof ends)."""
        p = np.asarray(points, np.float64)
        n = _unit(_cross(p[1] - p[0], p[2] - p[0]))
        uv = np.zeros((len(p), 2)) if uvs is None else np.asarray(uvs, np.float64)
        idx = [(0, i, i + 1) for i in range(1, len(p) - 1)]
        self.add(mat, p, [n] * len(p), uv, idx, color, variation)

    def box(self, mat: Material, center, size, yaw_rad: float = 0.0, color=(1, 1, 1), variation=0.0,
            uv_per_m: float = 0.5, bottom: bool = False, faces: dict | None = None) -> None:
        """Box of `size` (along, across, height) m, base centred at `center`, rotated by yaw about Z.
        `faces` may override the material per face: keys 'front' (−across), 'back', 'left', 'right', 'top'."""
        c = np.asarray(center, np.float64)
        sx, sy, sz = size
        t = np.array([np.cos(yaw_rad), np.sin(yaw_rad), 0.0])
        s = np.array([-np.sin(yaw_rad), np.cos(yaw_rad), 0.0])
        a, b, h = t * sx, s * sy, Z * sz
        base = c - a / 2 - b / 2
        faces = faces or {}
        k = uv_per_m
        spec = {
            "front": (base, a, h, (sx, sz)),
            "back": (base + a + b, -a, h, (sx, sz)),
            "left": (base + b, -b, h, (sy, sz)),
            "right": (base + a, b, h, (sy, sz)),
            "top": (base + h, a, b, (sx, sy)),
        }
        if bottom:
            spec["bottom"] = (base + b, a, -b, (sx, sy))
        for name, (o, u, v, (lu, lv)) in spec.items():
            m = faces.get(name, mat)
            if m is None:
                continue
            uv = ((0, 0), (1, 1)) if m is not mat and name in faces else ((0, 0), (lu * k, lv * k))
            self.quad(m, o, u, v, uv, color, variation)

    def cylinder(self, mat: Material, base, top, radius_m: float, radius_top_m: float | None = None,
                 sides: int = 8, color=(1, 1, 1), variation=0.0, cap: bool = True) -> None:
        """Open-ended (optionally capped) cylinder or cone frustum from `base` to `top`."""
        base, top = np.asarray(base, np.float64), np.asarray(top, np.float64)
        r1 = radius_m if radius_top_m is None else radius_top_m
        axis = _unit(top - base)
        ref = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
        e1 = _unit(np.cross(axis, ref))
        e2 = np.cross(axis, e1)
        ang = np.linspace(0, 2 * np.pi, sides + 1)
        ring = np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2
        pos = np.concatenate([base + radius_m * ring, top + r1 * ring])
        nrm = np.concatenate([ring, ring])
        uv = np.concatenate([np.stack([ang / (2 * np.pi), np.zeros_like(ang)], 1), np.stack([ang / (2 * np.pi), np.ones_like(ang)], 1)])
        m = sides + 1
        idx = [(i, i + 1, m + i + 1) for i in range(sides)] + [(i, m + i + 1, m + i) for i in range(sides)]
        self.add(mat, pos, nrm, uv, idx, color, variation)
        if cap:
            cpos = np.concatenate([[top], top + r1 * ring[:-1]])
            cidx = [(0, 1 + i, 1 + (i + 1) % sides) for i in range(sides)]
            self.add(mat, cpos, [axis] * (sides + 1), np.zeros((sides + 1, 2)), cidx, color, variation)

    def tube(self, mat: Material, points, radius_m: float, sides: int = 4, color=(1, 1, 1)) -> None:
        """A thin tube along a polyline (K, 3): wires and cables."""
        p = np.asarray(points, np.float64)
        k = len(p)
        tang = np.gradient(p, axis=0)
        tang /= np.linalg.norm(tang, axis=1, keepdims=True)
        ref = np.where(np.abs(tang[:, 2:3]) < 0.9, Z, np.array([1.0, 0, 0]))
        e1 = np.cross(tang, ref)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(tang, e1)
        ang = 2 * np.pi * np.arange(sides) / sides
        ring = np.cos(ang)[None, :, None] * e1[:, None, :] + np.sin(ang)[None, :, None] * e2[:, None, :]
        pos = (p[:, None, :] + radius_m * ring).reshape(-1, 3)
        nrm = ring.reshape(-1, 3)
        uv = np.zeros((k * sides, 2))
        idx = []
        for i in range(k - 1):
            for j in range(sides):
                a, b = i * sides + j, i * sides + (j + 1) % sides
                idx += [(a, b, b + sides), (a, b + sides, a + sides)]
        self.add(mat, pos, nrm, uv, idx, color)

    def build(self) -> list[Mesh]:
        meshes = []
        for mat, part in self._parts.items():
            if not part.count:
                continue
            meshes.append(Mesh(
                positions=np.concatenate(part.pos).astype(np.float32),
                normals=np.concatenate(part.nrm).astype(np.float32),
                uvs=np.concatenate(part.uv).astype(np.float32),
                indices=np.concatenate(part.idx).astype(np.uint32),
                material=mat,
                colors=np.concatenate(part.col).astype(np.float32),
                variation=np.concatenate(part.var).astype(np.float32),
            ))
        return meshes
