"""Lamp light as an irradiance volume: all street lamps summed once per shot on a 3D grid,
so shading costs one texture fetch per pixel instead of a loop over lights.

Each cell stores the total lamp illuminance (RGB, klux) and the luminance-weighted mean
direction toward the lamps; the shader rebuilds E(n) ≈ E · ((1 − k)/2 + k · max(n·d, 0)),
exact for a single lamp (k = 1) and the hemispherical average for light from everywhere (k = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..scene import EMISSIVE, SHOPFRONT, PointLight
from .color import LUMA
from .memo import ContentMemo, DiskStore, digest

MAX_CELLS = 4_000_000
SPILL_PATCH_M = 2.0      # emissive surfaces are gathered into patches this size, one light each
SPILL_OFFSET_M = 0.8     # each patch's light sits this far in front of it
SPILL_RANGE_M = 10.0
# mean radiance of mesh.frag's lit shop interior per unit `emissive` (shelves, goods, ceiling
# strip, warm tint; the shader's emission is in 100 cd/m², hence 0.1 kcd/m²)
SHOPFRONT_MEAN_RGB = np.array([0.42, 0.38, 0.33]) * 0.1
SIGN_MEAN = 0.6  # a sign's texture mean when it has none
# a face sends its light forward (Lambert), a point light everywhere: a patch's light gets this
# share of radiance × area, between flux-conserving (1/4) and what the face sends straight ahead (1)
SPILL_SHARE = 0.35


def _texture_mean(scene, name: str | None) -> np.ndarray:
    """Mean linear colour (3,) of a scene texture (sRGB RGBA8), or SIGN_MEAN grey without one."""
    tex = scene.textures.get(name) if name else None
    if tex is None:
        return np.full(3, SIGN_MEAN)
    rgb = np.asarray(tex, np.float64)[..., :3] / 255.0
    return (rgb ** 2.2).reshape(-1, 3).mean(0)


def spill_lights(scene) -> list[PointLight]:
    """Point lights standing in for the light that lit shopfronts and signs (emissive meshes)
    throw onto the pavement and walls in front of them: one per SPILL_PATCH_M patch, its
    intensity (cd) SPILL_SHARE × the patch's radiance × area. Emissive parts within 1 m of a scene light (a
    lamp's glass) are skipped: that light is already there."""
    lamps = np.array([lt.position for lt in scene.lights], float).reshape(-1, 3)
    out: list[PointLight] = []
    for mesh in scene.meshes:
        m = mesh.material
        if m.kind not in (SHOPFRONT, EMISSIVE) or m.emissive <= 0 or not len(mesh.indices):
            continue
        tri = np.asarray(mesh.positions, float)[np.asarray(mesh.indices).reshape(-1, 3)]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        area = 0.5 * np.linalg.norm(cross, axis=1)
        vn = np.asarray(mesh.normals, float)[np.asarray(mesh.indices).reshape(-1, 3)].sum(1)
        cen = tri.mean(1)
        if m.kind == SHOPFRONT:
            rgb = SHOPFRONT_MEAN_RGB * m.emissive * np.ones((len(tri), 1))
        else:
            col = mesh.colors[np.asarray(mesh.indices).reshape(-1, 3)].mean(1) if mesh.colors is not None else 1.0
            rgb = np.asarray(m.albedo, float) * col * m.emissive * _texture_mean(scene, m.texture) * 0.1
            rgb = rgb * np.ones((len(tri), 1))
        key = np.floor(cen / SPILL_PATCH_M).astype(np.int64)
        _, group = np.unique(key, axis=0, return_inverse=True)
        group = group.reshape(-1)
        a = np.bincount(group, area)
        keep = a > 1e-6
        pos = np.stack([np.bincount(group, area * cen[:, i]) for i in range(3)], 1)[keep] / a[keep, None]
        nrm = np.stack([np.bincount(group, area * vn[:, i]) for i in range(3)], 1)[keep]
        flux = np.stack([np.bincount(group, area * rgb[:, i]) for i in range(3)], 1)[keep]  # kcd
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-9)
        for p, n, f in zip(pos, nrm, flux):
            if len(lamps) and np.min(np.linalg.norm(lamps - p, axis=1)) < 1.0:
                continue
            peak = float(f.max())
            if peak <= 0:
                continue
            out.append(PointLight(tuple(p + n * SPILL_OFFSET_M), tuple(f / peak), peak * 1000.0 * SPILL_SHARE,
                                  SPILL_RANGE_M))
    return out


@dataclass
class LampVolume:
    """total: (Z, Y, X, 4) float16 — RGB illuminance (klux) and its luminance in A;
    direction: (Z, Y, X, 4) float16 — luminance-weighted sum of unit vectors toward lamps.
    origin_m (3,) is the corner of cell (0, 0, 0); size_m (3,) the extent of the grid."""

    total: np.ndarray
    direction: np.ndarray
    origin_m: np.ndarray
    size_m: np.ndarray


# the renderers of one street share one result, and later processes read it from disk (memo.py)
_MEMO = ContentMemo(size=2, disk=DiskStore("lamps", LampVolume, Path(__file__).read_bytes()))


def lamp_volume(lights, lo_m, hi_m, cell_m: float = 0.75, top_m: float = 24.0) -> LampVolume | None:
    """Sum `lights` (PointLight) over the box [lo_m, hi_m] (xy) × [-1, top_m] (z); the same
    inputs are summed once per process (`render.memo`)."""
    if not lights:
        return None
    key = digest(list(lights), np.asarray(lo_m, float), np.asarray(hi_m, float), float(cell_m), float(top_m))
    return _MEMO.get(key, lambda: _sum_lamps(lights, lo_m, hi_m, cell_m, top_m))


