"""The street's layout plan: typed, frozen specs made by plain functions of (style, rng, extent).

Every random choice of the procedural street is made here; `kit.Kit` turns the specs into
meshes without drawing a number. The street's own stream lays out streets, rows and lot widths;
each lot then draws from a stream of its own, keyed by (row, lot) under the street's seed, so a
lot that draws more or less (a new prop, a changed rule) leaves every other lot as it was.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from .style import Style
from .textures import hex_to_srgb, srgb_to_linear

Color = tuple[float, float, float]
Vec3 = tuple[float, float, float]
WALK_INSET_M = 0.9  # people walk this far in from a kerb-less street's edge
KERB_M = 0.15  # sidewalk (kerb) height


def uniform(rng: np.random.Generator, r) -> float:
    """A draw in [r0, r1); no draw for an empty range."""
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def lin(color: str) -> Color:
    """'#rrggbb' → linear RGB."""
    return srgb_to_linear(hex_to_srgb(color))


def chance(rng: np.random.Generator, p: float) -> bool:
    """A draw only when the feature is on, so styles without it keep their random sequence."""
    return p > 0 and (p >= 1 or rng.random() < p)


def pick(rng: np.random.Generator, items: list):
    """One of `items`; no draw for a single choice."""
    return items[0] if len(items) == 1 else items[int(rng.integers(len(items)))]


def _storeys(rng: np.random.Generator, style: Style, bonus: int) -> int:
    b = style.buildings
    lo, hi = b.storeys_min, b.storeys_max
    mode = min(hi, b.storeys_mode + bonus)
    return int(np.clip(round(rng.triangular(lo - 0.49, mode, hi + 0.49)), lo, hi))


def walk_inset(road_width_m: float) -> float:
    """How far from the edge of a kerb-less street the walk line runs: a third of the width
    (never closer than WALK_INSET_M), which keeps the camera off the walls."""
    return max(min(WALK_INSET_M, road_width_m / 2 - 0.4), road_width_m / 3)


# ---------------------------------------------------------------- the street network


@dataclass(frozen=True)
class StreetPlan:
    """The street network: a main street along X, side streets along Y at `side_x_m`, back
    streets at ±`back_y_m` (centre lines); widths in metres."""

    main_half_width_m: float
    main_sidewalk_m: float
    side_sidewalk_m: float
    canal_width_m: float
    side_x_m: tuple[float, ...]
    side_width_m: tuple[float, ...]
    back_width_m: float
    back_y_m: float
    back_walk_y_m: float
    x_min_m: float
    x_max_m: float


def plan_street(style: Style, rng: np.random.Generator, extent_m: float) -> StreetPlan:
    """Side-street positions and widths, the back streets and the block depth."""
    st = style.network
    hw, sw, ssw = st.main_road_width_m / 2, st.main_sidewalk_width_m, st.side_sidewalk_width_m
    half = extent_m / 2
    xs = [0.0]
    while xs[-1] < half:
        xs.append(xs[-1] + uniform(rng, st.block_length_m))
    while xs[0] > -half:
        xs.insert(0, xs[0] - uniform(rng, st.block_length_m))
    side_w = [uniform(rng, st.side_road_width_m) for _ in xs]
    back_w = uniform(rng, st.side_road_width_m)
    depth = uniform(rng, st.block_depth_m)
    # back street centre lines at ±yb; block depth runs frontage to frontage
    yb = hw + sw + depth + ssw + back_w / 2
    # walk line of a back street, on its block side: side-street walk lines end on it
    walk_y = yb - back_w / 2 - ssw / 2 if ssw > 0 else yb - back_w / 2 + walk_inset(back_w)
    return StreetPlan(hw, sw, ssw, st.canal_width_m, tuple(xs), tuple(side_w), back_w, yb, walk_y,
                      xs[0] - 12.0, xs[-1] + 12.0)


# ---------------------------------------------------------------- shop and sign kit specs


@dataclass(frozen=True)
class AwningSpec:
    color: Color
    striped: bool
    out_m: float


@dataclass(frozen=True)
class ShopfrontSpec:
    """A ground-floor shop: shutter or lit glass, an optional fascia sign and awning."""

    shuttered: bool
    glass_variation: float
    fascia_sign: int | None  # index into the horizontal sign textures
    awning: AwningSpec | None


@dataclass(frozen=True)
class VerticalSignSpec:
    """A tall lit sign standing out from the wall at `edge_m` along it."""

    sign: int
    out_m: float
    height_m: float
    edge_m: float


@dataclass(frozen=True)
class BoardSpec:
    """One projecting sign board on an arm (Hong Kong style)."""

    z_m: float
    out_m: float
    height_m: float
    tall: bool
    sign: int
    along_m: float


def plan_shopfront(rng: np.random.Generator, style: Style, n_signs: int) -> ShopfrontSpec:
    sh = style.shops
    shuttered = rng.random() < sh.shutter_prob
    glass_var = 0.0 if shuttered else float(rng.random())
    fascia = int(rng.integers(n_signs)) if rng.random() < style.signs.horizontal_prob else None
    awning = None
    if rng.random() < sh.awning_prob:
        col = lin(sh.awning_colors[int(rng.integers(len(sh.awning_colors)))])
        striped = rng.random() < 0.5
        awning = AwningSpec(col, bool(striped), float(rng.uniform(0.8, 1.3)))
    return ShopfrontSpec(bool(shuttered), glass_var, fascia, awning)


def plan_vertical_sign(rng: np.random.Generator, n_signs: int, width_m: float, gf_m: float,
                       height_m: float) -> VerticalSignSpec | None:
    """None when the wall above the shop is too short for one."""
    sign = int(rng.integers(n_signs))
    out = float(rng.uniform(0.65, 1.0))
    z0 = gf_m + 0.4
    h = float(min(rng.uniform(2.5, 7.5), height_m - z0 - 0.3))
    if h < 1.5:
        return None
    edge = 0.25 if rng.random() < 0.5 else width_m - 0.25
    return VerticalSignSpec(sign, out, h, edge)


def plan_projecting_signs(rng: np.random.Generator, style: Style, n_signs: int, width_m: float, gf_m: float,
                          height_m: float, reach_m: tuple[float, float]) -> tuple[BoardSpec, ...]:
    """Boards stacked up the facade, each reaching out within `reach_m` (lo, hi)."""
    lo, hi = reach_m
    z = gf_m + float(rng.uniform(0.3, 1.5))
    boards = []
    for _ in range(int(rng.integers(1, 4))):
        out = uniform(rng, (lo, hi))
        h = float(rng.uniform(1.2, 3.2))
        if z + h > min(height_m - 0.5, 24.0):
            break
        tall = h > out * 0.9
        sign = int(rng.integers(n_signs))
        along = float(rng.uniform(0.3, max(0.31, width_m - 0.3)))
        boards.append(BoardSpec(z, out, h, bool(tall), sign, along))
        z += h + float(rng.uniform(0.3, 1.2))
    return tuple(boards)


# ---------------------------------------------------------------- lots and buildings


@dataclass(frozen=True)
class LotSpec:
    """A lot along a street line: `origin_m` is the front corner from which the facade runs
    along `along` (unit) for `width_m`, chosen so that along × up faces the street (`normal`)."""

    origin_m: Vec3
    along: Vec3
    normal: Vec3
    width_m: float
    depth_m: float
    street_kind: str  # "main" or "side"
    row_garden_m: float  # the front garden the row shares
    short_frontage: bool  # one lot filling a short gap


@dataclass(frozen=True)
class BodySpec:
    """The building's box and wall finish."""

    storeys: int
    tower: bool
    ground_floor_m: float
    floor_height_m: float
    height_m: float
    setback_m: float
    variation: float  # integer part of 4 × variation = window style, fraction = randomness
    wall_color: Color
    wall_texture: str
    bays: int
    bay_width_m: float


