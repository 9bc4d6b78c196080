"""Where agents may walk or drive, read from a Scene: walk lanes (bands along sidewalks and
kerb-less side streets), the static clearance field (distance to the nearest wall, pole or prop,
from horizontal slices through every mesh) and the ground height under a point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene import Scene

SLICE_HEIGHTS_M = (0.35, 0.9, 1.5)  # above the ground: what a walking body would touch
FIELD_CELL_M = 0.08                  # clearance raster resolution
MAX_FIELD_CELLS = 24_000_000
KERBLESS_BAND_M = 1.4                # side streets without sidewalks: people keep to this band by each edge


@dataclass(frozen=True)
class Lane:
    """A walkable band: centre polyline (K, 2) m, half width m (|offset| ≤ half_width_m),
    `kind` 'sidewalk' | 'kerbless' | 'road', `street` name and `weight` (share of the density)."""

    points: np.ndarray
    half_width_m: float
    kind: str
    street: str
    weight: float = 1.0

    def __post_init__(self):
        seg = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        object.__setattr__(self, "cum_m", np.concatenate([[0.0], np.cumsum(seg)]))

    @property
    def length_m(self) -> float:
        return float(self.cum_m[-1])

    def frame(self, s_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre points (n, 2), unit tangents (n, 2) and left normals (n, 2) at arc lengths s."""
        s = np.clip(np.asarray(s_m, float), 0.0, self.length_m)
        cum = self.cum_m
        i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(cum) - 2)
        d = self.points[i + 1] - self.points[i]
        seg = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
        t = d / seg[:, None]
        p = self.points[i] + t * (s - cum[i])[:, None]
        return p, t, np.stack([-t[:, 1], t[:, 0]], 1)

    def world(self, s_m, offset_m) -> np.ndarray:
        """(n, 2) world points at arc length s and left offset."""
        p, _, n = self.frame(s_m)
        return p + n * np.asarray(offset_m, float)[:, None]


