"""Dress imported buildings in a city style: shopfronts, awnings, fascia and projecting signs on
the walls that face a street ("the real Shibuya layout with the tokyo style").

The procedural street's public kit (`procedural.kit.Kit`, fed by `procedural.plan` specs) builds
the shopfronts and signs, so a style looks the same on a procedural street and on a mapped one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scene import Mesh, PointLight, Street

FRONT_REACH_M = 4.0   # a wall faces a street if the street's edge is at most this far in front of it
MIN_FRONT_M = 3.5     # narrower walls get no shopfront
PROUD_M = 0.3         # the shop kit stands this far in front of the imported wall (its glass is recessed)


@dataclass
class Dressing:
    meshes: list[Mesh] = field(default_factory=list)
    lights: list[PointLight] = field(default_factory=list)
    textures: dict = field(default_factory=dict)
    fronts: int = 0
    signs: list = field(default_factory=list)  # every sign face: text, centre, normal (Kit.sign_log)


class _StreetIndex:
    """All street centre-line segments in a uniform grid, for nearest-street queries."""

    CELL_M = 40.0

    def __init__(self, streets: list[Street]):
        a, b, half = [], [], []
        for st in streets:
            line = np.asarray(st.centerline, float)
            a.append(line[:-1])
            b.append(line[1:])
            half.append(np.full(len(line) - 1, st.road_width_m / 2 + st.sidewalk_width_m))
        self.a, self.b, self.half = np.concatenate(a), np.concatenate(b), np.concatenate(half)
        self.cells: dict[tuple[int, int], list[int]] = {}
        reach = self.half + FRONT_REACH_M + 2.0
        lo = np.minimum(self.a, self.b) - reach[:, None]
        hi = np.maximum(self.a, self.b) + reach[:, None]
        for i, (l, h) in enumerate(zip(np.floor(lo / self.CELL_M).astype(int), np.floor(hi / self.CELL_M).astype(int))):
            for cx in range(l[0], h[0] + 1):
                for cy in range(l[1], h[1] + 1):
                    self.cells.setdefault((cx, cy), []).append(i)

    def nearest(self, p: np.ndarray) -> tuple[float, np.ndarray, float]:
        """(distance to the nearest centre line within reach, the nearest point, that street's
        half width incl. sidewalks); distance is inf when no street is near."""
        cand = self.cells.get((int(np.floor(p[0] / self.CELL_M)), int(np.floor(p[1] / self.CELL_M))))
        if not cand:
            return np.inf, p, 0.0
        idx = np.asarray(cand)
        a, ab = self.a[idx], self.b[idx] - self.a[idx]
        u = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
        q = a + u[:, None] * ab
        d = np.sqrt(((q - p) ** 2).sum(1))
        i = int(np.argmin(d))
        return float(d[i]), q[i], float(self.half[idx[i]])


def dress_street_fronts(shapes, streets: list[Street], style_name: str, seed: int) -> Dressing:
    """Shopfronts and signs on every ground-level wall of `shapes` (BuildingShape) facing a street."""
    from .procedural.kit import Kit
    from .procedural.plan import plan_shopfront, plan_vertical_sign
    from .procedural.signs import SignBank
    from .procedural.style import load_style
    from .procedural.textures import hex_to_srgb, make_textures, srgb_to_linear

    out = Dressing()
    if not streets or not shapes:
        return out
    style = load_style(style_name)
    rng = np.random.default_rng(seed + 17)
    kit = Kit(style, signs=SignBank(style, np.random.default_rng([seed, 29]), 16))
    index = _StreetIndex(streets)
    gf = style.buildings.ground_floor_height_m
    up = np.array([0.0, 0.0, 1.0])
    for shape in shapes:
        if shape.min_height_m > 0.5 or shape.eave_height_m < gf + 0.5:
            continue
        ring = np.asarray(shape.outer_m, float)
        if np.allclose(ring[0], ring[-1]):
            ring = ring[:-1]
        area2 = float(np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1]))
        ccw = area2 > 0
        for a, b in zip(ring, np.roll(ring, -1, axis=0)):
            edge = b - a
            length = float(np.linalg.norm(edge))
            if length < MIN_FRONT_M:
                continue
            t2 = edge / length
            n2 = np.array([t2[1], -t2[0]]) if ccw else np.array([-t2[1], t2[0]])  # outward
            mid = (a + b) / 2
            dist, q, half_m = index.nearest(mid)
            if dist - half_m > FRONT_REACH_M:
                continue
            if np.dot(q - mid, n2) < 0.6 * max(dist, 1e-6):
                continue  # the street is not in front of this wall
            n = np.array([n2[0], n2[1], 0.0])
            t = np.array([t2[0], t2[1], 0.0])
            p0 = np.array([a[0], a[1], 0.0])
            if np.dot(np.cross(t, n), up) > 0:  # the kit wants u × v to face outward
                p0, t = p0 + t * length, -t
            front = p0 + n * PROUD_M
            color = srgb_to_linear(
                hex_to_srgb(style.facade.wall_colors[int(rng.integers(len(style.facade.wall_colors)))])
            )
            if rng.random() < style.shops.shop_prob:
                var = float(rng.random())
                kit.shopfront(front, t, length, n, gf, color, var, plan_shopfront(rng, style, kit.n_signs))
                out.fronts += 1
            if rng.random() < style.signs.vertical_prob and shape.eave_height_m > gf + 3.0:
                sign = plan_vertical_sign(rng, kit.n_signs, length, gf, shape.eave_height_m)
                if sign is not None:
                    kit.vertical_sign(front, t, n, gf, sign)
    out.meshes = kit.meshes()
    out.lights = kit.lights
    out.textures = make_textures(rng) | kit.signs.textures
    out.signs = kit.sign_log
    return out