@dataclass(frozen=True)
class GroundSpec:
    """What stands at street level: shop or front door, stoop, garden and its railing."""

    shop: ShopfrontSpec | None
    garden_m: float
    stoop: bool
    windows: bool  # a residential ground floor with its own row of windows
    door_at_m: float | None
    door_color: Color | None
    front_railing: bool


@dataclass(frozen=True)
class ExtrasSpec:
    """Facade parts and street clutter belonging to the lot."""

    bay_window_at_m: float | None
    fire_escape: bool
    balconies: bool
    continuous_balconies: bool
    cornice: bool
    vertical_sign: VerticalSignSpec | None
    boards: tuple[BoardSpec, ...]
    vending: tuple[int, ...]  # face texture per machine
    plant_pot: tuple[float, float] | None  # (along m, yaw rad)
    sills: bool = False  # stone sills and heads on the windows
    ac_units: tuple[tuple[int, int], ...] = ()  # (bay, floor above the ground) with an AC box
    pipe_at_m: float | None = None  # a downpipe this far along the facade
    a_frame: tuple[float, int] | None = None  # a pavement A-board before the shop: (along m, sign)


@dataclass(frozen=True)
class RoofSpec:
    kind: str  # flat, parapet, mansard, gable
    gable_shape: int  # 0 triangle, 1 stepped, 2 neck (gable only)
    top_m: float
    chimneys: tuple[tuple[float, float, float], ...]  # (along m, depth fraction, height m)
    water_tank: tuple[float, float, float, float] | None  # (along frac, depth frac, radius m, height m)
    clutter: tuple[float, float, bool] | None  # (along frac, depth frac, cylinder?)


