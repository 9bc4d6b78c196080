"""Facade and roof parts of one building: cornices, continuous balconies with railings, mansard
roofs with dormers, street-facing gables, parapets, chimneys, bay windows, stoops, fire escapes,
front railings and rooftop water tanks.

Every part works in a building `Frame`: `front` is the street-side bottom corner of the facade,
`t` runs along the facade, `n` points out to the street, Z is up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scene import Material
from ..geometry import MeshBuilder

UP = np.array([0.0, 0.0, 1.0])
TRIM = Material("trim", (1.0, 1.0, 1.0), 0.8, "stucco")
ROOF_SLOPE = Material("roof_slope", (1.0, 1.0, 1.0), 0.55)
DOOR = Material("door", (1.0, 1.0, 1.0), 0.6)
METAL_DARK = Material("railing", (1.0, 1.0, 1.0), 0.5)
WATER_TANK = Material("water_tank", (0.36, 0.25, 0.17), 0.9)
GABLE_WALL = Material("gable_wall", (1.0, 1.0, 1.0), 0.85, "brick")
ATTIC_WINDOW = Material("attic_window", (0.025, 0.027, 0.03), 0.1)


@dataclass
class Frame:
    """A building's facade frame: origin `front` (3,), unit `t` along, unit `n` outward, width (m)."""

    front: np.ndarray
    t: np.ndarray
    n: np.ndarray
    width_m: float

    def p(self, along_m: float, out_m: float = 0.0, z_m: float = 0.0) -> np.ndarray:
        return self.front + self.t * along_m + self.n * out_m + UP * z_m

    @property
    def yaw(self) -> float:
        return float(np.arctan2(self.t[1], self.t[0]))


def cornice(b: MeshBuilder, f: Frame, z_m: float, color, depth_m: float = 0.45, height_m: float = 0.45) -> None:
    """A projecting moulding band along the whole facade at height z (top of the band)."""
    b.box(TRIM, f.p(f.width_m / 2, depth_m / 2, z_m - height_m), (f.width_m, depth_m, height_m), f.yaw, color)


def railing(b: MeshBuilder, f: Frame, a_m: float, b_m: float, out_m: float, z_m: float, color,
            height_m: float = 0.95, spacing_m: float = 0.25, two_sided: bool = False) -> None:
    """A black railing from along a→b at `out_m` in front of the facade: top rail and balusters
    (single-sided quads facing the street unless `two_sided`: 2 triangles a baluster)."""
    length = b_m - a_m
    if length <= 0.2:
        return
    b.box(METAL_DARK, f.p((a_m + b_m) / 2, out_m, z_m + height_m - 0.05), (length, 0.05, 0.05), f.yaw, color)
    k = max(2, int(length / spacing_m))
    along = a_m + (np.arange(k) + 0.5) * length / k
    origins = f.front + f.t * along[:, None] + f.n * out_m + UP * z_m
    b.quads(METAL_DARK, origins, f.t * 0.035, UP * (height_m - 0.05), color, two_sided=two_sided)


def continuous_balconies(b: MeshBuilder, f: Frame, floors: list[int], gf_m: float, fh_m: float, storeys: int,
                         slab_color, rail_color) -> None:
    """Full-width stone balconies with black railings on the chosen floors (1 = first above ground)."""
    for k in floors:
        if k >= storeys:
            continue
        z = gf_m + (k - 1) * fh_m
        b.box(TRIM, f.p(f.width_m / 2, 0.4, z - 0.18), (f.width_m, 0.8, 0.18), f.yaw, slab_color)
        railing(b, f, 0.0, f.width_m, 0.76, z, rail_color, height_m=0.9, spacing_m=0.22)


