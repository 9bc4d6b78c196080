"""Geometry for every scene source: one mesh accumulator, 2D polygon helpers, polylines,
strips, kerbs and primitives (quads, boxes, polygons, cylinders, tubes, unit shapes).

`MeshBuilder` collects triangles per material in world metres (Z up) and emits one Mesh per
material (few large meshes draw fastest): primitives through `quad`/`box`/`cylinder`/...,
prepared triangle soups (`MeshParts`, e.g. extruded buildings) through `add_parts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citywalk.errors import MissingExtra
from citywalk.scene import Material, Mesh

# ---------------------------------------------------------------- triangle soups


@dataclass
class MeshParts:
    """Triangle soup pieces before grouping: positions/normals (N, 3) float32, uvs (N, 2)
    float32, indices (M, 3) uint32 local to this piece."""

    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    indices: np.ndarray

    @staticmethod
    def empty() -> MeshParts:
        z3 = np.zeros((0, 3), np.float32)
        return MeshParts(z3, z3.copy(), np.zeros((0, 2), np.float32), np.zeros((0, 3), np.uint32))

    @staticmethod
    def concat(parts: list[MeshParts]) -> MeshParts:
        parts = [p for p in parts if len(p.indices)]
        if not parts:
            return MeshParts.empty()
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0] + [len(p.positions) for p in parts[:-1]])
        return MeshParts(
            np.concatenate([p.positions for p in parts]).astype(np.float32),
            np.concatenate([p.normals for p in parts]).astype(np.float32),
            np.concatenate([p.uvs for p in parts]).astype(np.float32),
            np.concatenate([p.indices.astype(np.int64) + o for p, o in zip(parts, offsets)]).astype(np.uint32),
        )

    @property
    def triangle_count(self) -> int:
        return len(self.indices)


# ---------------------------------------------------------------- the mesh accumulator

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

    def quad(
        self, mat: Material, o, u, v, uv=((0, 0), (1, 1)), color=(1, 1, 1), variation=0.0, two_sided=False
    ) -> None:
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
        uv = np.concatenate(
            [np.stack([ang / (2 * np.pi), np.zeros_like(ang)], 1), np.stack([ang / (2 * np.pi), np.ones_like(ang)], 1)]
        )
        m = sides + 1
        idx = [(i, i + 1, m + i + 1) for i in range(sides)] + [(i, m + i + 1, m + i) for i in range(sides)]
        self.add(mat, pos, nrm, uv, idx, color, variation)
        if cap:
            cpos = np.concatenate([[top], top + r1 * ring[:-1]])
            cidx = [(0, 1 + i, 1 + (i + 1) % sides) for i in range(sides)]
            self.add(mat, cpos, [axis] * (sides + 1), np.zeros((sides + 1, 2)), cidx, color, variation)

    def tube(self, mat: Material, points, radius_m: float, sides: int = 4, color=(1, 1, 1)) -> None:
        """A thin tube along a polyline (K, 3): wires and cables. The uv holds (radius, 0), which
        a THIN material's vertex shader reads to keep the tube a pixel wide far away."""
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
        uv[:, 0] = radius_m
        idx = []
        for i in range(k - 1):
            for j in range(sides):
                a, b = i * sides + j, i * sides + (j + 1) % sides
                idx += [(a, b, b + sides), (a, b + sides, a + sides)]
        self.add(mat, pos, nrm, uv, idx, color)

    def add_parts(self, mat: Material, parts: MeshParts) -> None:
        """A prepared triangle soup (extruded buildings, strips, instanced trees) with no
        per-vertex colour or variation; pieces without triangles are dropped."""
        if not len(parts.indices):
            return
        part = self._parts.setdefault(mat, _Part())
        part.pos.append(parts.positions)
        part.nrm.append(parts.normals)
        part.uv.append(parts.uvs)
        part.idx.append(parts.indices.astype(np.int64) + part.count)
        part.col.append(None)
        part.var.append(None)
        part.count += len(parts.positions)

    def build(self) -> list[Mesh]:
        """One Mesh per material, in first-use order; colours and variation only where some
        piece of that material had them."""
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
                colors=_fill(part.col, part.pos, (1.0, 1.0, 1.0)),
                variation=_fill(part.var, part.pos, 0.0),
            ))
        return meshes