@dataclass(frozen=True)
class BuildingSpec:
    lot: LotSpec
    body: BodySpec
    ground: GroundSpec
    extras: ExtrasSpec
    roof: RoofSpec

    def stats(self) -> dict:
        """The summary `Scene.stats['buildings']` lists per building."""
        return {
            "storeys": self.body.storeys, "height_m": self.body.height_m, "width_m": self.lot.width_m,
            "depth_m": self.lot.depth_m, "street": self.lot.street_kind, "shop": self.ground.shop is not None,
            "floor_height_m": self.body.floor_height_m, "tower": self.body.tower, "roof": self.roof.kind,
            "roof_top_m": self.roof.top_m, "front_garden_m": self.ground.garden_m, "stoop": self.ground.stoop,
            "short_frontage": self.lot.short_frontage,
        }


def _plan_body(rng: np.random.Generator, style: Style, lot: LotSpec) -> tuple[BodySpec, bool]:
    """Storeys, floor height, wall finish and window style; and whether the lot has a shop."""
    bs, fs = style.buildings, style.facade
    bonus = bs.storeys_main_street_bonus if lot.street_kind == "main" else 0
    storeys = _storeys(rng, style, bonus)
    tower = lot.street_kind == "main" and chance(rng, bs.tower_prob)
    if tower:
        storeys = int(rng.integers(bs.tower_storeys[0], bs.tower_storeys[1] + 1))
    gf = bs.ground_floor_height_m
    fh = uniform(rng, bs.floor_height_m)
    height = gf + (storeys - 1) * fh
    setback = uniform(rng, bs.setback_m)
    var = float(rng.random())
    color = lin(fs.wall_colors[int(rng.integers(len(fs.wall_colors)))])
    wall_tex = fs.wall_textures[int(rng.integers(len(fs.wall_textures)))]
    bay = uniform(rng, fs.bay_width_m)
    bays = max(1, round(lot.width_m / bay))
    style_id = fs.window_styles[int(rng.integers(len(fs.window_styles)))]
    if tower:
        style_id, wall_tex = (2, "panel") if rng.random() < 0.6 else (style_id, wall_tex)
    shop_p = style.shops.shop_prob
    if lot.street_kind == "side" and style.shops.side_street_shop_prob is not None:
        shop_p = style.shops.side_street_shop_prob
    shop = bool(rng.random() < shop_p)
    body = BodySpec(storeys, bool(tower), gf, fh, height, setback, (style_id + var) / 4.0, color, wall_tex, bays, bay)
    return body, shop