def mansard(b: MeshBuilder, f: Frame, depth_m: float, z_m: float, height_m: float, bays: int, zinc,
            wall_mat: Material, wall_color, variation: float) -> float:
    """A zinc mansard storey: steep front and back slopes, flat top, dormers per bay; returns its top."""
    inset = 1.1
    w, top = f.width_m, z_m + height_m
    front_a = f.p(0, 0, z_m)
    b.quad(ROOF_SLOPE, front_a, f.t * w, -f.n * inset + UP * height_m, color=zinc)
    back_a = f.p(w, -depth_m, z_m)
    b.quad(ROOF_SLOPE, back_a, -f.t * w, f.n * inset + UP * height_m, color=zinc)
    b.quad(ROOF_SLOPE, f.p(0, -inset, top), f.t * w, -f.n * (depth_m - 2 * inset), color=np.asarray(zinc) * 0.8)
    for a, sgn in ((0.0, -1), (w, 1)):
        pts = [f.p(a, 0, z_m), f.p(a, -depth_m, z_m), f.p(a, -depth_m + inset, top), f.p(a, -inset, top)]
        if sgn > 0:
            pts = pts[::-1]
        b.polygon(ROOF_SLOPE, pts, color=np.asarray(zinc) * 0.9)
    # dormers: a window front standing out of the slope, with a small zinc roof
    bay_w = w / max(bays, 1)
    dz0 = z_m + 0.7
    for i in range(bays):
        c = (i + 0.5) * bay_w
        dw = min(1.1, bay_w * 0.6)
        b.quad(wall_mat, f.p(c - dw / 2, -0.28, dz0), f.t * dw, UP * 1.5, ((0, 0), (1, 1)), wall_color, variation)
        b.box(ROOF_SLOPE, f.p(c, -0.28 - 0.45, dz0 + 1.5), (dw + 0.2, 0.9, 0.3), f.yaw, zinc)
        for s in (c - dw / 2, c + dw / 2):
            b.quad(ROOF_SLOPE, f.p(s, -0.28, dz0), -f.n * 0.7, UP * 1.5, color=zinc, two_sided=True)
    return top


def gable(b: MeshBuilder, f: Frame, depth_m: float, z_m: float, ratio: float, wall_color, roof_color,
          shape: int) -> float:
    """A street-facing gable (`shape` 0 triangular, 1 stepped, 2 neck gable) with a ridge roof
    running back, an attic window and a hoist beam; returns the ridge height."""
    w = f.width_m
    h = w * ratio
    col = np.asarray(wall_color)
    if shape == 0:  # plain triangle
        outline = [(0, 0), (w, 0), (w / 2, h)]
    elif shape == 1:  # stepped gable: three steps each side and a top block
        steps = 3
        dx = (w / 2) / (steps + 1.5)
        right = []
        for k in range(steps + 1):
            x = w - k * dx
            right += [(x, k * h / (steps + 1)), (x, (k + 1) * h / (steps + 1))]
        left = [(w - x, z) for x, z in reversed(right)]
        outline = [(0.0, 0.0)] + right + left[:-1]
    else:  # neck gable: shoulders, a tall neck and a small pediment
        nw = w * 0.45
        a, c = (w - nw) / 2, (w + nw) / 2
        zs, zn = h * 0.25, h * 0.85
        outline = [(0, 0), (w, 0), (w, zs * 0.3), (c, zs), (c, zn), (w / 2, h), (a, zn), (a, zs), (0, zs * 0.3)]
    pts = [f.p(x, 0, z_m + z) for x, z in outline]
    uvs = [(x / 2, z / 2) for x, z in outline]
    _fan_polygon(b, GABLE_WALL, pts, uvs, col)
    # attic window and hoist beam
    b.quad(ATTIC_WINDOW, f.p(w / 2 - 0.4, 0.02, z_m + h * 0.28), f.t * 0.8, UP * min(1.3, h * 0.35))
    b.box(TRIM, f.p(w / 2, 0.4, z_m + h * 0.8), (0.18, 0.8, 0.18), f.yaw, (0.1, 0.08, 0.06))
    # ridge roof behind the gable, pitched the same way
    back = -f.n * depth_m
    ridge_h = h * 0.9
    b.quad(ROOF_SLOPE, f.p(0, -0.05, z_m), back, f.t * (w / 2) + UP * ridge_h, color=roof_color)
    b.quad(ROOF_SLOPE, f.p(w, -0.05, z_m), f.t * (-w / 2) + UP * ridge_h, back, color=roof_color)
    return z_m + h