def _fill(chunks: list, positions: list[np.ndarray], default) -> np.ndarray | None:
    """Concatenate per-piece attribute arrays, `default` for pieces without one; None if none has."""
    if all(c is None for c in chunks):
        return None
    full = [c if c is not None else np.broadcast_to(np.asarray(default, np.float32), (len(p),) + np.shape(default))
            for c, p in zip(chunks, positions)]
    return np.concatenate(full).astype(np.float32)


# ---------------------------------------------------------------- 2D polygon helpers


def _next(ring: np.ndarray) -> np.ndarray:
    """The ring shifted by one vertex: element i is vertex i + 1 (cheaper than np.roll)."""
    return np.concatenate([ring[1:], ring[:1]])


def signed_area_m2(ring: np.ndarray) -> float:
    """Shoelace area of a ring (K, 2) without closing vertex; > 0 when counter-clockwise."""
    x, y = ring[:, 0], ring[:, 1]
    nxt = _next(ring)
    return 0.5 * float(np.dot(x, nxt[:, 1]) - np.dot(nxt[:, 0], y))


def clean_ring(ring: np.ndarray, min_edge_m: float = 1e-3) -> np.ndarray:
    """Drop the closing duplicate and consecutive near-duplicate vertices: (K, 2) float64."""
    r = np.asarray(ring, dtype=np.float64)
    if len(r) > 1 and abs(r[0, 0] - r[-1, 0]) <= min_edge_m and abs(r[0, 1] - r[-1, 1]) <= min_edge_m:
        r = r[:-1]
    if len(r) < 2:
        return r
    step = r - np.concatenate([r[-1:], r[:-1]])
    keep = np.abs(step).max(axis=1) > min_edge_m
    if not keep.any():
        return r[:1]
    return r[keep]


def oriented(ring: np.ndarray, ccw: bool) -> np.ndarray:
    """The ring with the requested winding (counter-clockwise seen from above when ccw)."""
    return ring if (signed_area_m2(ring) > 0) == ccw else ring[::-1].copy()


