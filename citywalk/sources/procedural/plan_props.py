"""The street's prop plan: trees, kerbside furniture, parked and moving vehicles, bicycles, boats.

Plain functions of (style, rng, street plan) → `PropSpec`s, placed clear of side-street mouths,
crossings, lamps and each other; `kit.Kit.prop` builds them. They draw from the props stream
(spawned apart from the buildings), in the order boats, trees, kerb items, traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .plan import KERB_M, Color, StreetPlan, Vec3, chance, lin, pick, uniform
from .style import Style

BOAT_COLORS = ("#1f3b2c", "#3a2418", "#1d2a44", "#5a1a14", "#202020")
BICYCLE_COLORS = ("#1a1a1a", "#2b3f66", "#6b1f1f", "#3d5a3a", "#8a8a8a")


@dataclass(frozen=True)
class PropSpec:
    """One prop: `kind` is the shape (tree, bench, bin, hydrant, phone_box, bike_rack, car, bus,
    tram, bicycle, boat), `label` what Scene.stats['props'] counts it as."""

    kind: str
    label: str
    position_m: Vec3
    yaw_rad: float = 0.0
    color: Color = (1.0, 1.0, 1.0)
    cab: bool = False
    length_m: float = 0.0
    tree: tuple[float, float, float] | None = None  # (height m, crown radius / height, tint)
    branches: tuple[tuple[float, float, float], ...] = ()  # tree limbs: (azimuth rad, elevation rad, reach)
    body: str = ""  # car body type (sedan, hatchback, van, kei)


def lamp_positions(style: Style, street: StreetPlan) -> dict[int, list[float]]:
    """x of the main-street lamps on each side (+1 north, -1 south), clear of side-street mouths."""
    spacing = style.furniture.main_lamp_spacing_m
    out: dict[int, list[float]] = {1: [], -1: []}
    for sgn in (1, -1):
        x = street.x_min_m + spacing / 2 * (1.5 if sgn > 0 else 1.0)
        while x < street.x_max_m:
            if not any(abs(x - sx) < w / 2 + 1.5 for sx, w in zip(street.side_x_m, street.side_width_m)):
                out[sgn].append(x)
            x += spacing
    return out


class _Kerb:
    """Which kerbside places are free: clear of mouths, crossings, lamps and placed props."""

    def __init__(self, street: StreetPlan, lamp_x: dict[int, list[float]]):
        self.street, self.lamp_x = street, lamp_x
        self.taken: list[tuple[int, float]] = []

    def free(self, x: float, sgn: int, clear_m: float, taken: list[tuple[int, float]] | None = None,
             lamp_clear_m: float | None = None) -> bool:
        st = self.street
        taken = self.taken if taken is None else taken
        for sx, w in zip(st.side_x_m, st.side_width_m):
            if abs(x - sx) < w / 2 + st.side_sidewalk_m + clear_m + 0.5:
                return False
            if st.canal_width_m <= 0 and abs(x - (sx + w / 2 + 2.5)) < 2.0 + clear_m:
                return False
        lamp_clear_m = clear_m + 0.4 if lamp_clear_m is None else lamp_clear_m
        if any(abs(x - lx) < lamp_clear_m for lx in self.lamp_x.get(sgn, [])):
            return False
        return not any(s == sgn and abs(x - q) < clear_m for s, q in taken)


def _boats(style: Style, rng: np.random.Generator, st: StreetPlan) -> list[PropSpec]:
    tr = style.traffic
    if st.canal_width_m <= 0 or tr.boats_per_100m <= 0:
        return []
    colors, out = [lin(c) for c in BOAT_COLORS], []
    for _ in range(int(round(tr.boats_per_100m * (st.x_max_m - st.x_min_m) / 100))):
        x = float(rng.uniform(st.x_min_m, st.x_max_m))
        if any(abs(x - sx) < w / 2 + st.side_sidewalk_m + 5 for sx, w in zip(st.side_x_m, st.side_width_m)):
            continue
        sgn = 1 if rng.random() < 0.5 else -1
        pos = (x, sgn * (st.canal_width_m / 2 - 1.5), -style.network.canal_water_depth_m + 0.15)
        color = pick(rng, colors)
        out.append(PropSpec("boat", "boat", pos, 0.0, color, length_m=float(rng.uniform(6, 10))))
    return out


def _trees(style: Style, rng: np.random.Generator, st: StreetPlan, kerb: _Kerb) -> list[PropSpec]:
    fs, cw, out = style.furniture, st.canal_width_m, []
    if fs.tree_spacing_m <= 0:
        return out
    colors = [lin(c) for c in fs.tree_crown_colors]
    for sgn in (1, -1):
        y = sgn * (cw / 2 + 0.9) if cw > 0 else sgn * (st.main_half_width_m + min(1.4, st.main_sidewalk_m * 0.3))
        x = st.x_min_m + float(rng.uniform(0, fs.tree_spacing_m))
        while x < st.x_max_m:
            # crowns keep clear of the lamps, which would light them from inside
            if kerb.free(x, sgn, 1.2, lamp_clear_m=4.0 if cw <= 0 else 0.0):
                h = uniform(rng, fs.tree_height_m)
                color = pick(rng, colors)
                crown = (h, float(rng.uniform(0.26, 0.34)), float(rng.uniform(0.8, 1.2)))
                out.append(PropSpec("tree", "tree", (x, y, KERB_M if cw <= 0 else 0.0), 0.0, color, tree=crown,
                                    branches=tree_branches(rng)))
                kerb.taken.append((sgn, x))
            x += fs.tree_spacing_m
    return out


def tree_branches(rng: np.random.Generator) -> tuple[tuple[float, float, float], ...]:
    """4-6 limbs spread round the trunk: (azimuth rad, elevation rad, reach / crown radius)."""
    n = int(rng.integers(4, 7))
    az0 = float(rng.uniform(0, 2 * np.pi))
    return tuple((az0 + 2 * np.pi * k / n + float(rng.uniform(-0.3, 0.3)), float(rng.uniform(0.55, 1.0)),
                  float(rng.uniform(0.7, 1.0))) for k in range(n))


def _kerb_item(style: Style, st: StreetPlan, kind: str, x: float, sgn: int) -> PropSpec:
    fs, hw, sw = style.furniture, st.main_half_width_m, st.main_sidewalk_m
    near, far = hw + min(0.55, sw * 0.2), hw + min(1.1, sw * 0.3)
    yaw = 0.0 if sgn < 0 else np.pi
    if kind == "bench":
        return PropSpec(kind, kind, (x, sgn * (far + 0.3), KERB_M), yaw + np.pi, lin(fs.bench_color))
    if kind == "bin":
        return PropSpec(kind, kind, (x, sgn * near, KERB_M), 0.0, lin(fs.bin_color))
    if kind == "hydrant":
        return PropSpec(kind, kind, (x, sgn * near, KERB_M), 0.0, lin(fs.hydrant_color))
    if kind == "phone_box":
        return PropSpec(kind, kind, (x, sgn * (far + 0.2), KERB_M), yaw)
    if kind == "planter":
        return PropSpec(kind, kind, (x, sgn * (far + 0.1), KERB_M), 0.0, lin(fs.planter_color))
    return PropSpec(kind, kind, (x, sgn * (far + 0.2), KERB_M), yaw, lin(fs.post_color))


def _kerb_items(style: Style, rng: np.random.Generator, st: StreetPlan, kerb: _Kerb) -> list[PropSpec]:
    fs, out = style.furniture, []
    kinds = [("bench", fs.bench_prob), ("bin", fs.bin_prob), ("hydrant", fs.hydrant_prob),
             ("phone_box", fs.phone_box_prob), ("bike_rack", fs.bike_rack_prob), ("planter", fs.planter_prob)]
    if sum(p for _, p in kinds) <= 0 or st.main_sidewalk_m < 1.2:
        return out
    for sgn in (1, -1):
        x = st.x_min_m + float(rng.uniform(0, fs.item_spacing_m))
        while x < st.x_max_m:
            r, acc, kind = float(rng.random()), 0.0, None
            for k, p in kinds:
                acc += p
                if r < acc:
                    kind = k
                    break
            if kind and kerb.free(x, sgn, 1.3):
                out.append(_kerb_item(style, st, kind, x, sgn))
                kerb.taken.append((sgn, x))
            x += fs.item_spacing_m * float(rng.uniform(0.7, 1.3))
    return out


def _car_color(style: Style, rng: np.random.Generator) -> tuple[Color, bool, str]:
    """Colour, whether it is a cab, and body type (cabs have the style's cab body)."""
    tr = style.traffic
    if chance(rng, tr.cab_share):
        return lin(tr.cab_color), True, tr.cab_body
    return pick(rng, [lin(c) for c in tr.car_colors]), False, pick(rng, list(tr.car_bodies))


def _parked_cars(style: Style, rng: np.random.Generator, st: StreetPlan) -> list[PropSpec]:
    """Parked cars along the kerbs (or the quays of a canal), clear of mouths and crossings."""
    tr, out = style.traffic, []
    if tr.parked_car_prob <= 0:
        return out
    mouths = list(zip(st.side_x_m, st.side_width_m))
    for sgn in (1, -1):
        y = sgn * (st.main_half_width_m - 1.15)
        x = st.x_min_m + float(rng.uniform(0, 3))
        while x < st.x_max_m:
            clear = all(abs(x - sx) > w / 2 + st.side_sidewalk_m + 4.0 for sx, w in mouths)
            if clear and st.canal_width_m <= 0:
                clear = all(abs(x - (sx + w / 2 + 2.5)) > 5.0 for sx, w in mouths)
            if clear and rng.random() < tr.parked_car_prob:
                col, is_cab, body = _car_color(style, rng)
                out.append(PropSpec("car", "parked_car", (x, y, 0.0), 0.0 if sgn < 0 else np.pi, col, is_cab,
                                    body=body))
            x += 6.2
    return out


def _moving(style: Style, rng: np.random.Generator, st: StreetPlan) -> list[PropSpec]:
    """Buses and cars in the driving lanes on a grid of 9 m slots, and trams on their tracks."""
    tr, cw, hw, out = style.traffic, st.canal_width_m, st.main_half_width_m, []
    length = st.x_max_m - st.x_min_m
    lane = max(1.6, hw - 3.7) if cw <= 0 else hw - 1.9
    slots = [(sgn, x) for sgn in (1, -1) for x in np.arange(st.x_min_m + 5, st.x_max_m - 5, 9.0)]
    order = [slots[int(i)] for i in rng.permutation(len(slots))]
    n_bus = int(round(tr.buses_per_100m * length / 100))
    for sgn, x in order[:n_bus]:
        out.append(PropSpec("bus", "bus", (x, sgn * lane, 0.0), 0.0 if sgn < 0 else np.pi, lin(tr.bus_color)))
    n_cars = min(int(round(tr.lane_cars_per_100m * length / 100)), len(slots) - n_bus)
    for sgn, x in order[n_bus:n_bus + n_cars]:
        col, is_cab, body = _car_color(style, rng)
        pos = (x + float(rng.uniform(-2, 2)), sgn * lane, 0.0)
        out.append(PropSpec("car", "cab" if is_cab else "car", pos, 0.0 if sgn < 0 else np.pi, col, is_cab,
                            body=body))
    if tr.trams_per_100m > 0 and cw <= 0:
        for _ in range(int(round(tr.trams_per_100m * length / 100))):
            sgn = 1 if rng.random() < 0.5 else -1
            x = float(rng.uniform(st.x_min_m + 10, st.x_max_m - 10))
            out.append(PropSpec("tram", "tram", (x, sgn * 1.7, 0.0), 0.0 if sgn < 0 else np.pi, lin(tr.tram_color)))
    return out


def _bicycles(style: Style, rng: np.random.Generator, st: StreetPlan, kerb: _Kerb) -> list[PropSpec]:
    """Parked bicycles in small groups: against the canal railings or the facades."""
    tr, cw, out = style.traffic, st.canal_width_m, []
    if tr.bicycles_per_100m <= 0:
        return out
    colors = [lin(c) for c in BICYCLE_COLORS]
    n, placed = int(round(tr.bicycles_per_100m * (st.x_max_m - st.x_min_m) / 100)), 0
    while placed < n:
        sgn = 1 if rng.random() < 0.5 else -1
        x = float(rng.uniform(st.x_min_m, st.x_max_m))
        if cw > 0:
            y, z = sgn * (cw / 2 + 0.55), 0.0
        else:
            y, z = sgn * (st.main_half_width_m + st.main_sidewalk_m - 0.45), KERB_M
        group = int(rng.integers(2, 6))
        for k in range(group):
            xx = x + k * 0.65
            if kerb.free(xx, sgn, 0.5, None if cw <= 0 else []):
                yaw = float(rng.normal(0, 0.15))
                out.append(PropSpec("bicycle", "bicycle", (xx, y, z), yaw, pick(rng, colors)))
        placed += group
    return out


def _corner_furniture(style: Style, st: StreetPlan) -> list[PropSpec]:
    """Bollards on the main-street kerb at each side-street corner, and traffic lights at each
    crossing (both kerbs, just short of the stripes); fixed by the layout, no draws."""
    fs, hw, out = style.furniture, st.main_half_width_m, []
    if st.canal_width_m > 0 or st.main_sidewalk_m < 1.2:
        return out
    post = lin(fs.bollard_color)
    for sx, w in zip(st.side_x_m, st.side_width_m):
        for sgn in (1, -1):
            for side in (1, -1):
                for k in range(fs.bollards_per_corner):
                    x = sx + side * (w / 2 + st.side_sidewalk_m + 0.35 + 0.75 * k)
                    out.append(PropSpec("bollard", "bollard", (x, sgn * (hw + 0.3), KERB_M), 0.0, post))
            if fs.traffic_lights:
                x = sx + w / 2 + 2.5 + 2.4  # crossings run ±2 m about 2.5 m past the side street
                out.append(PropSpec("traffic_light", "traffic_light", (x, sgn * (hw + 0.35), KERB_M),
                                    0.0 if sgn < 0 else np.pi, lin(fs.traffic_light_color)))
    return out


def plan_props(style: Style, rng: np.random.Generator, street: StreetPlan,
               lamp_x: dict[int, list[float]]) -> list[PropSpec]:
    """Every prop of the street, in build order."""
    kerb = _Kerb(street, lamp_x)
    out = _boats(style, rng, street) + _trees(style, rng, street, kerb)
    out += _kerb_items(style, rng, street, kerb)
    out += _parked_cars(style, rng, street)
    out += _moving(style, rng, street) + _bicycles(style, rng, street, kerb)
    return out + _corner_furniture(style, street)