def _sum_lamps(lights, lo_m, hi_m, cell_m: float, top_m: float) -> LampVolume:
    """The lamp volume of `lights` over the box, summed light by light."""
    lo = np.array([lo_m[0], lo_m[1], -1.0])
    hi = np.array([hi_m[0], hi_m[1], top_m])
    ext = hi - lo
    cells = ext / cell_m
    if np.prod(cells) > MAX_CELLS:
        cell_m = float((np.prod(ext) / MAX_CELLS) ** (1 / 3))
    n = np.maximum(np.ceil(ext / cell_m).astype(int), 2)
    size = n * cell_m
    total = np.zeros((n[2], n[1], n[0], 4), np.float32)
    direction = np.zeros((n[2], n[1], n[0], 4), np.float32)
    centres = [lo[i] + (np.arange(n[i]) + 0.5) * cell_m for i in range(3)]
    for light in lights:
        p = np.asarray(light.position, float)
        r = light.range_m
        idx = [np.nonzero(np.abs(c - p[i]) < r + cell_m)[0] for i, c in enumerate(centres)]
        if any(len(k) == 0 for k in idx):
            continue
        xs, ys, zs = (centres[i][idx[i]] for i in range(3))
        dx, dy, dz = p[0] - xs, p[1] - ys, p[2] - zs  # toward the lamp, per axis: broadcast, no grid
        dist2 = np.maximum(dz[:, None, None] ** 2 + dy[None, :, None] ** 2 + dx[None, None, :] ** 2, 0.04)
        win = np.clip(1.0 - dist2 / (r * r), 0.0, 1.0) ** 2
        e = win / dist2 * (light.intensity / 1000.0)  # klux per unit colour
        color = np.asarray(light.color, float)
        lum = e * float(color @ LUMA)
        sl = np.s_[idx[2][0]:idx[2][-1] + 1, idx[1][0]:idx[1][-1] + 1, idx[0][0]:idx[0][-1] + 1]
        box, towards = total[sl], direction[sl]
        for c in range(3):
            box[..., c] += e * color[c]
        box[..., 3] += lum
        lum_per_m = lum / np.sqrt(dist2)
        towards[..., 0] += dx[None, None, :] * lum_per_m
        towards[..., 1] += dy[None, :, None] * lum_per_m
        towards[..., 2] += dz[:, None, None] * lum_per_m
    return LampVolume(total.astype(np.float16), direction.astype(np.float16), lo, size)


class LampLight:
    """The lamp volume of a scene as two 3D textures (total, direction), summed once per shot
    over the walk's surroundings (FOCUS_MARGIN_M around the focus points) or the whole scene.
    With no lamps, or lights off when the shot starts, `volume` is None and the textures are
    1-texel placeholders (a sampler still needs a texture of its type on its unit). With
    `spill`, the light of shopfronts and signs (`spill_lights`) is summed in too."""

    FOCUS_MARGIN_M = 90.0

    def __init__(self, ctx, scene, lights_on: float, focus_points: np.ndarray | None, spill: bool = False):
        import moderngl

        self.volume: LampVolume | None = None
        empty = np.zeros((1, 1, 1, 4), np.float16).tobytes()
        self.textures = [ctx.texture3d((1, 1, 1), 4, empty, dtype="f2") for _ in range(2)]
        lights = list(scene.lights) + (spill_lights(scene) if spill and lights_on > 0 else [])
        self.spill_count = len(lights) - len(scene.lights)
        if not lights or lights_on <= 0:
            return
        (x0, y0, _), (x1, y1, _) = scene.bounds_m
        if focus_points is not None and len(focus_points):
            lo = np.maximum(focus_points[:, :2].min(0) - self.FOCUS_MARGIN_M, (x0, y0))
            hi = np.minimum(focus_points[:, :2].max(0) + self.FOCUS_MARGIN_M, (x1, y1))
        else:
            lo, hi = np.array([x0, y0]), np.array([x1, y1])
        self.volume = lamp_volume(lights, lo, hi)
        if self.volume is None:
            return
        self.textures = []
        for data in (self.volume.total, self.volume.direction):
            t = ctx.texture3d(data.shape[2::-1], 4, np.ascontiguousarray(data).tobytes(), dtype="f2")
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = t.repeat_z = False
            self.textures.append(t)

    @property
    def total(self):
        """The 3D texture of lamp illuminance (RGB klux, luminance in A)."""
        return self.textures[0]

    @property
    def direction(self):
        """The 3D texture of luminance-weighted directions toward the lamps."""
        return self.textures[1]

    def illuminance(self, points_m: np.ndarray, lights_on: float) -> np.ndarray:
        """Lamp illuminance (klux, linear RGB) at world points (N, 3), from the volume."""
        pts = np.atleast_2d(np.asarray(points_m, float))
        vol = self.volume
        if vol is None:
            return np.zeros((len(pts), 3))
        shape = np.array(vol.total.shape[2::-1])
        cell = vol.size_m / shape
        ijk = np.clip(((pts - vol.origin_m) / cell).astype(int), 0, shape - 1)
        inside = np.all((pts >= vol.origin_m) & (pts <= vol.origin_m + vol.size_m), axis=1)
        e = vol.total[ijk[:, 2], ijk[:, 1], ijk[:, 0], :3].astype(float) * lights_on
        return np.where(inside[:, None], e, 0.0)

    def release(self) -> None:
        for t in self.textures:
            t.release()