def points_in_ring(points: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Even-odd test of points (P, 2) against a ring (K, 2) -> (P,) bool."""
    pts = np.atleast_2d(points)
    x, y = pts[:, 0:1], pts[:, 1:2]
    ax, ay = ring[:, 0], ring[:, 1]
    bx, by = _next(ax), _next(ay)
    crosses = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = ax + (y - ay) * (bx - ax) / (by - ay)
    return (np.count_nonzero(crosses & (x < x_at), axis=1) % 2) == 1


def triangulate(outer: np.ndarray, holes: list[np.ndarray] | tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """Ear-clip a polygon with holes (mapbox_earcut) -> (vertices (V, 2) float64,
    triangles (T, 3) int64), triangles counter-clockwise seen from above."""
    try:
        import mapbox_earcut
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtra("mapbox_earcut", "osm", "Triangulating building footprints") from exc
    rings = [np.asarray(outer, np.float64)] + [np.asarray(h, np.float64) for h in holes]
    verts = np.concatenate(rings)
    ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
    tris = np.asarray(mapbox_earcut.triangulate_float64(verts, ends), dtype=np.int64).reshape(-1, 3)
    if len(tris):
        a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
        cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        flip = cross < 0
        tris[flip] = tris[flip][:, ::-1]
    return verts, tris


def min_area_rectangle(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Minimum-area bounding rectangle over edge directions of a ring (K, 2).

    Returns (centre (2,), long-axis unit vector (2,), half_length_m, half_width_m)."""
    pts = np.asarray(points, np.float64)
    edges = _next(pts) - pts
    lengths = np.linalg.norm(edges, axis=1)
    dirs = edges[lengths > 1e-9] / lengths[lengths > 1e-9, None]
    if not len(dirs):
        dirs = np.array([[1.0, 0.0]])
    perp = np.stack([-dirs[:, 1], dirs[:, 0]], axis=1)
    pu, pv = pts @ dirs.T, pts @ perp.T  # (K, D)
    ext_u = pu.max(0) - pu.min(0)
    ext_v = pv.max(0) - pv.min(0)
    best = int(np.argmin(ext_u * ext_v + 1e-9 * np.arange(len(dirs))))
    u, v = dirs[best], perp[best]
    cu, cv = 0.5 * (pu[:, best].max() + pu[:, best].min()), 0.5 * (pv[:, best].max() + pv[:, best].min())
    centre = cu * u + cv * v
    hu, hv = 0.5 * ext_u[best], 0.5 * ext_v[best]
    if hu < hv:
        u, hu, hv = v, hv, hu
    return centre, u, hu, hv


# ---------------------------------------------------------------- polylines, strips and kerbs


def offset_polyline(points: np.ndarray, offset_m: float, miter_limit: float = 3.0) -> np.ndarray:
    """Offset a polyline (K, 2) sideways with mitred joints; positive = left of travel.

    The mitre length is capped at miter_limit x |offset| for sharp turns. -> (K, 2)."""
    p = np.asarray(points, np.float64)
    d = np.diff(p, axis=0)
    seg_len = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    n = np.column_stack([-d[:, 1], d[:, 0]]) / seg_len  # left normals per segment
    n_prev = np.vstack([n[:1], n])
    n_next = np.vstack([n, n[-1:]])
    m = n_prev + n_next
    m_len = np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
    m = m / m_len
    cos_half = np.sum(m * n_next, axis=1, keepdims=True)
    scale = 1.0 / np.maximum(cos_half, 1.0 / miter_limit)
    return p + m * (offset_m * scale)


def strip_mesh(points: np.ndarray, left_m: float, right_m: float, z_m: float) -> MeshParts:
    """A flat ribbon between signed offsets left_m > right_m of a polyline (K, 2), at z_m.

    Normals up; u = 0 at the left edge and 1 at the right, v = metres along the line."""
    p = np.asarray(points, np.float64)
    k = len(p)
    left, right = offset_polyline(p, left_m), offset_polyline(p, right_m)
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    pos = np.empty((k, 2, 3))
    pos[:, 0, :2], pos[:, 1, :2], pos[:, :, 2] = left, right, z_m
    uv = np.empty((k, 2, 2))
    uv[:, 0, 0], uv[:, 1, 0], uv[:, :, 1] = 0.0, 1.0, along[:, None]
    i = np.arange(k - 1)[:, None] * 2
    idx = np.concatenate([i + [1, 3, 2], i + [1, 2, 0]])
    nrm = np.zeros((2 * k, 3))
    nrm[:, 2] = 1.0
    return MeshParts(pos.reshape(-1, 3).astype(np.float32), nrm.astype(np.float32),
                         uv.reshape(-1, 2).astype(np.float32), idx.astype(np.uint32))


def kerb_mesh(points: np.ndarray, offset_m: float, facing_left: bool, height_m: float) -> MeshParts:
    """Vertical kerb face along an offset line of a polyline (K, 2), from z = 0 to height_m."""
    e = offset_polyline(points, offset_m)
    if facing_left:
        e = e[::-1]  # quads face right of their direction of travel, like building walls
    a, b = e[:-1], e[1:]
    d = b - a
    length = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
    s = len(a)
    pos = np.empty((s, 4, 3))
    pos[:, 0, :2], pos[:, 1, :2], pos[:, 2, :2], pos[:, 3, :2] = a, b, b, a
    pos[:, :2, 2], pos[:, 2:, 2] = 0.0, height_m
    nrm = np.zeros((s, 4, 3))
    nrm[:, :, 0], nrm[:, :, 1] = (d[:, 1] / length)[:, None], (-d[:, 0] / length)[:, None]
    uv = np.zeros((s, 4, 2))
    base = (np.arange(s) * 4)[:, None]
    idx = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]])
    return MeshParts(pos.reshape(-1, 3).astype(np.float32), nrm.reshape(-1, 3).astype(np.float32),
                         uv.reshape(-1, 2).astype(np.float32), idx.astype(np.uint32))