def _plan_ground(rng: np.random.Generator, style: Style, lot: LotSpec, body: BodySpec, shop: bool,
                 n_signs: int) -> tuple[BodySpec, GroundSpec, str]:
    """Stoop (which may re-dress the walls), roof kind, shopfront or door, garden railing."""
    bs, fs = style.buildings, style.facade
    garden = 0.0 if body.tower else lot.row_garden_m
    stoop = not shop and garden >= 1.8 and chance(rng, bs.stoop_prob)
    if stoop and fs.stoop_wall_colors:
        body = _replace_finish(body, lin(pick(rng, fs.stoop_wall_colors)), "stone")
    roof = "flat" if body.tower else pick(rng, bs.roof_types)
    if roof == "gable" and lot.width_m > 10.0:
        roof = "flat"
    shop_spec = plan_shopfront(rng, style, n_signs) if shop else None
    windows = not shop and fs.ground_floor_windows
    door_at = door_color = None
    if windows:
        door_at = float(rng.uniform(0.8, max(0.81, lot.width_m - 0.8))) if not stoop else min(1.3, lot.width_m / 2)
        door_color = lin(pick(rng, fs.door_colors))
    railing = garden > 0 and not shop and chance(rng, fs.front_railing_prob)
    return body, GroundSpec(shop_spec, garden, bool(stoop), bool(windows), door_at, door_color, bool(railing)), roof


def _replace_finish(body: BodySpec, color: Color, texture: str) -> BodySpec:
    return replace(body, wall_color=color, wall_texture=texture)


def _plan_extras(rng: np.random.Generator, style: Style, lot: LotSpec, body: BodySpec, ground: GroundSpec,
                 n_signs: int, reach_m: tuple[float, float]) -> ExtrasSpec:
    bs, fs, w = style.buildings, style.facade, lot.width_m
    shop = ground.shop is not None
    bay_at = None
    if not shop and chance(rng, bs.bay_window_prob) and w >= 4.2:
        bay_at = w - 1.8 if ground.windows and ground.door_at_m < w / 2 else 1.8
    fire = (not ground.stoop and not body.tower and 3 <= body.storeys <= 9 and chance(rng, bs.fire_escape_prob)
            and w >= 3.5)
    balconies = rng.random() < fs.balcony_prob and body.storeys >= 3
    continuous = bool(fs.continuous_balcony_floors) and chance(rng, fs.continuous_balcony_prob)
    cornice = chance(rng, fs.cornice_prob)
    vsign = None
    if rng.random() < style.signs.vertical_prob and body.storeys >= 2:
        vsign = plan_vertical_sign(rng, n_signs, w, body.ground_floor_m, body.height_m)
    boards: tuple[BoardSpec, ...] = ()
    if chance(rng, style.signs.projecting_prob) and body.storeys >= 3:
        boards = plan_projecting_signs(rng, style, n_signs, w, body.ground_floor_m, body.height_m, reach_m)
    vending = []
    if lot.street_kind == "side" and shop and rng.random() < style.furniture.vending_prob:
        for k in range(int(rng.integers(1, 3))):
            if 0.6 + k * 1.05 + 0.5 > w:
                break
            vending.append(int(rng.integers(3)))
    pot = None
    if rng.random() < style.furniture.plant_pot_prob:
        pot = (float(rng.uniform(0.4, w - 0.4)), float(rng.uniform(0, 1.5)))
    return ExtrasSpec(bay_at, bool(fire), bool(balconies), bool(continuous), bool(cornice), vsign, boards,
                      tuple(vending), pot, *_plan_wall_parts(rng, style, lot, body, fire),
                      _plan_a_frame(rng, style, lot, shop, n_signs))


def _plan_a_frame(rng: np.random.Generator, style: Style, lot: LotSpec, shop: bool,
                  n_signs: int) -> tuple[float, int] | None:
    """Where along a shop's frontage its A-board stands, and which sign it shows."""
    if not shop or lot.width_m < 2.5 or not chance(rng, style.furniture.a_frame_prob):
        return None
    return float(rng.uniform(0.8, lot.width_m - 0.8)), int(rng.integers(n_signs))