def _fan_polygon(b: MeshBuilder, mat: Material, pts, uvs, color) -> None:
    """A simple (possibly concave but star-shaped from its base centre) polygon as a fan."""
    p = np.asarray(pts, np.float64)
    centre = (p[0] + p[1]) / 2
    cuv = ((uvs[0][0] + uvs[1][0]) / 2, (uvs[0][1] + uvs[1][1]) / 2)
    allp = np.concatenate([[centre], p])
    alluv = np.concatenate([[cuv], np.asarray(uvs, np.float64)])
    k = len(p)
    idx = [(0, 1 + i, 1 + (i + 1) % k) for i in range(1, k)]
    nrm = np.cross(p[1] - p[0], UP)
    nrm = nrm / np.linalg.norm(nrm)
    b.add(mat, allp, [nrm] * (k + 1), alluv, idx, color)


def parapet(b: MeshBuilder, f: Frame, depth_m: float, z_m: float, color) -> None:
    """A low wall around the roof edge (front and back)."""
    for out in (-0.1, -depth_m + 0.1):
        b.box(TRIM, f.p(f.width_m / 2, out, z_m), (f.width_m, 0.2, 0.9), f.yaw, color)


def chimneys(b: MeshBuilder, f: Frame, depth_m: float, z_m: float, color, stacks) -> None:
    """Chimney stacks on the party walls, with pots: `stacks` = (along m, depth fraction, height m)."""
    for a, depth_frac, h in stacks:
        c = f.p(a, -depth_m * depth_frac, z_m)
        b.box(TRIM, c, (0.5, 1.4, h), f.yaw, color)
        for k in (-0.35, 0.0, 0.35):
            q = c - f.n * k + UP * h
            b.cylinder(TRIM, q, q + UP * 0.35, 0.1, sides=5, color=(0.55, 0.3, 0.2), cap=False)


def bay_window(b: MeshBuilder, f: Frame, along_m: float, floors: int, gf_m: float, fh_m: float,
               wall_mat: Material, color, variation: float) -> None:
    """A canted bay: a front and two angled sides standing 0.6 m out, over `floors` floors,
    each face one window cell per floor; a lead-coloured flat top."""
    depth, fw, sw = 0.6, 1.5, 0.75
    zs = [0.0, gf_m] + [gf_m + k * fh_m for k in range(1, floors)]
    z_top = zs[floors]
    a0 = along_m - fw / 2 - sw * 0.7
    a3 = along_m + fw / 2 + sw * 0.7
    left_in, left_out = f.p(a0, 0.0), f.p(along_m - fw / 2, depth)
    right_out, right_in = f.p(along_m + fw / 2, depth), f.p(a3, 0.0)
    for i in range(floors):
        z0, z1 = zs[i], zs[i + 1]
        for p, q in ((left_in, left_out), (left_out, right_out), (right_out, right_in)):
            b.quad(wall_mat, p + UP * z0, q - p, UP * (z1 - z0), ((0, 0), (1, 1)), color, variation)
    # top
    b.polygon(TRIM, [left_in + UP * z_top, right_in + UP * z_top, right_out + UP * z_top, left_out + UP * z_top],
              color=np.asarray(color) * 0.9)


def door(b: MeshBuilder, f: Frame, along_m: float, z_m: float, color) -> None:
    """A front door with a light surround."""
    b.quad(TRIM, f.p(along_m - 0.65, 0.015, z_m), f.t * 1.3, UP * 2.75, color=(0.85, 0.84, 0.8))
    b.quad(DOOR, f.p(along_m - 0.5, 0.03, z_m), f.t * 1.0, UP * 2.35, color=color)


