"""Ambient occlusion baked once per shot into a volume: the scene's triangles are voxelised on a
CELL_M grid around the walk, and from every cell near a surface RAY_COUNT rays are marched
through the occupancy (vectorised NumPy, deterministic: fixed ray directions, no randomness).

Each cell keeps, for the six axis directions (+x, −x, +y, −y, +z, −z), the cosine-weighted share
of that hemisphere that is not hidden by something within MAX_DIST_M (an "ambient cube" of
visibility). Only rays above the horizon can be hidden: what a surface sees below the horizon
is the ground, whose light the sky model's ambient cube already holds (lights.ambient_cube).
Near steps find contact darkening (a wall's foot, an inner corner, under an awning), far steps
the street canyon's narrowing view of the sky.
The mesh shader samples it a little off the surface and weights the six values by n², so a
wall's foot, an inner corner or the pavement under an awning is darker than an open wall, at
per-pixel resolution without subdividing any mesh. Light that does not reach the sky meets a
nearby surface: the shader replaces it with one bounce (see mesh.frag `ambient_light`).

It lives in render/ (like the lamp volume) because only the renderer consumes it: every Scene —
procedural, OSM, imported meshes — gets it at upload, and no stage before render changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .memo import ContentMemo, DiskStore, digest

CELL_M = 0.5                      # voxel edge
RAY_COUNT = 16                    # directions over the upper hemisphere (Fibonacci spiral)
FINE_STEPS_M = (0.5, 1.0, 1.5)    # marched on the fine grid
COARSE_STEPS_M = (2.25, 3.25, 4.75, 7.0, 10.0, 14.0)  # on a dilated grid (cannot leap a thin wall)
MAX_DIST_M = COARSE_STEPS_M[-1]   # occluders farther than this do not darken
NEAR_M = COARSE_STEPS_M[0]        # contact occlusion: what hides the surroundings' light too
MAX_CELLS = 12_000_000
TOP_M = 30.0                      # the volume reaches this far above the scene's floor
FOCUS_MARGIN_M = 50.0            # around the walk; farther the shader fades to a height heuristic
AXES = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)


@dataclass
class AOVolume:
    """vis: (Z, Y, X, 12) uint8 ×255 — per-axis (+x −x +y −y +z −z) sky visibility within
    MAX_DIST_M (channels 0..5) and contact visibility within NEAR_M (6..11);
    origin_m (3,) the corner of cell (0, 0, 0); cell_m the voxel edge; stats: counts and seconds."""

    vis: np.ndarray
    origin_m: np.ndarray
    cell_m: float
    stats: dict

    @property
    def size_m(self) -> np.ndarray:
        return np.array(self.vis.shape[2::-1], float) * self.cell_m

    def sample(self, points_m: np.ndarray, normals: np.ndarray, contact: bool = False) -> np.ndarray:
        """Sky (or, with `contact`, contact) visibility 0..1 of surface points (N, 3) with unit
        normals (N, 3), nearest cell at the shader's offset (for tests and CPU users; the shader
        interpolates trilinearly)."""
        p = np.atleast_2d(points_m) + np.atleast_2d(normals) * (SAMPLE_OFFSET_CELLS * self.cell_m)
        shape = np.array(self.vis.shape[2::-1])
        ijk = np.floor((p - self.origin_m) / self.cell_m).astype(int)
        inside = np.all((ijk >= 0) & (ijk < shape), axis=1)
        ijk = np.clip(ijk, 0, shape - 1)
        v = self.vis[ijk[:, 2], ijk[:, 1], ijk[:, 0], 6 * int(contact):6 * int(contact) + 6].astype(float) / 255.0
        n = np.atleast_2d(normals)
        if contact:  # as the shader reads it: +z for what faces up, the most open horizontal axis else
            up = np.where(n[:, 2] >= 0, v[:, 4], 1.0)
            out = n[:, 2] ** 2 * up + (1 - n[:, 2] ** 2) * v[:, :4].max(1)
        else:
            pick = np.where(n >= 0, [0, 2, 4], [1, 3, 5])
            out = (n ** 2 * np.take_along_axis(v, pick, 1)).sum(1)
        return np.where(inside, out, 1.0)


SAMPLE_OFFSET_CELLS = 0.6  # the shader samples this many cells off the surface along the normal


# the renderers of one street share one result, and later processes read it from disk (memo.py)
_MEMO = ContentMemo(size=2, disk=DiskStore("ao", AOVolume, Path(__file__).read_bytes(), compress=True))


def ray_directions(n: int = RAY_COUNT) -> np.ndarray:
    """(n, 3) unit vectors spread evenly over the upper hemisphere (Fibonacci spiral, fixed)."""
    k = np.arange(n) + 0.5
    z = 1 - k / n
    phi = k * np.pi * (3 - np.sqrt(5))
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)


def surface_points(tri: np.ndarray, spacing_m: float) -> np.ndarray:
    """Points (P, 3) covering triangles (T, 3, 3) no farther apart than `spacing_m`, nudged 1 cm
    behind each face so a wall's voxel is the one behind it and the cell in front stays free."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    nrm = np.cross(b - a, c - a)
    ln = np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm = np.where(ln > 1e-12, nrm / np.maximum(ln, 1e-12), 0.0)
    edge = np.max([np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1), np.linalg.norm(a - c, axis=1)], 0)
    steps = np.maximum(np.ceil(edge / spacing_m).astype(int), 1)
    out = []
    for s in np.unique(steps):
        sel = steps == s
        i, j = np.meshgrid(np.arange(s + 1), np.arange(s + 1), indexing="ij")
        keep = i + j <= s
        u, v = i[keep] / s, j[keep] / s  # barycentric grid (K,)
        ab, ac = (b[sel] - a[sel])[:, None], (c[sel] - a[sel])[:, None]
        p = a[sel, None] + ab * u[None, :, None] + ac * v[None, :, None]
        out.append((p - nrm[sel, None] * 0.01).reshape(-1, 3))
    return np.concatenate(out) if out else np.zeros((0, 3))