def _plan_wall_parts(rng: np.random.Generator, style: Style, lot: LotSpec, body: BodySpec,
                     fire_escape: bool) -> tuple[bool, tuple[tuple[int, int], ...], float | None]:
    """Sills and heads, air-conditioner boxes under windows (not behind a fire escape), a
    downpipe at one party wall; drawn last so the lot's other draws stay as they were."""
    fs = style.facade
    window_style = int(body.variation * 4)
    # towers have flush modern windows; sills and heads belong to the older, lower buildings
    sills = window_style in (0, 1) and not body.tower and chance(rng, fs.window_sill_prob)
    ac = []
    if fs.ac_unit_prob > 0 and window_style in (0, 1) and not body.tower:
        for floor in range(body.storeys - 1):
            for bay in range(body.bays if window_style == 0 else 1):
                if rng.random() < fs.ac_unit_prob and not (fire_escape and 0 < bay < body.bays - 1):
                    ac.append((bay, floor))
    pipe = None
    if chance(rng, fs.drain_pipe_prob) and lot.width_m > 3.0:
        pipe = 0.15 if rng.random() < 0.5 else lot.width_m - 0.15
    return bool(sills), tuple(ac), pipe


def _plan_roof(rng: np.random.Generator, style: Style, lot: LotSpec, body: BodySpec, kind: str) -> RoofSpec:
    bs, h = style.buildings, body.height_m
    shape = int(rng.integers(0, 3)) if kind == "gable" else 0
    top = {"mansard": h + bs.mansard_height_m, "gable": h + lot.width_m * bs.gable_height_ratio,
           "parapet": h + 0.9}.get(kind, h)
    chimneys = []
    if chance(rng, bs.chimney_prob) and kind != "gable":
        for a in (0.3, lot.width_m - 0.3):
            if rng.random() < 0.7:
                chimneys.append((a, float(rng.uniform(0.3, 0.6)), float(rng.uniform(1.2, 2.0))))
    tank = None
    if kind in ("flat", "parapet") and chance(rng, bs.water_tank_prob):
        tank = tuple(float(rng.uniform(lo, hi)) for lo, hi in ((0.3, 0.7), (0.3, 0.7), (1.1, 1.6), (2.6, 3.6)))
    clutter = None
    if rng.random() < bs.rooftop_clutter_prob:
        clutter = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)), bool(rng.random() < 0.5))
    return RoofSpec(kind, shape, top, tuple(chimneys), tank, clutter)


def plan_building(rng: np.random.Generator, style: Style, lot: LotSpec, n_signs: int,
                  reach_m: tuple[float, float]) -> BuildingSpec:
    """Every choice for one building on `lot`; `reach_m` bounds how far signs project."""
    body, shop = _plan_body(rng, style, lot)
    body, ground, roof_kind = _plan_ground(rng, style, lot, body, shop, n_signs)
    extras = _plan_extras(rng, style, lot, body, ground, n_signs, reach_m)
    return BuildingSpec(lot, body, ground, extras, _plan_roof(rng, style, lot, body, roof_kind))


def _lot_widths(rng: np.random.Generator, style: Style, length_m: float) -> list[float]:
    """Lot widths packed along a street line; the last one stretched to end flush, or merged into
    its neighbour when what is left is narrower than the narrowest lot."""
    lo = style.buildings.width_m[0]
    widths, s = [], 0.0
    while s < length_m - 0.5:
        w = uniform(rng, style.buildings.width_m)
        if length_m - (s + w) < lo * 0.6:
            if length_m - s < lo and widths:
                widths[-1] += length_m - s
            else:
                widths.append(length_m - s)
            break
        widths.append(w)
        s += w
    return widths


def _sign_reach(style: Style, street: StreetPlan, street_kind: str) -> tuple[float, float]:
    """How far projecting signs may reach out: over a side street, no further than a third of it."""
    lo, hi = style.signs.projecting_out_m
    if street_kind == "side":
        hi = min(hi, max(lo, 1.0 + street.side_sidewalk_m + min(street.side_width_m) * 0.35))
        lo = min(lo, hi)
    return lo, hi


LOT_STREAM_KEY = 0x6C07  # marks lot streams among the children of the street's seed


def lot_rng(street_seed: np.random.SeedSequence, row: int, lot: int) -> np.random.Generator:
    """The random stream of lot `lot` in row `row`: a child of the street's seed that depends on
    nothing but these three, so lots never share or shift each other's draws."""
    seq = np.random.SeedSequence(street_seed.entropy, spawn_key=(*street_seed.spawn_key, LOT_STREAM_KEY, row, lot),
                                 pool_size=street_seed.pool_size)
    return np.random.default_rng(seq)