def stoop(b: MeshBuilder, f: Frame, along_m: float, out_m: float, rise_m: float, color, rail_color) -> None:
    """Brownstone stoop: steps from the pavement up to a raised door, stone cheeks, iron rails."""
    steps = 7
    run = out_m / steps
    for k in range(steps):
        h = rise_m * (k + 1) / steps
        b.box(TRIM, f.p(along_m, out_m - (k + 0.5) * run, 0.0), (1.7, run, h), f.yaw, color)
    # landing
    b.box(TRIM, f.p(along_m, 0.5, 0.0), (1.9, 1.0, rise_m), f.yaw, color)
    for s in (-0.95, 0.95):
        pts = np.array(
            [f.p(along_m + s, out_m, 0.9), f.p(along_m + s, 1.0, rise_m + 0.9), f.p(along_m + s, 0.05, rise_m + 0.9)]
        )
        b.tube(METAL_DARK, pts, 0.03, sides=4, color=rail_color)
        b.quads(METAL_DARK, [f.p(along_m + s, out_m * (1 - u), rise_m * u) for u in (0.15, 0.45, 0.75, 0.95)],
                -f.n * 0.03, UP * 0.9, rail_color, two_sided=True)


def fire_escape(b: MeshBuilder, f: Frame, gf_m: float, fh_m: float, storeys: int, rail_color) -> None:
    """A zig-zag fire escape: a railed platform per floor and a ladder between platforms."""
    span = min(f.width_m - 0.6, 4.5)
    a0 = (f.width_m - span) / 2
    for k in range(1, storeys):
        z = gf_m + (k - 1) * fh_m
        b.box(METAL_DARK, f.p(a0 + span / 2, 0.5, z - 0.06), (span, 1.0, 0.06), f.yaw, rail_color)
        railing(b, f, a0, a0 + span, 0.98, z, rail_color, height_m=0.95, spacing_m=0.35)
        for a in (a0, a0 + span):
            b.quad(METAL_DARK, f.p(a, 0.0, z + 0.9), f.n * 1.0, UP * 0.05, color=rail_color, two_sided=True)
        if k + 1 < storeys:
            left = k % 2 == 0
            x0 = a0 + (0.3 if left else span - 0.3)
            run = min(2.4, span - 0.8) * (1 if left else -1)
            b.quad(METAL_DARK, f.p(x0, 0.3, z), f.t * run + UP * fh_m, f.n * 0.45, color=rail_color, two_sided=True)
    # drop ladder below the first platform
    b.quad(METAL_DARK, f.p(a0 + 0.4, 0.75, gf_m - 2.0), f.t * 0.45, UP * 2.0, color=rail_color, two_sided=True)


def water_tank(b: MeshBuilder, c, r: float, h: float) -> None:
    """A New York rooftop water tank (radius `r`, barrel height `h` m): timber barrel on a steel
    stand, conical roof."""
    c = np.asarray(c, np.float64)
    stand = 1.6
    for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        q = c + np.array([dx, dy, 0.0]) * r * 0.6
        b.box(METAL_DARK, q, (0.15, 0.15, stand), 0.0, (0.08, 0.08, 0.08))
    b.cylinder(WATER_TANK, c + UP * stand, c + UP * (stand + h), r, sides=10, cap=False)
    b.cylinder(WATER_TANK, c + UP * (stand + h), c + UP * (stand + h + r * 0.7), r * 1.05, 0.05, sides=10,
               color=(0.6, 0.6, 0.6))


WINDOW_RECT = {0: (0.22, 0.28, 0.78, 0.82), 1: (0.03, 0.34, 0.97, 0.80)}  # as mesh.frag draws them
AC_BODY = Material("ac_unit", (0.78, 0.79, 0.78), 0.55)
AC_GRILLE = Material("ac_grille", (0.16, 0.17, 0.17), 0.7)
PIPE = Material("drain_pipe", (1.0, 1.0, 1.0), 0.5)


