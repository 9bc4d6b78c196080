"""Routes on a walkable network: an automatic walk of a needed length, or user waypoints."""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import ShotError
from ..scene import WalkNetwork


def wall_points_xy(meshes, kinds: tuple[int, ...], spacing_m: float = 2.0, max_points: int = 200_000) -> np.ndarray:
    """Points (P, 2) every ~`spacing_m` along the footprints of the walls of meshes whose material
    kind is in `kinds` (e.g. FACADE): where the buildings are, for choosing a walk's start."""
    chunks = []
    for mesh in meshes:
        if mesh.material.kind not in kinds or not len(mesh.indices):
            continue
        tri = mesh.positions[mesh.indices][:, :, :2].astype(np.float64)
        ends = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
        ends = np.unique(np.round(ends, 1).reshape(-1, 4), axis=0).reshape(-1, 2, 2)
        length = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)
        n = np.minimum(np.ceil(length / spacing_m).astype(int), 1000) + 1
        u = np.concatenate([np.linspace(0.0, 1.0, k) for k in n])
        start = np.repeat(ends[:, 0], n, axis=0)
        chunks.append(start + (np.repeat(ends[:, 1], n, axis=0) - start) * u[:, None])
    if not chunks:
        return np.zeros((0, 2))
    pts = np.unique(np.round(np.concatenate(chunks), 1), axis=0)
    return pts[:: max(1, len(pts) // max_points)]


def polyline_length(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def auto_route(net: WalkNetwork, walk_m: float, rng: np.random.Generator, street: str = "side",
               approach_m: float = 8.0, margin_m: float = 10.0, buildings_xy: np.ndarray | None = None,
               near_building_m: float = 25.0) -> np.ndarray:
    """A route (K, 3) for a walk of `walk_m` plus `margin_m` beyond its end (for the gaze).
    It starts on a walk line of the wanted street kind and heads toward the junction with
    another street, so the walk ends `approach_m` before it with the crossing street in view;
    it then continues through junctions, preferring straight on. With `buildings_xy` (points on
    building walls, (B, 2) m) it starts on a line within `near_building_m` of a building where
    there is one (an extract's middle can be a park or a square)."""
    if net is None or len(net.edges) == 0:
        raise ShotError("camera.route: the scene has no walkable network; give camera.route waypoints")
    adj = net.neighbours()
    kinds = {}
    for (a, b), k, s in zip(net.edges, net.edge_kinds, net.edge_streets):
        kinds[(int(a), int(b))] = kinds[(int(b), int(a))] = (k, s)
    wanted = {"side": ("street_edge",), "main": ("sidewalk",), "any": ("street_edge", "sidewalk")}[street]
    centre = net.nodes[:, :2].mean(0)
    cand = [i for i, (e, k) in enumerate(zip(net.edges, net.edge_kinds)) if k in wanted]
    if not cand:
        cand = list(range(len(net.edges)))
    mid = net.nodes[net.edges[cand]][:, :, :2].mean(1)
    far = np.zeros(len(cand), bool)
    if buildings_xy is not None and len(buildings_xy):
        from scipy.spatial import cKDTree

        far = cKDTree(np.asarray(buildings_xy, float)).query(mid)[0] > near_building_m
    order = np.argsort(np.linalg.norm(mid - centre, axis=1))
    if far.any() and not far.all():  # only lines near buildings, still nearest the centre first
        order = order[~far[order]]
    e = cand[int(order[int(rng.integers(0, min(4, len(order))))])]
    a, b = (int(x) for x in net.edges[e])
    # walk the chosen street line backwards to find its far end, so we approach a junction
    street_name = net.edge_streets[e]
    if np.linalg.norm(net.nodes[a, :2]) < np.linalg.norm(net.nodes[b, :2]):
        a, b = b, a  # head toward the scene centre (the main street)
    path = [a, b]
    # extend forward until the route is long enough
    total_needed = walk_m + margin_m + approach_m
    guard = 0
    while polyline_length(net.nodes[path]) < total_needed + 40.0 and guard < 10_000:
        guard += 1
        prev, cur = path[-2], path[-1]
        options = [n for n in adj[cur] if n != prev] or [prev]
        heading = net.nodes[cur, :2] - net.nodes[prev, :2]
        heading /= max(np.linalg.norm(heading), 1e-9)

        def straightness(n):
            d = net.nodes[n, :2] - net.nodes[cur, :2]
            return float(d @ heading / max(np.linalg.norm(d), 1e-9))

        options.sort(key=straightness, reverse=True)
        same_street = [n for n in options if kinds[(cur, n)][1] == street_name and straightness(n) > 0.9]
        if same_street:
            nxt = same_street[0]
        else:
            turnable = [n for n in options if kinds[(cur, n)][0] != "crossing"] or options
            nxt = turnable[int(rng.integers(0, len(turnable)))] if rng.random() < 0.5 else turnable[0]
        path.append(nxt)
    pts = net.nodes[path].astype(float)
    # start so that the walk ends `approach_m` before the first junction where the street changes
    first_turn_s = _first_change_s(net, path, street_name)
    start_s = max(0.0, first_turn_s - approach_m - walk_m) if first_turn_s is not None else 0.0
    return trim_start(pts, start_s)


def _first_change_s(net: WalkNetwork, path: list[int], street_name: str) -> float | None:
    s = 0.0
    edge_street = {}
    for (a, b), st in zip(net.edges, net.edge_streets):
        edge_street[(int(a), int(b))] = edge_street[(int(b), int(a))] = st
    for u, v in zip(path[:-1], path[1:]):
        if edge_street[(u, v)] != street_name:
            return s
        s += float(np.linalg.norm(net.nodes[v] - net.nodes[u]))
    return None


def trim_start(points: np.ndarray, start_s: float) -> np.ndarray:
    """The polyline from arc length `start_s` on."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    i = int(np.searchsorted(cum, start_s, side="right") - 1)
    i = min(max(i, 0), len(points) - 2)
    u = (start_s - cum[i]) / max(seg[i], 1e-9)
    p = points[i] + (points[i + 1] - points[i]) * u
    return np.vstack([p, points[i + 1:]])


def waypoint_route(waypoints: list[list[float]], ground_z_m: float = 0.0) -> np.ndarray:
    """User waypoints [[x, y] or [x, y, z], ...] in scene metres → route (K, 3)."""
    pts = np.array([(w[0], w[1], w[2] if len(w) > 2 else ground_z_m) for w in waypoints], float)
    if not np.isfinite(pts).all():
        raise ShotError("camera.route: waypoints must be finite numbers")
    if polyline_length(pts) < 0.1:
        raise ShotError("camera.route: waypoints must span at least 0.1 m")
    return pts


def straight_route(bounds_m, walk_m: float, margin_m: float) -> np.ndarray:
    """A straight walk (2, 3) through the middle of the scene's bounds along its longer horizontal
    side, centred, long enough for `walk_m` plus `margin_m` (for worlds without a walk network)."""
    lo, hi = np.asarray(bounds_m[0], float), np.asarray(bounds_m[1], float)
    c = (lo + hi) / 2
    axis = np.array([1.0, 0, 0]) if hi[0] - lo[0] >= hi[1] - lo[1] else np.array([0, 1.0, 0])
    half = (walk_m + margin_m) / 2
    a, b = c - axis * half, c + axis * half
    a[2] = b[2] = 0.0
    return np.stack([a, b])


def _height_query(ground_fn):
    """`query(x, y, **kw)` on a ground function; kw (z_from, lowest, default) is dropped for plain
    (x, y) functions such as flat or moved ground, which have one surface anyway."""
    try:
        params = inspect.signature(ground_fn).parameters
    except (TypeError, ValueError):
        params = {}
    if "z_from" in params:
        return ground_fn
    return lambda x, y, **kw: float(ground_fn(x, y))


def _resample(route: np.ndarray, step_m: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(route[:, :2], axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.unique(np.concatenate([np.arange(0.0, cum[-1], step_m), [cum[-1]]]))
    return np.stack([np.interp(s, cum, route[:, i]) for i in range(2)], 1)


def walk_heights(xy: np.ndarray, ground_fn, max_step_m: float = 0.5) -> np.ndarray:
    """Street-level heights (K,) along points (K, 2): the walk starts on the lowest surface facing
    up and then keeps to the highest surface at most `max_step_m` above the last height (steps and
    slopes are climbed, a statue or lantern base is not); where nothing lies within reach it keeps
    the last height (it walks past what stands on the plaza at street level)."""
    query = _height_query(ground_fn)
    z = np.empty(len(xy))
    last = None
    for k, (x, y) in enumerate(xy):
        if last is None:
            h = query(float(x), float(y), lowest=True, default=np.nan)
        else:
            h = query(float(x), float(y), z_from=last + max_step_m, default=np.nan)
        if not np.isfinite(h):
            h = last if last is not None else query(float(x), float(y))
        z[k] = last = float(h)
    return z


def drape(route: np.ndarray, ground_fn, step_m: float = 1.0, max_step_m: float = 0.5) -> np.ndarray:
    """Resample a route every `step_m` and set each point's z to the street level under it
    (see `walk_heights`)."""
    xy = _resample(route, step_m)
    return np.column_stack([xy, walk_heights(xy, ground_fn, max_step_m)])


def clear_straight_route(route: np.ndarray, ground_fn, bounds_m, step_m: float = 1.0, clearance_m: float = 0.3,
                         shoulder_m: float = 1.0, max_shift_m: float = 100.0) -> np.ndarray:
    """A straight route (2, 3) moved sideways (up to 45 % of the scene's width or `max_shift_m`,
    nearest first, 1 m steps) to the parallel line that, with the lines `shoulder_m` either side
    of it, has the fewest points where something stands above street level (a statue, a lantern,
    a building): the automatic walk passes beside large objects with room, not through them."""
    query = _height_query(ground_fn)
    a, b = np.asarray(route[0], float), np.asarray(route[-1], float)
    along = (b - a)[:2] / max(np.linalg.norm((b - a)[:2]), 1e-9)
    side = np.array([-along[1], along[0]])
    lo, hi = np.asarray(bounds_m[0], float), np.asarray(bounds_m[1], float)
    half_w = min(max_shift_m, 0.45 * abs(float((hi - lo)[:2] @ np.abs(side))))
    offsets = sorted(np.arange(-np.floor(half_w), np.floor(half_w) + 1.0, 1.0), key=abs) or [0.0]
    cache: dict[float, int] = {}

    def blocked(off: float) -> int:
        if off not in cache:
            xy = _resample(np.stack([a, b]) + np.r_[side * off, 0.0], step_m)
            walk = walk_heights(xy, ground_fn)
            top = np.array([query(float(x), float(y), default=np.nan) for x, y in xy])
            cache[off] = int(np.sum(np.isfinite(top) & (top > walk + clearance_m)))
        return cache[off]

    best, best_score = 0.0, None
    for off in (float(o) for o in offsets):
        score = blocked(off)
        if score:
            score += 10_000  # a line with something on it loses to any clear one
        elif shoulder_m > 0:
            score = blocked(off - shoulder_m) + blocked(off + shoulder_m)
        if best_score is None or score < best_score:
            best, best_score = off, score
        if score == 0:
            break
    shifted = np.stack([a, b]).copy()
    shifted[:, :2] += side * best
    return shifted