def plan_frontage(rng: np.random.Generator, style: Style, street: StreetPlan, a, c, normal, depth_m: float,
                  street_kind: str, n_signs: int, street_seed: np.random.SeedSequence,
                  row: int) -> list[BuildingSpec]:
    """Lots packed edge to edge along the street line a→c, buildings extending away from `normal`;
    widths and the row's garden from `rng`, each building from its own `lot_rng`."""
    a, c = np.array([a[0], a[1], 0.0]), np.array([c[0], c[1], 0.0])
    normal = np.asarray(normal, np.float64)
    length = float(np.linalg.norm(c - a))
    if length < 2.0:
        return []
    t = (c - a) / length
    widths = _lot_widths(rng, style, length)
    # a side-street row shares its front areas (a terrace, a brownstone row): neighbours line up
    fg = style.buildings.front_garden_m
    garden = uniform(rng, fg) if fg[1] > 0 and street_kind == "side" else 0.0
    short = length < style.buildings.width_m[0]
    reach = _sign_reach(style, street, street_kind)
    out, s = [], 0.0
    for w in widths:
        p0, tt = a + t * s, t
        if np.dot(np.cross(tt, normal), [0, 0, 1]) > 0:  # keep `along` so that along × up faces out
            p0, tt = p0 + tt * w, -tt
        lot = LotSpec(_vec(p0), _vec(tt), _vec(normal), w, depth_m, street_kind, garden, short)
        out.append(plan_building(lot_rng(street_seed, row, len(out)), style, lot, n_signs, reach))
        s += w
    return out


def _vec(v) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


def plan_blocks(style: Style, rng: np.random.Generator, street: StreetPlan, n_signs: int,
                street_seed: np.random.SeedSequence | None = None) -> list[BuildingSpec]:
    """Every block between the streets lined with buildings facing each street around it, the
    rows beyond the back streets, and the rows closing both ends of the main street. Lot streams
    derive from `street_seed` (default: the seed `rng` was made from)."""
    seed = rng.bit_generator.seed_seq if street_seed is None else street_seed
    rows = itertools.count()
    hw, sw, yb, bw, ssw = (street.main_half_width_m, street.main_sidewalk_m, street.back_y_m, street.back_width_m,
                           street.side_sidewalk_m)
    edges = [street.x_min_m - 40] + list(street.side_x_m) + [street.x_max_m + 40]
    widths = [0.0] + list(street.side_width_m) + [0.0]
    dep = style.buildings.depth_m
    out: list[BuildingSpec] = []

    def row(a, c, normal, depth_m, kind):
        out.extend(plan_frontage(rng, style, street, a, c, normal, depth_m, kind, n_signs, seed, next(rows)))

    for i in range(len(edges) - 1):
        bx0 = edges[i] + widths[i] / 2 + (ssw if i > 0 else 0.0)
        bx1 = edges[i + 1] - widths[i + 1] / 2 - (ssw if i < len(edges) - 2 else 0.0)
        for sgn in (1, -1):
            y_main, y_back = sgn * (hw + sw), sgn * (yb - bw / 2 - ssw)
            d_front, d_back = uniform(rng, dep), uniform(rng, dep)
            n_main = np.array([0.0, -sgn, 0.0])
            row((bx0, y_main), (bx1, y_main), n_main, d_front, "main")
            row((bx0, y_back), (bx1, y_back), -n_main, d_back, "side")
            # along the side streets, between the corner lots
            ya, yc = y_main + sgn * d_front, y_back - sgn * d_back
            if i > 0:
                row((bx0, ya), (bx0, yc), np.array([-1.0, 0, 0]), uniform(rng, dep), "side")
            if i < len(edges) - 2:
                row((bx1, ya), (bx1, yc), np.array([1.0, 0, 0]), uniform(rng, dep), "side")
        # the row on the far side of each back street closes the view down side streets
        for sgn in (1, -1):
            yf = sgn * (yb + bw / 2 + ssw)
            row((bx0, yf), (bx1, yf), np.array([0.0, -sgn, 0]), uniform(rng, dep), "side")
    for sgn in (1, -1):
        xe = street.x_max_m + 40 if sgn > 0 else street.x_min_m - 40
        row((xe, -yb), (xe, yb), np.array([-sgn, 0.0, 0]), 12.0, "main")
    return out