def flat_polygon_mesh(outer: np.ndarray, holes, z_m: float) -> MeshParts:
    """A horizontal polygon with holes at z_m, facing up; uv = xy metres."""
    verts, tris = triangulate(oriented(clean_ring(outer), True),
                                  [oriented(clean_ring(h), False) for h in holes])
    pos = np.column_stack([verts, np.full(len(verts), z_m)])
    nrm = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    return MeshParts(pos.astype(np.float32), nrm.astype(np.float32), verts.astype(np.float32), tris.astype(np.uint32))


def trim_polyline(points: np.ndarray, start_m: float, end_m: float) -> np.ndarray | None:
    """Cut start_m off the start and end_m off the end of a polyline (K, 2); None if nothing is left."""
    p = np.asarray(points, np.float64)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    total = along[-1]
    if start_m + end_m >= total - 0.05:
        return None
    a, b = start_m, total - end_m
    inner = p[(along > a) & (along < b)]
    pa = np.array([np.interp(a, along, p[:, 0]), np.interp(a, along, p[:, 1])])
    pb = np.array([np.interp(b, along, p[:, 0]), np.interp(b, along, p[:, 1])])
    return np.vstack([pa, inner, pb])


# ---------------------------------------------------------------- unit shapes (instanced)


def unit_cylinder(sides: int = 6) -> MeshParts:
    """Open cylinder radius 1 from z = 0 to 1 with smooth side normals."""
    t = np.linspace(0, 2 * math.pi, sides, endpoint=False)
    ring = np.column_stack([np.cos(t), np.sin(t)])
    pos = np.concatenate([np.column_stack([ring, np.zeros(sides)]), np.column_stack([ring, np.ones(sides)])])
    nrm = np.concatenate([np.column_stack([ring, np.zeros(sides)])] * 2)
    i = np.arange(sides)
    j = (i + 1) % sides
    idx = np.concatenate([np.column_stack([i, j, j + sides]), np.column_stack([i, j + sides, i + sides])])
    uv = np.column_stack([np.tile(i / sides, 2), np.repeat([0.0, 1.0], sides)])
    return MeshParts(pos.astype(np.float32), nrm.astype(np.float32), uv.astype(np.float32), idx.astype(np.uint32))


def unit_sphere(slices: int = 8, stacks: int = 6) -> MeshParts:
    """UV sphere radius 1 centred at the origin (low poly crown)."""
    phi = np.linspace(0, math.pi, stacks + 1)
    th = np.linspace(0, 2 * math.pi, slices + 1)
    ph, tt = np.meshgrid(phi, th, indexing="ij")
    pos = np.stack([np.sin(ph) * np.cos(tt), np.sin(ph) * np.sin(tt), np.cos(ph)], -1).reshape(-1, 3)
    cols = slices + 1
    r, c = np.meshgrid(np.arange(stacks), np.arange(slices), indexing="ij")
    i0 = (r * cols + c).ravel()
    tris = np.concatenate(
        [np.column_stack([i0, i0 + cols, i0 + cols + 1]), np.column_stack([i0, i0 + cols + 1, i0 + 1])]
    )
    a, b, cc = pos[tris[:, 0]], pos[tris[:, 1]], pos[tris[:, 2]]
    keep = np.linalg.norm(np.cross(b - a, cc - a), axis=1) > 1e-9
    uv = np.column_stack([tt.ravel() / (2 * math.pi), ph.ravel() / math.pi])
    return MeshParts(
        pos.astype(np.float32), pos.astype(np.float32), uv.astype(np.float32), tris[keep].astype(np.uint32)
    )