def _ledges(b: MeshBuilder, f: Frame, spans: np.ndarray, z_m: np.ndarray, out_m: float, thick_m: float,
            color, top: bool = True) -> None:
    """Projecting ledges as a front quad and a top (sills, seen from the street and above) or
    underside quad (window heads, seen from below), one batch per face: `spans` (K, 2) along
    m, `z_m` (K,) top heights."""
    a0, a1 = spans[:, 0], spans[:, 1]
    length = float(np.mean(a1 - a0))  # every ledge of a facade has the same length
    base = f.front + f.t * a0[:, None] + UP * z_m[:, None]
    b.quads(TRIM, base + f.n * out_m - UP * thick_m, f.t * length, UP * thick_m, color)  # front
    if top:
        b.quads(TRIM, base, f.n * out_m, f.t * length, color)  # top (n × t = up)
    else:
        b.quads(TRIM, base - UP * thick_m, f.t * length, f.n * out_m, color)  # underside (t × n = down)


def window_trim(b: MeshBuilder, f: Frame, window_style: int, bays: int, gf_m: float, fh_m: float, storeys: int,
                color) -> None:
    """Stone sills and window heads on the upper floors, lined up with the windows mesh.frag
    draws in each bay (punched windows one each, ribbon windows one band per floor); glass
    curtain walls get none. 8 triangles a window, in four batched calls per facade."""
    if window_style not in WINDOW_RECT or storeys < 2:
        return
    x0, y0, x1, y1 = WINDOW_RECT[window_style]
    bw = f.width_m / bays
    floors = np.arange(storeys - 1)
    cols = np.arange(bays) if window_style == 0 else np.zeros(1)
    span_w = (x1 - x0) * (bw if window_style == 0 else f.width_m)
    a0 = (cols + x0) * bw if window_style == 0 else np.array([x0 * bw])
    kk, aa = np.meshgrid(floors, a0, indexing="ij")
    spans = np.stack([aa.ravel() - 0.06, aa.ravel() + span_w + 0.06], 1)
    z_floor = gf_m + kk.ravel() * fh_m
    _ledges(b, f, spans, z_floor + y0 * fh_m, 0.12, 0.08, color)
    _ledges(b, f, spans, z_floor + y1 * fh_m + 0.14, 0.05, 0.14, color, top=False)


def ac_units(b: MeshBuilder, f: Frame, cells: tuple[tuple[int, int], ...], bays: int, gf_m: float, fh_m: float,
             window_style: int) -> None:
    """Air-conditioner boxes hung under the windows of `cells` (bay, floor above the ground)."""
    x0, y0, x1, _ = WINDOW_RECT.get(window_style, (0.3, 0.3, 0.7, 0.8))
    bw = f.width_m / bays
    back = "front" if np.cross(UP, f.t) @ f.n > 0 else "back"  # the box face against the wall
    for bay, floor in cells:
        along = (bay + (x0 + x1) / 2) * bw
        z = gf_m + floor * fh_m + y0 * fh_m - 0.12
        c = f.p(along, 0.2, z - 0.55)
        b.box(AC_BODY, c, (0.8, 0.4, 0.55), f.yaw, faces={back: None, "bottom": None})
        b.quad(AC_GRILLE, f.p(along - 0.3, 0.405, z - 0.5), f.t * 0.6, UP * 0.45)


def drain_pipe(b: MeshBuilder, f: Frame, along_m: float, top_m: float, color) -> None:
    """A downpipe from the roof edge to the pavement, with a hopper head."""
    foot, head = f.p(along_m, 0.1, 0.05), f.p(along_m, 0.1, top_m - 0.35)
    b.cylinder(PIPE, foot, head, 0.05, sides=5, color=color, cap=False)
    b.cylinder(PIPE, head, head + UP * 0.28, 0.07, 0.13, sides=5, color=color)  # hopper head
