"""Building extrusion: footprints (with holes) + OSM-style height/roof tags -> wall and roof triangles.

Reusable by any source that has footprints (OSM, procedural blocks, KMZ). Geometry is built
in the world frame (metres, Z up); walls get facade UVs with
u = metres along the wall / bay width (a whole number of bays per wall) and
v = metres above ground / floor height, so the renderer draws one window per UV cell.

Height rules (OSM Simple 3D Buildings, simplified; all documented defaults):
- `height` is the top of the roof, `min_height` the bottom of the walls (both metres above
  ground). Lengths accept "12", "12 m", "12.5m", "12,5", "40'", "40 ft", "40'6\"".
- Without `height`: wall top = `building:levels` x 3 m (LEVEL_HEIGHT_M), roof on top of it;
  without levels either, DEFAULT_LEVELS = 2. `min_height` falls back to
  `building:min_level` x 3 m, else 0.
- Roof height: `roof:height`, else `roof:levels` x 3 m, else a 30 deg pitch over the half
  width (dome: the half width; flat: 0). It never exceeds the building's own height.
- `building=roof` (a canopy on pillars) without min_height is a 1 m slab under its roof.
- Roof shapes: flat, gabled, hipped, pyramidal, skillion, mansard, dome. Others are drawn
  flat and reported in `notes`. Pitched roofs are fitted to the footprint's minimum-area
  bounding rectangle (ridge along its long side unless `roof:orientation=across`;
  `roof:direction` = compass bearing the slope faces, for skillion and gabled) and the walls
  rise to meet the roof, so rectangles come out exact and other outlines stay closed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from citywalk.sources.geometry import (  # noqa: F401 - the polygon helpers stay importable from here
    MeshParts,
    _next,
    clean_ring,
    min_area_rectangle,
    oriented,
    points_in_ring,
    signed_area_m2,
    triangulate,
)

LEVEL_HEIGHT_M = 3.0
DEFAULT_LEVELS = 2.0
DEFAULT_PITCH_DEG = 30.0
MAX_HEIGHT_M = 1000.0
ROOF_SHAPES = ("flat", "gabled", "hipped", "pyramidal", "skillion", "mansard", "dome")
_DOME_SLICES, _DOME_STACKS = 24, 8

_FT_M = 0.3048
_IN_M = 0.0254


# ---------------------------------------------------------------- tag parsing


def parse_length_m(text: str | None) -> float | None:
    """A length tag -> metres, or None if absent/unparseable/negative.

    Accepts "12", "12 m", "12.5m", "12,5", "1.2 km", "40'", "40 ft", "40'6\"", "6 in"."""
    if text is None:
        return None
    s = str(text).strip().lower().replace(",", ".")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*'\s*(?:(\d+(?:\.\d+)?)\s*\")?", s)
    if m:  # feet and inches: 40'6"
        return float(m.group(1)) * _FT_M + float(m.group(2) or 0.0) * _IN_M
    m = re.fullmatch(r"(\d+(?:\.\d+)?|\.\d+)\s*(m|meters?|metres?|km|ft|feet|foot|in|inch|inches|\")?", s)
    if not m:
        return None
    value, unit = float(m.group(1)), (m.group(2) or "m")
    scale = {"km": 1000.0, "ft": _FT_M, "feet": _FT_M, "foot": _FT_M, "in": _IN_M, "inch": _IN_M,
             "inches": _IN_M, '"': _IN_M}.get(unit, 1.0)
    return value * scale


def parse_number(text: str | None) -> float | None:
    """A count tag like building:levels ("3", "2.5", "3;4" -> first) -> float, or None."""
    if text is None:
        return None
    m = re.match(r"\s*(\d+(?:[.,]\d+)?)", str(text))
    return float(m.group(1).replace(",", ".")) if m else None


def parse_bearing_deg(text: str | None) -> float | None:
    """A direction tag (degrees clockwise from north, or N/NE/ESE...) -> degrees, or None."""
    if text is None:
        return None
    s = str(text).strip().upper()
    points = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
    if s in points:
        return points.index(s) * 22.5
    try:
        return float(s) % 360.0
    except ValueError:
        return None


# ---------------------------------------------------------------- building spec


@dataclass(frozen=True)
class BuildingShape:
    """One extrudable building or building part, in world metres.

    outer_m (K, 2) and holes_m [(H, 2)] rings (any winding); walls from min_height_m to
    eave_height_m, roof from the eave up by roof_height_m. roof_direction_deg is the compass
    bearing the (skillion/gabled) slope faces; roof_across puts a ridge across the long side.
    """

    outer_m: np.ndarray
    holes_m: tuple = ()
    min_height_m: float = 0.0
    eave_height_m: float = 6.0
    roof_height_m: float = 0.0
    roof_shape: str = "flat"
    roof_direction_deg: float | None = None
    roof_across: bool = False
    floor_height_m: float = LEVEL_HEIGHT_M

    @property
    def top_height_m(self) -> float:
        return self.eave_height_m + self.roof_height_m


def building_shape_from_tags(
    tags: dict[str, str], outer_m: np.ndarray, holes_m=(), notes: list[str] | None = None, label: str = ""
) -> BuildingShape | None:
    """Read OSM building tags (see module doc) into a BuildingShape; None (with a note) when
    the outline is degenerate or the heights make no solid."""
    notes = notes if notes is not None else []
    outer = clean_ring(outer_m)
    holes = tuple(h for h in (clean_ring(h) for h in holes_m) if len(h) >= 3)
    if len(outer) < 3 or abs(signed_area_m2(outer)) < 0.5:
        notes.append(f"{label}: outline has under 3 points or under 0.5 m2, skipped")
        return None
    shape = (tags.get("roof:shape") or "flat").strip().lower()
    if shape not in ROOF_SHAPES:
        notes.append(f"{label}: roof:shape={shape!r} not supported, drawn flat (supported: {', '.join(ROOF_SHAPES)})")
        shape = "flat"

    height = parse_length_m(tags.get("height"))
    min_height = parse_length_m(tags.get("min_height"))
    levels = parse_number(tags.get("building:levels"))
    min_level = parse_number(tags.get("building:min_level"))
    roof_height = parse_length_m(tags.get("roof:height"))
    roof_levels = parse_number(tags.get("roof:levels"))
    for key in ("height", "min_height", "roof:height"):
        if key in tags and parse_length_m(tags[key]) is None:
            notes.append(f"{label}: {key}={tags[key]!r} is not a length (use e.g. '12', '12 m', \"40'\"), ignored")

    if min_height is None:
        min_height = (min_level or 0.0) * LEVEL_HEIGHT_M
    if roof_height is None and roof_levels is not None:
        roof_height = roof_levels * LEVEL_HEIGHT_M
    if shape == "flat":
        roof_height = 0.0
    elif roof_height is None:
        half_wid = min_area_rectangle(outer)[3]
        roof_height = half_wid if shape == "dome" else half_wid * math.tan(math.radians(DEFAULT_PITCH_DEG))
        if shape == "skillion":
            roof_height *= 2.0  # one slope over the full width

    if tags.get("building") == "roof" and "min_height" not in tags and "building:min_level" not in tags:
        # A roof on pillars (canopy): 1 m thick slab at the top, open below.
        top_guess = height if height is not None else (levels or 1.0) * LEVEL_HEIGHT_M
        min_height = max(top_guess - roof_height - 1.0, 0.0)
    if height is not None:
        top = min(height, MAX_HEIGHT_M)
        roof_height = min(roof_height, max(top - min_height, 0.0))
        eave = top - roof_height
    else:
        wall_levels = levels if levels is not None else DEFAULT_LEVELS
        eave = min(max(wall_levels * LEVEL_HEIGHT_M, min_height), MAX_HEIGHT_M)
    if eave + roof_height <= min_height + 1e-3:
        notes.append(f"{label}: height {eave + roof_height:.2f} m is not above min_height {min_height:.2f} m, skipped")
        return None

    floor_h = LEVEL_HEIGHT_M
    if levels and levels > (min_level or 0.0):
        candidate = (eave - min_height) / (levels - (min_level or 0.0))
        if 2.0 <= candidate <= 6.0:
            floor_h = candidate
    orientation = (tags.get("roof:orientation") or "along").strip().lower()
    return BuildingShape(
        outer_m=outer,
        holes_m=holes,
        min_height_m=float(min_height),
        eave_height_m=float(eave),
        roof_height_m=float(roof_height),
        roof_shape=shape,
        roof_direction_deg=parse_bearing_deg(tags.get("roof:direction") or tags.get("roof:slope:direction")),
        roof_across=orientation == "across",
        floor_height_m=float(floor_h),
    )


# ---------------------------------------------------------------- roof function


def roof_planes(shape: BuildingShape) -> np.ndarray:
    """Roof surface as planes (P, 3): height above eave z = min_p(a x + b y + c).

    The minimum of planes is a tent: gabled = 2 planes, hipped/pyramidal = 4, mansard = 5,
    skillion = 1, flat (and dome, whose cap is separate) = the single plane z = 0."""
    rh = shape.roof_height_m
    kind = shape.roof_shape
    if kind in ("flat", "dome") or rh <= 0:
        return np.array([[0.0, 0.0, 0.0]])
    u = min_area_rectangle(shape.outer_m)[1]  # long axis
    if shape.roof_across:
        u = np.array([-u[1], u[0]])
    if shape.roof_direction_deg is not None and kind in ("skillion", "gabled"):
        bearing = math.radians(shape.roof_direction_deg)
        d = np.array([math.sin(bearing), math.cos(bearing)])  # slope faces this way
        u = np.array([d[1], -d[0]])  # ridge runs across the slope, so v = (-u_y, u_x) = d
    v = np.array([-u[1], u[0]])
    pu, pv = shape.outer_m @ u, shape.outer_m @ v
    cu, cv = 0.5 * (pu.max() + pu.min()), 0.5 * (pv.max() + pv.min())
    hl, hw = max(0.5 * (pu.max() - pu.min()), 1e-3), max(0.5 * (pv.max() - pv.min()), 1e-3)
    local: list[tuple[float, float, float]] = []  # (alpha, beta, gamma): z = alpha x + beta y + gamma
    if kind == "skillion":
        local = [(0.0, -rh / (2 * hw), rh / 2)]  # high at -v, falls towards +v (= roof:direction)
    elif kind == "gabled":
        local = [(0.0, -rh / hw, rh), (0.0, rh / hw, rh)]
    elif kind == "hipped":
        s = min(hl, hw)
        local = [(0.0, -rh / hw, rh), (0.0, rh / hw, rh), (-rh / s, 0.0, rh * hl / s), (rh / s, 0.0, rh * hl / s)]
    elif kind == "pyramidal":
        local = [(0.0, -rh / hw, rh), (0.0, rh / hw, rh), (-rh / hl, 0.0, rh), (rh / hl, 0.0, rh)]
    elif kind == "mansard":
        inset = 0.3 * min(hl, hw)
        local = [
            (0.0, -rh / inset, rh * hw / inset), (0.0, rh / inset, rh * hw / inset),
            (-rh / inset, 0.0, rh * hl / inset), (rh / inset, 0.0, rh * hl / inset), (0.0, 0.0, rh),
        ]
    planes = []
    for alpha, beta, gamma in local:
        # local x = (p.u - cu), y = (p.v - cv)
        a = alpha * u[0] + beta * v[0]
        b = alpha * u[1] + beta * v[1]
        c = gamma - alpha * cu - beta * cv
        planes.append((a, b, c))
    return np.array(planes, dtype=np.float64)


def roof_height_at(planes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Roof height above the eave at points (N, 2) -> (N,) m."""
    return (np.atleast_2d(points) @ planes[:, :2].T + planes[:, 2]).min(axis=1)