def _offset_polyline(pts: np.ndarray, off_m: float) -> np.ndarray:
    """The polyline moved `off_m` to its left (mitred at the corners)."""
    d = np.diff(pts, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    n_seg = np.stack([-d[:, 1], d[:, 0]], 1)
    n = np.vstack([n_seg[:1], n_seg[:-1] + n_seg[1:], n_seg[-1:]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    cos = np.concatenate([[1.0], np.sum(n[1:-1] * n_seg[1:], axis=1), [1.0]])
    return pts + n * (off_m / np.maximum(cos, 0.5))[:, None]


def walk_lanes(scene: Scene) -> list[Lane]:
    """Sidewalks of every street that has them (both sides), and bands along the edges of
    kerb-less side streets (cut back from the streets they meet, so no two lanes overlap)."""
    lanes: list[Lane] = []
    main_reach = max((st.road_width_m / 2 + st.sidewalk_width_m for st in scene.streets if st.kind == "main"),
                     default=0.0)
    for st in scene.streets:
        pts = np.asarray(st.centerline, float)[:, :2]
        if len(pts) < 2:
            continue
        if st.sidewalk_width_m >= 1.2:
            off, half = st.road_width_m / 2 + st.sidewalk_width_m / 2, st.sidewalk_width_m / 2
            kind, weight = "sidewalk", 1.0 if st.kind == "main" else 0.6
        elif st.road_width_m >= 3.0 and main_reach > 0 and _meets_main(pts, scene, main_reach):
            half = min(KERBLESS_BAND_M, st.road_width_m / 4) / 2
            off, kind, weight = st.road_width_m / 2 - half, "kerbless", 0.35
        else:
            continue
        for sgn in (1.0, -1.0):
            line = _offset_polyline(pts, sgn * off)
            pieces = [line]
            if st.kind != "main" and main_reach > 0:
                pieces = _cut_near_main(line, scene, main_reach + 0.8)
            for piece in pieces:
                if np.linalg.norm(piece[-1] - piece[0]) > 6.0:
                    lanes.append(Lane(piece, half, kind, st.name, weight))
    return lanes


def _meets_main(pts: np.ndarray, scene: Scene, reach_m: float) -> bool:
    """Whether a street passes within `reach_m` of a main street's centre line."""
    dense = _densify(pts, 1.0)
    return any(_distance_to_polyline(dense, np.asarray(st.centerline, float)[:, :2]).min() < reach_m
               for st in scene.streets if st.kind == "main")


def _cut_near_main(line: np.ndarray, scene: Scene, reach_m: float) -> list[np.ndarray]:
    """Pieces of a side-street lane that stay `reach_m` clear of every main street's centre line."""
    dense = _densify(line, 0.5)
    keep = np.ones(len(dense), bool)
    for st in scene.streets:
        if st.kind == "main":
            keep &= _distance_to_polyline(dense, np.asarray(st.centerline, float)[:, :2]) > reach_m
    pieces, cur = [], []
    for p, k in zip(dense, keep):
        if k:
            cur.append(p)
        elif cur:
            pieces.append(np.array(cur))
            cur = []
    if cur:
        pieces.append(np.array(cur))
    return [p for p in pieces if len(p) >= 2]


def _densify(pts: np.ndarray, step_m: float) -> np.ndarray:
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step_m)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.vstack(out)


def _distance_to_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    best = np.full(len(p), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        u = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(p - (a + u[:, None] * ab), axis=1))
    return best


def mesh_slices(scene: Scene, heights_m=SLICE_HEIGHTS_M, ground_m: float = 0.0) -> np.ndarray:
    """Segments (S, 2, 2) where the scene's triangles cut horizontal planes at `heights_m` above
    `ground_m`: building walls, poles, trunks, kerbside furniture — what a body must not touch."""
    segs = []
    for mesh in scene.meshes:
        tri = mesh.positions[mesh.indices].astype(np.float64)  # (M, 3, 3)
        for h in heights_m:
            z = tri[:, :, 2] - (ground_m + h)
            above = z > 0
            n_above = above.sum(axis=1)
            cut = (n_above == 1) | (n_above == 2)
            if not cut.any():
                continue
            t, zc = tri[cut], z[cut]
            pts = []
            for i, j in ((0, 1), (1, 2), (2, 0)):
                crosses = (zc[:, i] > 0) != (zc[:, j] > 0)
                u = zc[:, i] / np.where(crosses, zc[:, i] - zc[:, j], 1.0)
                p = t[:, i, :2] + (t[:, j, :2] - t[:, i, :2]) * u[:, None]
                pts.append((crosses, p))
            first = np.where(pts[0][0][:, None], pts[0][1], pts[1][1])
            second = np.where(pts[2][0][:, None], pts[2][1], pts[1][1])
            segs.append(np.stack([first, second], 1))
    return np.concatenate(segs) if segs else np.zeros((0, 2, 2))


class LaneSet:
    """All lanes at once, for vectorised look-ups of many (lane, arc length, offset) triples."""

    def __init__(self, lanes: list[Lane]):
        self.lanes = lanes
        a, t, start, first, last, base = [], [], [], [], [], []
        total = 0.0
        for ln in lanes:
            d = np.diff(ln.points, axis=0)
            seg = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
            first.append(len(a))
            for i in range(len(d)):
                a.append(ln.points[i])
                t.append(d[i] / seg[i])
                start.append(total + ln.cum_m[i])
            last.append(len(a) - 1)
            base.append(total)
            total += ln.length_m + 1.0
        self.seg_a, self.seg_t = np.array(a).reshape(-1, 2), np.array(t).reshape(-1, 2)
        self.seg_start = np.array(start, float)
        self.first, self.last = np.array(first, int), np.array(last, int)
        self.base = np.array(base, float)
        self.length = np.array([ln.length_m for ln in lanes], float)

    def frame(self, lane, s_m, offset_m):
        """World xy (n, 2), unit tangent (n, 2) and left normal (n, 2) of each triple."""
        lane = np.asarray(lane, int)
        s = np.clip(np.asarray(s_m, float), 0.0, self.length[lane])
        key = self.base[lane] + s
        i = np.clip(np.searchsorted(self.seg_start, key, side="right") - 1, self.first[lane], self.last[lane])
        t = self.seg_t[i]
        n = np.stack([-t[:, 1], t[:, 0]], 1)
        p = self.seg_a[i] + t * (key - self.seg_start[i])[:, None] + n * np.asarray(offset_m, float)[:, None]
        return p, t, n


class ClearanceField:
    """Distance (m) from a point to the nearest obstacle segment, on a FIELD_CELL_M raster around
    each lane (its band plus a margin). Conservative: a cell holding a segment reads 0, others
    the distance between cell centres minus one cell diagonal."""

    def __init__(self, segments: np.ndarray, lanes: list[Lane], margin_m: float = 1.5):
        segments = np.asarray(segments, float).reshape(-1, 2, 2)
        bounds = (segments.min(axis=1), segments.max(axis=1))
        self.grids = [_LaneGrid(segments, bounds, lane_box([ln], ln.half_width_m + margin_m)) for ln in lanes]

    def at(self, xy: np.ndarray, lane) -> np.ndarray:
        """Clearance (n,) m at points (n, 2) of the given lanes (n,) (large outside a lane's raster)."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        lane = np.broadcast_to(np.asarray(lane, int), (len(xy),))
        out = np.full(len(xy), 1e3, np.float32)
        for li in np.unique(lane):
            m = lane == li
            out[m] = self.grids[li].at(xy[m])
        return out


class _LaneGrid:
    def __init__(self, segments: np.ndarray, bounds, box):
        from scipy.ndimage import distance_transform_edt

        (x0, y0), (x1, y1) = box
        cell = FIELD_CELL_M
        while (x1 - x0) * (y1 - y0) / cell ** 2 > MAX_FIELD_CELLS:
            cell *= 2
        self.cell_m, self.origin = cell, np.array([x0, y0], float)
        self.shape = (int(np.ceil((y1 - y0) / cell)) + 1, int(np.ceil((x1 - x0) / cell)) + 1)
        occupied = np.zeros(self.shape, bool)
        if len(segments):
            lo, hi = bounds
            near = (hi[:, 0] >= x0) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0) & (lo[:, 1] <= y1)
            a, b = segments[near, 0], segments[near, 1]
            n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / (cell * 0.5)).astype(int)) + 1
            k = np.repeat(np.arange(len(a)), n)
            u = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n)
            p = a[k] + (b[k] - a[k]) * u[:, None]
            ij = np.floor((p - self.origin) / cell).astype(int)
            ok = (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < self.shape[1]) & (ij[:, 1] < self.shape[0])
            occupied[ij[ok, 1], ij[ok, 0]] = True
        if occupied.any():
            dist = distance_transform_edt(~occupied) * cell - cell * np.sqrt(2)
        else:
            dist = np.full(self.shape, 1e3)
        self.dist_m = np.maximum(dist, 0.0).astype(np.float32)

    def at(self, xy: np.ndarray) -> np.ndarray:
        ij = np.floor((xy - self.origin) / self.cell_m).astype(int)
        ok = (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < self.shape[1]) & (ij[:, 1] < self.shape[0])
        out = np.full(len(ij), 1e3, np.float32)
        out[ok] = self.dist_m[ij[ok, 1], ij[ok, 0]]
        return out


def lane_box(lanes: list[Lane], margin_m: float = 3.0) -> tuple[tuple[float, float], tuple[float, float]]:
    pts = np.vstack([ln.points for ln in lanes])
    lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
    return (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1]))


def ground_fn(scene: Scene):
    """height(x, y) -> z of the walkable surface (kerbs included), from the scene's up-facing
    triangles below 1 m, or the scene's own ground function where it has one (imported meshes)."""
    if scene.ground_fn is not None:
        g = scene.ground_fn
        return lambda x, y: float(g(x, y))
    from ..sources.meshes import ground_height_fn

    low = Scene(meshes=[m for m in scene.meshes if len(m.positions) and float(m.positions[:, 2].min()) < 1.0])
    g = ground_height_fn(low)
    return lambda x, y: float(g(x, y, 1.0))