def _in_box(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all(t.max(1) >= lo, axis=1) & np.all(t.min(1) <= hi, axis=1)


def _triangles(scene, lo: np.ndarray, hi: np.ndarray, max_edge_m: float = 16.0) -> np.ndarray:
    """Every triangle (T, 3, 3) of the scene whose bounding box meets the box [lo, hi]; triangles
    longer than `max_edge_m` are split in four (repeatedly), keeping only the parts in the box,
    so a ground plane kilometres wide costs only the part around the walk."""
    tris = [np.zeros((0, 3, 3))]
    for mesh in scene.meshes:
        t = np.asarray(mesh.positions, float)[np.asarray(mesh.indices).reshape(-1, 3)]
        t = t[_in_box(t, lo, hi)] if len(t) else t
        while len(t):
            edge = np.linalg.norm(t - np.roll(t, 1, axis=1), axis=2).max(1)
            big = edge > max_edge_m
            tris.append(t[~big])
            t = t[big]
            if not len(t):
                break
            a, b, c = t[:, 0], t[:, 1], t[:, 2]
            ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
            t = np.concatenate([np.stack(q, 1) for q in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
            t = t[_in_box(t, lo, hi)]
    return np.concatenate(tris)


def occupancy(tris: np.ndarray, origin: np.ndarray, shape: np.ndarray, cell_m: float) -> np.ndarray:
    """(Z, Y, X) bool: cells a triangle passes through (surface voxelisation by dense sampling)."""
    occ = np.zeros(shape[::-1], bool)
    for start in range(0, len(tris), 4096):  # bounded memory for scenes with many large triangles
        ijk = np.floor((surface_points(tris[start:start + 4096], cell_m * 0.7) - origin) / cell_m).astype(np.int64)
        ok = np.all((ijk >= 0) & (ijk < shape), axis=1)
        ijk = ijk[ok]
        occ[ijk[:, 2], ijk[:, 1], ijk[:, 0]] = True
    return occ


def _shifted(occ: np.ndarray, off: np.ndarray) -> np.ndarray:
    """occ moved by the integer offset `off` (x, y, z): out[i] = occ[i + off], False outside."""
    out = np.zeros_like(occ)
    src, dst = [], []
    for axis_len, o in zip(occ.shape, (off[2], off[1], off[0])):
        o = int(o)
        if abs(o) >= axis_len:
            return out
        src.append(slice(max(o, 0), axis_len + min(o, 0)))
        dst.append(slice(max(-o, 0), axis_len + min(-o, 0)))
    out[tuple(dst)] = occ[tuple(src)]
    return out


def dilate(occ: np.ndarray) -> np.ndarray:
    """occ grown by one cell in every direction (a 3×3×3 box, separably: three axis passes)."""
    out = occ.copy()
    for axis in range(3):
        grown = out.copy()
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        grown[tuple(lo)] |= out[tuple(hi)]
        grown[tuple(hi)] |= out[tuple(lo)]
        out = grown
    return out


def visibility(occ: np.ndarray, flat_cells: np.ndarray, cell_m: float,
               dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (N, len(dirs)) bool arrays: whether the ray from each cell centre (flat indices into
    occ) along each direction passes NEAR_M, and MAX_DIST_M, without meeting an occupied cell.
    Each direction is a few whole-grid shifts of the occupancy (nearest cell per step); the far
    steps test a 3×3×3-dilated occupancy so that they cannot leap over a one-cell wall."""
    thick = dilate(occ)
    near = np.ones((len(flat_cells), len(dirs)), bool)
    far = np.ones((len(flat_cells), len(dirs)), bool)
    for k, d in enumerate(dirs):
        hit = np.zeros_like(occ)
        for grid, steps in ((occ, FINE_STEPS_M), (thick, COARSE_STEPS_M)):
            for dist in steps:
                hit |= _shifted(grid, np.round(d * dist / cell_m).astype(int))
                if dist == NEAR_M:
                    near[:, k] = ~hit.ravel()[flat_cells]
        far[:, k] = ~hit.ravel()[flat_cells]
    return near, far


LOWER_SHARE = np.array([0.5, 0.5, 0.5, 0.5, 0.0, 1.0])  # cosine share of each axis below the horizon


def axis_weights(dirs: np.ndarray) -> np.ndarray:
    """(6, R) cosine weights of each (upper) ray in each axis hemisphere: a row sums to the
    axis's share above the horizon (the share below, LOWER_SHARE, is never hidden)."""
    w = np.maximum(AXES @ dirs.T, 0.0)
    return w / np.maximum(w.sum(1, keepdims=True), 1e-9) * (1.0 - LOWER_SHARE)[:, None]


_OPEN_PLANE: float | None = None


def open_plane_visibility() -> float:
    """What the bake gives a cell just above an open floor (its own floor's grazing rays clip a
    little): every result is divided by it, so an open surface reads 1."""
    global _OPEN_PLANE
    if _OPEN_PLANE is None:
        occ = np.zeros((10, 24, 24), bool)
        occ[1] = True
        vis = visibility(occ, np.ravel_multi_index(([2], [12], [12]), occ.shape), CELL_M, ray_directions())[1]
        _OPEN_PLANE = float(axis_weights(ray_directions())[4] @ vis[0])
        _OPEN_PLANE = max(_OPEN_PLANE, 0.5)
    return _OPEN_PLANE


def bake_ao(scene, focus_points: np.ndarray | None = None, cell_m: float = CELL_M) -> AOVolume | None:
    """The AO volume of `scene` over the walk (FOCUS_MARGIN_M around `focus_points`) or the whole
    scene; None for a scene without triangles."""
    import time

    t0 = time.perf_counter()
    (x0, y0, z0), (x1, y1, z1) = scene.bounds_m
    if focus_points is not None and len(focus_points):
        lo2 = np.maximum(focus_points[:, :2].min(0) - FOCUS_MARGIN_M, (x0, y0))
        hi2 = np.minimum(focus_points[:, :2].max(0) + FOCUS_MARGIN_M, (x1, y1))
    else:
        lo2, hi2 = np.array([x0, y0]), np.array([x1, y1])
    lo = np.array([lo2[0] - 1.0, lo2[1] - 1.0, z0 - 1.0])
    hi = np.array([hi2[0] + 1.0, hi2[1] + 1.0, min(z1, z0 + TOP_M) + 1.0])
    if np.prod((hi - lo) / cell_m) > MAX_CELLS:
        cell_m = float((np.prod(hi - lo) / MAX_CELLS) ** (1 / 3))
    shape = np.maximum(np.ceil((hi - lo) / cell_m).astype(np.int64), 2)
    tris = _triangles(scene, lo, hi)
    if not len(tris):
        return None
    key = digest(tris, lo, shape, float(cell_m), RAY_COUNT)
    return _MEMO.get(key, lambda: _bake(tris, lo, shape, float(cell_m), t0))


def _bake(tris: np.ndarray, lo: np.ndarray, shape: np.ndarray, cell_m: float, t0: float) -> AOVolume:
    """Voxelise `tris` into the grid (origin lo, shape cells of cell_m) and bake its visibility."""
    import time

    occ = occupancy(tris, lo, shape, cell_m)
    t1 = time.perf_counter()
    flat = np.flatnonzero(dilate(occ))
    dirs = ray_directions()
    vis = np.full(tuple(shape[::-1]) + (12,), 255, np.uint8)
    weights = axis_weights(dirs).T / open_plane_visibility()
    for i, free in enumerate(visibility(occ, flat, cell_m, dirs)[::-1]):  # sky, then contact
        axis = LOWER_SHARE + free.astype(np.float32) @ weights.astype(np.float32)
        vis.reshape(-1, 12)[flat, 6 * i:6 * i + 6] = np.round(np.clip(axis, 0, 1) * 255).astype(np.uint8)
    stats = {"cells": int(np.prod(shape)), "baked_cells": len(flat), "triangles": len(tris),
             "voxelise_s": t1 - t0, "bake_s": time.perf_counter() - t0}
    return AOVolume(vis, lo, cell_m, stats)