def _clip_halfplane(poly: list[tuple[float, float]], g) -> list[tuple[float, float]]:
    """Keep the part of a convex polygon where g . (x, y, 1) <= 0 (Sutherland-Hodgman).
    Plain floats: these polygons have 3-7 vertices, where numpy calls cost more than math."""
    g0, g1, g2 = g
    out = []
    n = len(poly)
    vals = [g0 * x + g1 * y + g2 for x, y in poly]
    for i in range(n):
        p, gp = poly[i], vals[i]
        j = (i + 1) % n
        q, gq = poly[j], vals[j]
        if gp <= 1e-9:
            out.append(p)
        if (gp < -1e-9 and gq > 1e-9) or (gp > 1e-9 and gq < -1e-9):
            t = gp / (gp - gq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def _roof_faces(verts2d: np.ndarray, tris: np.ndarray, planes: np.ndarray, eave_z: float) -> MeshParts:
    """Split the footprint triangles by the roof's crease lines and lift each piece onto its
    plane: flat-shaded pieces, normals from the plane."""
    if len(planes) == 1:
        a, b, c = planes[0]
        z = eave_z + verts2d @ planes[0, :2] + c
        pos = np.column_stack([verts2d, z])
        n = np.array([-a, -b, 1.0]) / math.sqrt(a * a + b * b + 1.0)
        return MeshParts(pos.astype(np.float32), np.tile(n, (len(pos), 1)).astype(np.float32),
                         verts2d.astype(np.float32), tris.astype(np.uint32))
    pl = planes.tolist()
    vl = [tuple(v) for v in verts2d.tolist()]
    tl = tris.tolist()
    positions: list[tuple[float, float, float]] = []
    normals: list[tuple[float, float, float]] = []
    indices: list[tuple[int, int, int]] = []
    for i, (a, b, c) in enumerate(pl):
        inv = 1.0 / math.sqrt(a * a + b * b + 1.0)
        n = (-a * inv, -b * inv, inv)
        others = [(a - o[0], b - o[1], c - o[2]) for j, o in enumerate(pl) if j != i]
        for tri in tl:
            poly = [vl[k] for k in tri]
            for g in others:
                poly = _clip_halfplane(poly, g)
                if len(poly) < 3:
                    break
            if len(poly) < 3:
                continue
            base = len(positions)
            positions.extend((x, y, eave_z + a * x + b * y + c) for x, y in poly)
            normals.extend([n] * len(poly))
            indices.extend((base, base + k, base + k + 1) for k in range(1, len(poly) - 1))
    if not positions:
        return MeshParts.empty()
    pos = np.array(positions, np.float32)
    return MeshParts(pos, np.array(normals, np.float32), pos[:, :2].copy(), np.array(indices, np.uint32))


def _dome_cap(shape: BuildingShape) -> MeshParts:
    """Half-ellipsoid inscribed in the minimum-area rectangle, sitting on the eave."""
    centre, u, hl, hw = min_area_rectangle(shape.outer_m)
    v = np.array([-u[1], u[0]])
    rh = shape.roof_height_m
    phi = np.linspace(0.0, 0.5 * math.pi, _DOME_STACKS + 1)  # from the top down to the rim
    theta = np.linspace(0.0, 2 * math.pi, _DOME_SLICES + 1)
    ph, th = np.meshgrid(phi, theta, indexing="ij")
    lx, ly, lz = hl * np.sin(ph) * np.cos(th), hw * np.sin(ph) * np.sin(th), rh * np.cos(ph)
    xy = centre + lx[..., None] * u + ly[..., None] * v
    pos = np.concatenate([xy, (shape.eave_height_m + lz)[..., None]], axis=-1).reshape(-1, 3)
    gx, gy, gz = lx / hl**2, ly / hw**2, lz / max(rh, 1e-6) ** 2
    nrm = np.concatenate([(gx[..., None] * u + gy[..., None] * v), gz[..., None]], axis=-1).reshape(-1, 3)
    nrm[: _DOME_SLICES + 1] = (0.0, 0.0, 1.0)  # pole
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    cols = _DOME_SLICES + 1
    r, c = np.meshgrid(np.arange(_DOME_STACKS), np.arange(_DOME_SLICES), indexing="ij")
    i0 = (r * cols + c).ravel()
    i1, i2, i3 = i0 + cols, i0 + cols + 1, i0 + 1
    below_pole = r.ravel() > 0  # the first ring's second triangles would be degenerate
    tris = np.concatenate([np.column_stack([i0, i1, i2]), np.column_stack([i0, i2, i3])[below_pole]])
    uv = np.column_stack([th.ravel() / (2 * math.pi), ph.ravel() / (0.5 * math.pi)])
    return MeshParts(pos.astype(np.float32), nrm.astype(np.float32), uv.astype(np.float32), tris.astype(np.uint32))


# ---------------------------------------------------------------- walls


def _wall_segments(ring: np.ndarray, planes: np.ndarray, bay_width_m: float):
    """Split ring edges where the roof's crease lines cross them (so wall tops follow the roof).

    Returns (a (S, 2), b (S, 2), u_a (S,), u_b (S,)) with u in bays along each original edge,
    a whole number of bays per edge."""
    a_pts = ring
    b_pts = _next(ring)
    lengths = np.linalg.norm(b_pts - a_pts, axis=1)
    bays = np.maximum(1.0, np.round(lengths / bay_width_m))
    if len(planes) == 1:
        return a_pts, b_pts, np.zeros(len(ring)), bays
    ga = a_pts @ planes[:, :2].T + planes[:, 2]  # (K, P) plane heights at edge starts
    gb = b_pts @ planes[:, :2].T + planes[:, 2]
    i, j = np.triu_indices(len(planes), k=1)
    da, db = ga[:, i] - ga[:, j], gb[:, i] - gb[:, j]  # (K, pairs): where two planes swap order
    cross = ((da < 0) & (db > 0)) | ((da > 0) & (db < 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(cross, da / (da - db), np.nan)
    k_count = len(ring)
    ts = np.sort(np.column_stack([np.zeros(k_count), t, np.ones(k_count)]), axis=1)  # NaNs sort last
    t0, t1 = ts[:, :-1], ts[:, 1:]
    keep = (t1 - t0) > 1e-9  # False where either is NaN
    edge = np.nonzero(keep)[0]
    t0, t1 = t0[keep], t1[keep]
    step = (b_pts - a_pts)[edge]
    return (a_pts[edge] + t0[:, None] * step, a_pts[edge] + t1[:, None] * step,
            t0 * bays[edge], t1 * bays[edge])


def _walls(shape: BuildingShape, planes: np.ndarray, bay_width_m: float) -> MeshParts:
    """Vertical wall quads for the outer ring and every hole, normals pointing out of the solid."""
    rings = [oriented(shape.outer_m, ccw=True)] + [oriented(h, ccw=False) for h in shape.holes_m]
    z0, eave, fh = shape.min_height_m, shape.eave_height_m, shape.floor_height_m
    segs = [_wall_segments(ring, planes, bay_width_m) for ring in rings]
    a, b, ua, ub = (np.concatenate(x) for x in zip(*segs)) if len(segs) > 1 else segs[0]
    d = b - a
    length = np.sqrt(d[:, 0] ** 2 + d[:, 1] ** 2)
    ok = length > 1e-6
    if not ok.all():
        a, b, ua, ub, d, length = a[ok], b[ok], ua[ok], ub[ok], d[ok], length[ok]
    s = len(a)
    za = eave + roof_height_at(planes, a)
    zb = eave + roof_height_at(planes, b)
    pos = np.empty((s, 4, 3), np.float32)
    pos[:, 0, :2], pos[:, 1, :2], pos[:, 2, :2], pos[:, 3, :2] = a, b, b, a
    pos[:, 0, 2], pos[:, 1, 2], pos[:, 2, 2], pos[:, 3, 2] = z0, z0, zb, za
    nrm = np.zeros((s, 4, 3), np.float32)
    nrm[:, :, 0] = (d[:, 1] / length)[:, None]
    nrm[:, :, 1] = (-d[:, 0] / length)[:, None]
    uv = np.empty((s, 4, 2), np.float32)
    uv[:, 0, 0], uv[:, 1, 0], uv[:, 2, 0], uv[:, 3, 0] = ua, ub, ub, ua
    uv[:, :, 1] = pos[:, :, 2] / fh
    base = (np.arange(s, dtype=np.uint32) * 4)[:, None]
    idx = np.concatenate([base + np.array([0, 1, 2], np.uint32), base + np.array([0, 2, 3], np.uint32)])
    return MeshParts(pos.reshape(-1, 3), nrm.reshape(-1, 3), uv.reshape(-1, 2), idx)


def extrude_building(shape: BuildingShape, bay_width_m: float = 3.0) -> tuple[MeshParts, MeshParts]:
    """Build one building: (walls with facade UVs, roof + underside when lifted)."""
    outer = oriented(shape.outer_m, ccw=True)
    holes = [oriented(h, ccw=False) for h in shape.holes_m]
    planes = roof_planes(shape)
    verts2d, tris = triangulate(outer, holes)
    walls = _walls(shape, planes, bay_width_m)
    roof_parts = [_roof_faces(verts2d, tris, planes, shape.eave_height_m)]
    if shape.roof_shape == "dome" and shape.roof_height_m > 0:
        roof_parts.append(_dome_cap(shape))
    if shape.min_height_m > 0.05:  # floating part (bridge, overhang): close the underside
        z = np.full((len(verts2d), 1), shape.min_height_m)
        roof_parts.append(MeshParts(
            np.hstack([verts2d, z]).astype(np.float32),
            np.tile([0.0, 0.0, -1.0], (len(verts2d), 1)).astype(np.float32),
            verts2d.astype(np.float32), tris[:, ::-1].astype(np.uint32)))
    return walls, MeshParts.concat(roof_parts)


def extrude_flat_buildings(shapes: list[BuildingShape], bay_width_m: float = 3.0) -> tuple[MeshParts, MeshParts]:
    """Many flat-roofed buildings at once: the same triangles as `extrude_building` on each
    (walls vectorised over all rings), several times faster for the common case of
    city extracts where most roofs are flat."""
    if any(s.roof_shape != "flat" and s.roof_height_m > 0 for s in shapes):
        raise ValueError("extrude_flat_buildings takes flat roofs only; use extrude_building")
    if not shapes:
        return MeshParts.empty(), MeshParts.empty()
    rings, ring_shape = [], []
    roof_parts = []
    for k, s in enumerate(shapes):
        outer = oriented(s.outer_m, ccw=True)
        holes = [oriented(h, ccw=False) for h in s.holes_m]
        rings.extend([outer] + holes)
        ring_shape.extend([k] * (1 + len(holes)))
        verts2d, tris = triangulate(outer, holes)
        z = np.full((len(verts2d), 1), s.eave_height_m)
        roof_parts.append(MeshParts(np.hstack([verts2d, z]).astype(np.float32),
                                    np.tile(np.float32([0.0, 0.0, 1.0]), (len(verts2d), 1)),
                                    verts2d.astype(np.float32), tris.astype(np.uint32)))
        if s.min_height_m > 0.05:
            roof_parts.append(MeshParts(
                np.hstack([verts2d, np.full((len(verts2d), 1), s.min_height_m)]).astype(np.float32),
                np.tile(np.float32([0.0, 0.0, -1.0]), (len(verts2d), 1)),
                verts2d.astype(np.float32), tris[:, ::-1].astype(np.uint32)))
    sizes = np.array([len(r) for r in rings])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    a = np.concatenate(rings)
    nxt = np.arange(1, len(a) + 1)
    nxt[starts + sizes - 1] = starts
    b = a[nxt]
    per_vertex_shape = np.repeat(np.array(ring_shape), sizes)
    z0 = np.array([s.min_height_m for s in shapes])[per_vertex_shape]
    eave = np.array([s.eave_height_m for s in shapes])[per_vertex_shape]
    fh = np.array([s.floor_height_m for s in shapes])[per_vertex_shape]
    d = b - a
    length = np.sqrt(d[:, 0] ** 2 + d[:, 1] ** 2)
    ok = length > 1e-6
    a, b, d, length, z0, eave, fh = a[ok], b[ok], d[ok], length[ok], z0[ok], eave[ok], fh[ok]
    n = len(a)
    bays = np.maximum(1.0, np.round(length / bay_width_m))
    pos = np.empty((n, 4, 3), np.float32)
    pos[:, 0, :2], pos[:, 1, :2], pos[:, 2, :2], pos[:, 3, :2] = a, b, b, a
    pos[:, 0, 2], pos[:, 1, 2], pos[:, 2, 2], pos[:, 3, 2] = z0, z0, eave, eave
    nrm = np.zeros((n, 4, 3), np.float32)
    nrm[:, :, 0] = (d[:, 1] / length)[:, None]
    nrm[:, :, 1] = (-d[:, 0] / length)[:, None]
    uv = np.empty((n, 4, 2), np.float32)
    uv[:, 0, 0], uv[:, 1, 0], uv[:, 2, 0], uv[:, 3, 0] = 0.0, bays, bays, 0.0
    uv[:, :, 1] = pos[:, :, 2] / fh[:, None].astype(np.float32)
    base = (np.arange(n, dtype=np.uint32) * 4)[:, None]
    idx = np.concatenate([base + np.array([0, 1, 2], np.uint32), base + np.array([0, 2, 3], np.uint32)])
    walls = MeshParts(pos.reshape(-1, 3), nrm.reshape(-1, 3), uv.reshape(-1, 2), idx)
    return walls, MeshParts.concat(roof_parts)
