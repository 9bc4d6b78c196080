"""The procedural street generator: (Style, rng, extent) → Scene.

Layout: a main street along X (y = 0) with raised sidewalks, side streets along Y crossing it
(kerb-less, white edge lines), back streets parallel to the main street closing the blocks.
Blocks are lined edge to edge with buildings facing every street around them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scene import EMISSIVE, FACADE, PLAIN, ROAD, SHOPFRONT, Material, PointLight, Scene, Street
from . import facade as fp
from . import props
from .builder import MeshBuilder
from .network import NetworkBuilder
from .style import Style
from .textures import hex_to_srgb, make_textures, srgb_to_linear

KERB_M = 0.15
WALK_INSET_M = 0.9  # people walk this far in from a kerb-less street's edge


@dataclass(frozen=True)
class _Mats:
    road: Material
    sidewalk: Material
    kerb: Material
    paint: Material
    roof: Material
    pole: Material
    metal: Material
    wire: Material
    glass: Material
    shutter: Material
    awning: Material
    awning_striped: Material
    lamp: Material
    plant: Material
    walls: dict
    signs_v: list
    signs_h: list
    vending: list


def _materials(style: Style, n_signs: int) -> _Mats:
    glow = style.signs.glow
    return _Mats(
        road=Material("road", (1.0, 1.0, 1.0), 0.85, "asphalt", kind=ROAD),
        sidewalk=Material("sidewalk", (0.55, 0.55, 0.54), 0.9, "sidewalk"),
        kerb=Material("kerb", (0.45, 0.45, 0.45), 0.9, "concrete"),
        paint=Material("paint", (0.80, 0.80, 0.78), 0.7),
        roof=Material("roof", (0.28, 0.28, 0.29), 0.9, "concrete"),
        pole=Material("pole", (0.42, 0.42, 0.40), 0.8, "concrete"),
        metal=Material("metal", (0.30, 0.31, 0.33), 0.5),
        wire=Material("wire", (0.02, 0.02, 0.02), 0.6),
        glass=Material("shopfront", (0.25, 0.27, 0.30), 0.1, kind=SHOPFRONT, emissive=0.35),
        shutter=Material("shutter", (0.48, 0.49, 0.50), 0.7, "shutter"),
        awning=Material("awning", (1.0, 1.0, 1.0), 0.8, "awning"),
        awning_striped=Material("awning_striped", (1.0, 1.0, 1.0), 0.8, "awning_striped"),
        lamp=Material("lamp", (1.0, 0.9, 0.75), 0.5, kind=EMISSIVE, emissive=12.0),
        plant=Material("plant", (0.08, 0.22, 0.06), 0.9),
        walls={t: Material(f"wall_{t}", (1.0, 1.0, 1.0), 0.85, t, kind=FACADE)
               for t in ("tile", "tile_small", "concrete", "panel", "brick", "stone", "stucco")},
        signs_v=[Material(f"sign_v{i}", (1, 1, 1), 0.4, f"sign_v{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)],
        signs_h=[Material(f"sign_h{i}", (1, 1, 1), 0.4, f"sign_h{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)],
        vending=[Material(f"vending{i}", (1, 1, 1), 0.3, f"vending{i}", kind=EMISSIVE, emissive=1.5) for i in range(3)],
    )


def _uniform(rng: np.random.Generator, r) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _lin(color: str) -> tuple[float, float, float]:
    return srgb_to_linear(hex_to_srgb(color))


def _chance(rng: np.random.Generator, p: float) -> bool:
    """A draw only when the feature is on, so styles without it keep their random sequence."""
    return p > 0 and (p >= 1 or rng.random() < p)


def _pick(rng: np.random.Generator, items: list):
    """One of `items`; no draw for a single choice."""
    return items[0] if len(items) == 1 else items[int(rng.integers(len(items)))]


def _storeys(rng: np.random.Generator, style: Style, bonus: int) -> int:
    b = style.buildings
    lo, hi = b.storeys_min, b.storeys_max
    mode = min(hi, b.storeys_mode + bonus)
    return int(np.clip(round(rng.triangular(lo - 0.49, mode, hi + 0.49)), lo, hi))


class StreetGenerator:
    """Builds one street neighbourhood. Deterministic for a given style and rng seed."""

    def __init__(self, style: Style, rng: np.random.Generator, extent_m: float = 200.0):
        self.style, self.rng, self.extent_m = style, rng, float(np.clip(extent_m, 80.0, 600.0))
        self.n_signs = 8
        self.b = MeshBuilder()
        self.m = _materials(style, self.n_signs)
        self.lights: list[PointLight] = []
        self.buildings: list[dict] = []
        self.streets: list[Street] = []
        self.net = NetworkBuilder()
        self.poles: list[tuple[np.ndarray, str]] = []
        self.props_count: dict[str, int] = {}
        self.taken: list[tuple[int, float]] = []
        self.lamp_x: dict[int, list[float]] = {1: [], -1: []}

    # ---- layout ---------------------------------------------------------------------------
    def generate(self) -> Scene:
        st, rng = self.style.network, self.rng
        self.hw = st.main_road_width_m / 2
        self.sw = st.main_sidewalk_width_m
        self.ssw = st.side_sidewalk_width_m
        self.cw = st.canal_width_m
        half = self.extent_m / 2
        xs = [0.0]
        while xs[-1] < half:
            xs.append(xs[-1] + _uniform(rng, st.block_length_m))
        while xs[0] > -half:
            xs.insert(0, xs[0] - _uniform(rng, st.block_length_m))
        self.side_x = xs
        self.side_w = [_uniform(rng, st.side_road_width_m) for _ in xs]
        self.back_w = _uniform(rng, st.side_road_width_m)
        depth = _uniform(rng, st.block_depth_m)
        # back street centre lines at ±yb; block depth runs frontage to frontage
        self.yb = self.hw + self.sw + depth + self.ssw + self.back_w / 2
        # walk line of a back street, on its block side: side-street walk lines end on it
        if self.ssw > 0:
            self.back_walk_y = self.yb - self.back_w / 2 - self.ssw / 2
        else:
            self.back_walk_y = self.yb - self.back_w / 2 + self._walk_inset(self.back_w)
        self.x_min, self.x_max = xs[0] - 12.0, xs[-1] + 12.0

        self._ground()
        self._main_street()
        for x, w in zip(xs, self.side_w):
            self._side_street(x, w)
        for sgn in (1, -1):
            self._back_street(sgn)
        self._blocks()
        if self.style.furniture.utility_poles:
            self._utility_poles_and_wires()
        self._main_lamps()
        # props draw from their own stream so adding them leaves the buildings as they were
        self.prng = rng.spawn(1)[0]
        self._canal_props()
        self._trees()
        self._kerb_items()
        self._traffic()

        b0 = (self.x_min - 20, -self.yb - 20, 0.0)
        b1 = (self.x_max + 20, self.yb + 20, max([bd["roof_top_m"] for bd in self.buildings] + [10.0]))
        scene = Scene(
            meshes=self.b.build(),
            textures=make_textures(self.style.signs.sign_colors, rng, self.n_signs),
            lights=self.lights,
            streets=self.streets,
            network=self.net.build(),
            bounds_m=(b0, b1),
            style=self.style.name,
            side_street_x_m=tuple(xs),
            stats={"buildings": self.buildings, "back_street_y_m": self.yb,
                   "canal_width_m": self.cw, "props": self.props_count},
        )
        return scene

    # ---- ground and streets -----------------------------------------------------------------
    def _ground(self) -> None:
        x0, x1, y = self.x_min - 60, self.x_max + 60, self.yb + 60
        if self.cw <= 0:
            self.b.quad(self.m.road, (x0, -y, -0.02), (x1 - x0, 0, 0), (0, 2 * y, 0), ((0, 0), ((x1 - x0) / 4, 2 * y / 4)))
            return
        c = self.cw / 2
        for ya, yc in ((-y, -c), (c, y)):
            self.b.quad(self.m.road, (x0, ya, -0.02), (x1 - x0, 0, 0), (0, yc - ya, 0), ((0, 0), ((x1 - x0) / 4, (yc - ya) / 4)))

    def _main_street(self) -> None:
        m, hw, sw = self.m, self.hw, self.sw
        x0, x1 = self.x_min, self.x_max
        L = x1 - x0
        if self.cw > 0:
            c = self.cw / 2
            for ya in (-hw, c):
                self.b.quad(m.road, (x0, ya, 0), (L, 0, 0), (0, hw - c, 0), ((0, 0), (L / 4, (hw - c) / 4)))
            self._canal()
        else:
            self.b.quad(m.road, (x0, -hw, 0), (L, 0, 0), (0, 2 * hw, 0), ((0, 0), (L / 4, 2 * hw / 4)))
        self.streets.append(Street("main", "main", np.array([[x0, 0.0], [x1, 0.0]]), 2 * hw, sw))
        # raised sidewalks, interrupted where side streets cross
        cuts = sorted((x - w / 2, x + w / 2) for x, w in zip(self.side_x, self.side_w))
        self.cuts = cuts
        spans, cur = [], x0
        for a, c in cuts:
            if a > cur:
                spans.append((cur, a))
            cur = max(cur, c)
        spans.append((cur, x1))
        for sgn in (1, -1):
            yc = sgn * (hw + sw / 2)
            for a, c in spans:
                self.b.box(m.sidewalk, ((a + c) / 2, yc, 0), (c - a, sw, KERB_M), uv_per_m=0.5)
            self.net.line((x0, yc), (x1, yc), "sidewalk", "main")
        if self.cw > 0:
            # the side streets bridge the canal: walk across on the bridge
            for xc in self.side_x:
                self.net.line((xc, -(hw + sw / 2)), (xc, hw + sw / 2), "crossing", "main")
            return
        # centre dashes and edge lines
        dash, gap = self.style.markings.main_center_dash_m
        tracks = self.style.traffic.tram_tracks
        x = x0
        while x < x1 and not tracks:
            if not any(a - 1 < x < c + 1 for a, c in cuts):
                self._paint((x, -0.075), (min(dash, x1 - x), 0.15))
            x += dash + gap
        if tracks:
            rail = Material("rail", (0.35, 0.35, 0.36), 0.3)
            for yc in (-1.7, 1.7):
                for dy in (-0.72, 0.72):
                    self.b.quad(rail, (x0, yc + dy - 0.04, 0.006), (L, 0, 0), (0, 0.08, 0))
        # zebra crossings across the main street beside each side street, and their walk edges
        if self.style.markings.crossings:
            for xc, w in zip(self.side_x, self.side_w):
                cx = xc + w / 2 + 2.5
                for k in range(int(2 * hw / 0.9)):
                    y = -hw + 0.25 + k * 0.9
                    self._paint((cx - 2.0, y), (4.0, 0.45))
                self.net.line((cx, -(hw + sw / 2)), (cx, hw + sw / 2), "crossing", "main")
        else:
            for xc, w in zip(self.side_x, self.side_w):
                cx = xc + w / 2 + 2.5
                self.net.line((cx, -(hw + sw / 2)), (cx, hw + sw / 2), "crossing", "main")

    def _canal(self) -> None:
        """Water below the street, stone quay walls with a coping, railings cut at the bridges."""
        st = self.style.network
        c, dep = self.cw / 2, st.canal_water_depth_m
        x0, x1 = self.x_min - 60, self.x_max + 60
        L = x1 - x0
        water = Material("water", (0.012, 0.018, 0.02), 0.06)
        quay = Material("quay", (0.42, 0.36, 0.3), 0.9, "brick")
        coping = Material("coping", (0.55, 0.53, 0.5), 0.8, "concrete")
        self.b.quad(water, (x0, -c, -dep), (L, 0, 0), (0, 2 * c, 0))
        for sgn in (1, -1):
            y = sgn * c
            self.b.quad(quay, (x0 if sgn > 0 else x1, y, -dep - 0.1), (sgn * L, 0, 0), (0, 0, dep + 0.1), ((0, 0), (L / 2, 1)))
            self.b.box(coping, ((x0 + x1) / 2, y + sgn * 0.2, 0.0), (L, 0.4, 0.12))
        # bridges where side streets cross: a brick deck with parapets
        rail_col = _lin(self.style.facade.railing_color)
        for xc, w in zip(self.side_x, self.side_w):
            bw = w + 2 * self.ssw
            self.b.box(quay, (xc, 0, -0.9), (bw, 2 * c + 0.4, 0.9), np.pi / 2 * 0, uv_per_m=0.5, faces={"top": None})
            for sx in (-1, 1):
                self.b.box(quay, (xc + sx * (bw / 2 - 0.2), 0, 0.0), (0.4, 2 * c + 2.0, 0.75), 0.0)
            self.lights.append(PointLight((xc, 0.0, 3.0), (1.0, 0.85, 0.62), 900.0, 12.0))
        if not st.canal_railings:
            return
        spans, cur = [], self.x_min - 40
        for xc, w in zip(self.side_x, self.side_w):
            a = xc - w / 2 - self.ssw
            if a > cur:
                spans.append((cur, a))
            cur = xc + w / 2 + self.ssw
        spans.append((cur, self.x_max + 40))
        for sgn in (1, -1):
            y = sgn * (c + 0.12)
            for a, e in spans:
                L = e - a
                if L < 1:
                    continue
                for z in (0.55, 1.0):
                    self.b.box(fp.METAL_DARK, ((a + e) / 2, y, z), (L, 0.05, 0.05), 0.0, rail_col)
                k = int(L / 1.8)
                xs = a + (np.arange(k) + 0.5) * L / k
                origins = np.stack([xs, np.full(k, y), np.full(k, 0.1)], 1)
                self.b.quads(fp.METAL_DARK, origins, (0.06, 0, 0), (0, 0, 0.95), rail_col, two_sided=True)

    @staticmethod
    def _walk_inset(road_width_m: float) -> float:
        """How far from the edge of a kerb-less street the walk line runs: a third of the width
        (never closer than WALK_INSET_M), which keeps the camera off the walls."""
        return max(min(WALK_INSET_M, road_width_m / 2 - 0.4), road_width_m / 3)

    def _paint(self, xy, size, z: float = 0.005) -> None:
        """A white road marking rectangle with corner `xy` and `size` (dx, dy) in metres."""
        self.b.quad(self.m.paint, (xy[0], xy[1], z), (size[0], 0, 0), (0, size[1], 0))

    def _side_street(self, x: float, w: float) -> None:
        m, hw, sw, yb, ssw = self.m, self.hw, self.sw, self.yb, self.ssw
        y0, y1 = -yb, yb
        self.b.quad(m.road, (x - w / 2, y0, 0), (w, 0, 0), (0, y1 - y0, 0), ((0, 0), (w / 4, (y1 - y0) / 4)))
        self.streets.append(Street(f"side{len(self.streets)}", "side", np.array([[x, y0], [x, y1]]), w, ssw))
        off = self.style.network.edge_line_offset_m
        inset = self._walk_inset(w)
        for sgn in (1, -1):
            ya, yc = sgn * (hw + sw), sgn * (yb - self.back_w / 2)
            lo, hi = min(ya, yc), max(ya, yc)
            if ssw > 0:
                for ex in (x - w / 2 - ssw / 2, x + w / 2 + ssw / 2):
                    self.b.box(m.sidewalk, (ex, (lo + hi) / 2, 0), (ssw, hi - lo, KERB_M), uv_per_m=0.5)
            if self.style.markings.side_edge_lines:
                for ex in (x - w / 2 + off, x + w / 2 - off - 0.12):
                    self._paint((ex, lo), (0.12, hi - lo))
            if self.style.markings.stop_marks:
                # stop bar across the approach lane just before the main street
                yy = ya + sgn * 1.2 - (0.45 if sgn > 0 else 0)
                self._paint((x - w / 2 + off, yy), (w / 2 - off, 0.45))
            if ssw > 0:
                walk = (x - w / 2 - ssw / 2, x + w / 2 + ssw / 2)
            else:
                walk = (x - w / 2 + inset, x + w / 2 - inset)
            for ex in walk:
                self.net.line((ex, sgn * (hw + sw / 2)), (ex, sgn * self.back_walk_y), "street_edge", f"side@{x:.1f}")

    def _back_street(self, sgn: int) -> None:
        m, w, ssw = self.m, self.back_w, self.ssw
        yc = sgn * self.yb
        x0, x1 = self.x_min, self.x_max
        self.b.quad(m.road, (x0, yc - w / 2, 0.0), (x1 - x0, 0, 0), (0, w, 0), ((0, 0), ((x1 - x0) / 4, w / 4)))
        self.streets.append(Street(f"back{'N' if sgn > 0 else 'S'}", "side", np.array([[x0, yc], [x1, yc]]), w, ssw))
        if ssw > 0:
            for side in (1, -1):
                y = yc + side * (w / 2 + ssw / 2)
                self.b.box(m.sidewalk, ((x0 + x1) / 2, y, 0), (x1 - x0, ssw, KERB_M), uv_per_m=0.5)
        self.net.line((x0, sgn * self.back_walk_y), (x1, sgn * self.back_walk_y), "street_edge", f"back{sgn}")

    # ---- buildings ------------------------------------------------------------------------
    def _blocks(self) -> None:
        hw, sw, yb, bw = self.hw, self.sw, self.yb, self.back_w
        xs, ws = self.side_x, self.side_w
        edges = [self.x_min - 40] + [x for x in xs] + [self.x_max + 40]
        widths = [0.0] + ws + [0.0]
        dep = self.style.buildings.depth_m
        for i in range(len(edges) - 1):
            bx0 = edges[i] + widths[i] / 2 + (self.ssw if i > 0 else 0.0)
            bx1 = edges[i + 1] - widths[i + 1] / 2 - (self.ssw if i < len(edges) - 2 else 0.0)
            for sgn in (1, -1):
                y_main = sgn * (hw + sw)
                y_back = sgn * (yb - bw / 2 - self.ssw)
                d_front = _uniform(self.rng, dep)
                d_back = _uniform(self.rng, dep)
                n_main = np.array([0.0, -sgn, 0.0])
                # along the main street, facing it
                self._frontage((bx0, y_main), (bx1, y_main), n_main, d_front, "main")
                # along the back street, facing it
                self._frontage((bx0, y_back), (bx1, y_back), -n_main, d_back, "side")
                # along the side streets, between the corner lots
                ya, yc = y_main + sgn * d_front, y_back - sgn * d_back
                if i > 0:
                    self._frontage((bx0, ya), (bx0, yc), np.array([-1.0, 0, 0]), _uniform(self.rng, dep), "side")
                if i < len(edges) - 2:
                    self._frontage((bx1, ya), (bx1, yc), np.array([1.0, 0, 0]), _uniform(self.rng, dep), "side")
            # the row on the far side of each back street closes the view down side streets
            for sgn in (1, -1):
                yf = sgn * (yb + bw / 2 + self.ssw)
                self._frontage((bx0, yf), (bx1, yf), np.array([0.0, -sgn, 0]), _uniform(self.rng, dep), "side")
        # rows closing both ends of the main street
        for sgn in (1, -1):
            xe = self.x_max + 40 if sgn > 0 else self.x_min - 40
            self._frontage((xe, -yb), (xe, yb), np.array([-sgn, 0.0, 0]), 12.0, "main")

    def _frontage(self, a, c, normal: np.ndarray, depth_m: float, street_kind: str) -> None:
        """Pack lots edge to edge along the street line a→c; buildings extend away from `normal`."""
        a, c = np.array([a[0], a[1], 0.0]), np.array([c[0], c[1], 0.0])
        length = float(np.linalg.norm(c - a))
        if length < 2.0:
            return
        t = (c - a) / length
        # lot widths, the last one stretched to end flush
        # lot widths; the last one stretched to end flush, or merged into its neighbour when
        # what is left is narrower than the narrowest lot
        lo = self.style.buildings.width_m[0]
        widths, s = [], 0.0
        while s < length - 0.5:
            w = _uniform(self.rng, self.style.buildings.width_m)
            if length - (s + w) < lo * 0.6:
                if length - s < lo and widths:
                    widths[-1] += length - s
                else:
                    widths.append(length - s)
                break
            widths.append(w)
            s += w
        s = 0.0
        # a side-street row shares its front areas (a terrace, a brownstone row): neighbours line up
        fg = self.style.buildings.front_garden_m
        self.row_garden_m = _uniform(self.rng, fg) if fg[1] > 0 and street_kind == "side" else 0.0
        for w in widths:
            self._building(a + t * s, t, w, normal, depth_m, street_kind)
            self.buildings[-1]["short_frontage"] = length < lo  # one lot filling a short gap
            s += w

    def _building(self, p0, t, width_m, n, depth_m, street_kind) -> None:
        """One building: a box with a shopfront or residential ground floor, a windowed upper
        facade, and the style's facade parts (cornice, balconies, bays, stoop, fire escape, roof)."""
        rng, st, m = self.rng, self.style, self.m
        bs, fs = st.buildings, st.facade
        if np.dot(np.cross(t, n), [0, 0, 1]) > 0:  # keep `t` so that u × v faces outward
            p0, t = p0 + t * width_m, -t
        bonus = bs.storeys_main_street_bonus if street_kind == "main" else 0
        storeys = _storeys(rng, st, bonus)
        tower = street_kind == "main" and _chance(rng, bs.tower_prob)
        if tower:
            storeys = int(rng.integers(bs.tower_storeys[0], bs.tower_storeys[1] + 1))
        gf = bs.ground_floor_height_m
        fh = _uniform(rng, bs.floor_height_m)
        height = gf + (storeys - 1) * fh
        setback = _uniform(rng, bs.setback_m)
        var = float(rng.random())
        color = _lin(fs.wall_colors[int(rng.integers(len(fs.wall_colors)))])
        wall_tex = fs.wall_textures[int(rng.integers(len(fs.wall_textures)))]
        bay = _uniform(rng, fs.bay_width_m)
        bays = max(1, round(width_m / bay))
        style_id = fs.window_styles[int(rng.integers(len(fs.window_styles)))]
        if tower:
            style_id, wall_tex = (2, "panel") if rng.random() < 0.6 else (style_id, wall_tex)
        var = (style_id + var) / 4.0  # integer part of 4*var = window style, fraction = randomness
        shop_p = st.shops.shop_prob
        if street_kind == "side" and st.shops.side_street_shop_prob is not None:
            shop_p = st.shops.side_street_shop_prob
        shop = rng.random() < shop_p
        garden = 0.0 if tower else self.row_garden_m
        stoop = not shop and garden >= 1.8 and _chance(rng, bs.stoop_prob)
        if stoop and fs.stoop_wall_colors:
            color, wall_tex = _lin(_pick(rng, fs.stoop_wall_colors)), "stone"
        wall = m.walls[wall_tex]
        front = p0 - n * (setback + garden)
        f = fp.Frame(front, t, n, width_m)
        up = np.array([0, 0, 1.0])
        b = self.b
        z_upper = gf if shop else 0.0
        v0 = 0.0 if shop else -gf / fh
        res_windows = not shop and fs.ground_floor_windows
        if res_windows:  # residential ground floor with windows: a separate row of cells
            b.quad(wall, front, t * width_m, up * gf, ((0, 0), (bays, 1)), color, var)
            b.quad(wall, front + up * gf, t * width_m, up * (height - gf), ((0, 1), (bays, 1 + (height - gf) / fh)), color, var)
        else:
            # upper facade (windows drawn by the FACADE shader, one per UV cell)
            b.quad(wall, front + up * z_upper, t * width_m, up * (height - z_upper), ((0, v0), (bays, (height - gf) / fh)), color, var)
        # side walls and roof
        back = front - n * depth_m
        nb = max(1, round(depth_m / bay))
        b.quad(wall, back, n * depth_m, up * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var)
        b.quad(wall, front + t * width_m, -n * depth_m, up * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var)
        roof_type = "flat" if tower else _pick(rng, bs.roof_types)
        if roof_type == "gable" and width_m > 10.0:
            roof_type = "flat"
        if roof_type != "gable":
            b.quad(m.roof, front + up * height, t * width_m, -n * depth_m, ((0, 0), (width_m / 2, depth_m / 2)))
        if shop:
            self._shopfront(front, t, width_m, n, gf, color, var)
        elif not res_windows:
            b.quad(wall, front, t * width_m, up * gf, ((0, -gf / fh), (bays, 0)), color, var)
        if res_windows:
            door_at = float(rng.uniform(0.8, max(0.81, width_m - 0.8))) if not stoop else min(1.3, width_m / 2)
            door_z = 1.5 if stoop else 0.0
            fp.door(b, f, door_at, door_z, _lin(_pick(rng, fs.door_colors)))
            if stoop:
                rail = _lin(fs.railing_color)
                fp.stoop(b, f, door_at, min(garden, 3.0), 1.5, tuple(np.asarray(color) * 0.9), rail)
        if garden > 0:
            pave = self.m.sidewalk
            b.box(pave, p0 - n * (setback + garden) / 2 + t * (width_m / 2), (width_m, setback + garden, KERB_M),
                  float(np.arctan2(t[1], t[0])), uv_per_m=0.5)
            if not shop and _chance(rng, fs.front_railing_prob):
                edge = fp.Frame(p0 + n * 0.0 - n * 0.1, t, n, width_m)
                gap = (door_at - 0.7, door_at + 0.7) if res_windows else (width_m, width_m)
                rail = _lin(fs.railing_color)
                fp.railing(b, edge, 0.05, gap[0], 0.0, KERB_M, rail, height_m=1.05, spacing_m=0.2)
                fp.railing(b, edge, gap[1], width_m - 0.05, 0.0, KERB_M, rail, height_m=1.05, spacing_m=0.2)
        if not shop and _chance(rng, bs.bay_window_prob) and width_m >= 4.2:
            at = width_m - 1.8 if res_windows and door_at < width_m / 2 else 1.8
            fp.bay_window(b, f, at, min(bs.bay_window_floors, storeys), gf, fh, wall, color, var)
        if not stoop and not tower and 3 <= storeys <= 9 and _chance(rng, bs.fire_escape_prob) and width_m >= 3.5:
            fp.fire_escape(b, f, gf, fh, storeys, _lin(fs.railing_color))
        if rng.random() < st.facade.balcony_prob and storeys >= 3:
            self._balconies(front, t, width_m, n, gf, fh, storeys, color)
        if fs.continuous_balcony_floors and _chance(rng, fs.continuous_balcony_prob):
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.continuous_balconies(b, f, fs.continuous_balcony_floors, gf, fh, storeys, trim, _lin(fs.railing_color))
        if _chance(rng, fs.cornice_prob):
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.cornice(b, f, height, trim)
            fp.cornice(b, f, gf, trim, depth_m=0.15, height_m=0.22)
        if rng.random() < st.signs.vertical_prob and storeys >= 2:
            self._vertical_sign(front, t, width_m, n, gf, height)
        if _chance(rng, st.signs.projecting_prob) and storeys >= 3:
            self._projecting_signs(f, gf, height, street_kind)
        if street_kind == "side" and shop and rng.random() < st.furniture.vending_prob:
            self._vending(front, t, width_m, n)
        if rng.random() < st.furniture.plant_pot_prob:
            self._plant_pot(front + t * float(rng.uniform(0.4, width_m - 0.4)) + n * 0.35)
        roof_top = height
        roof_col = _lin(fs.roof_color)
        if roof_type == "mansard":
            roof_top = fp.mansard(b, f, depth_m, height, bs.mansard_height_m, bays, roof_col, wall, color, var, rng)
        elif roof_type == "gable":
            roof_top = fp.gable(b, f, depth_m, height, bs.gable_height_ratio, color, roof_col, rng)
        elif roof_type == "parapet":
            fp.parapet(b, f, depth_m, height, tuple(np.asarray(color) * 0.95))
            roof_top = height + 0.9
        if _chance(rng, bs.chimney_prob) and roof_type != "gable":
            fp.chimneys(b, f, depth_m, roof_top, tuple(np.asarray(color) * 0.9), rng)
        if roof_type in ("flat", "parapet") and _chance(rng, bs.water_tank_prob):
            c = f.p(width_m * float(rng.uniform(0.3, 0.7)), -depth_m * float(rng.uniform(0.3, 0.7)), roof_top - (0.9 if roof_type == "parapet" else 0))
            fp.water_tank(b, c, rng)
        if rng.random() < st.buildings.rooftop_clutter_prob:
            self._rooftop(front, t, width_m, n, depth_m, height)
        self.buildings.append({
            "storeys": storeys, "height_m": height, "width_m": width_m, "depth_m": depth_m,
            "street": street_kind, "shop": shop, "floor_height_m": fh, "tower": tower,
            "roof": roof_type, "roof_top_m": roof_top, "front_garden_m": garden, "stoop": stoop,
        })

    def _projecting_signs(self, f, gf, height, street_kind) -> None:
        """Hong Kong style: big lit boards on arms reaching out over the pavement and road,
        their faces turned up and down the street."""
        rng, m = self.rng, self.m
        lo, hi = self.style.signs.projecting_out_m
        if street_kind == "side":
            hi = min(hi, max(lo, 1.0 + self.ssw + min(self.side_w) * 0.35))
            lo = min(lo, hi)
        frame = Material("sign_frame", (0.2, 0.2, 0.2), 0.6)
        z = gf + float(rng.uniform(0.3, 1.5))
        for _ in range(int(rng.integers(1, 4))):
            out = _uniform(rng, (lo, hi))
            h = float(rng.uniform(1.2, 3.2))
            if z + h > min(height - 0.5, 24.0):
                break
            tall = h > out * 0.9
            sign = (m.signs_v if tall else m.signs_h)[int(rng.integers(self.n_signs))]
            along = float(rng.uniform(0.3, max(0.31, f.width_m - 0.3)))
            c = f.p(along, out / 2 + 0.1, z)
            yaw = float(np.arctan2(f.n[1], f.n[0]))
            self.b.box(frame, c, (out, 0.22, h), yaw, faces={"front": sign, "back": sign})
            self.b.tube(m.metal, np.array([f.p(along, 0.0, z + h + 0.6), f.p(along, out, z + h)]), 0.03, sides=3)
            z += h + float(rng.uniform(0.3, 1.2))

    def _shopfront(self, front, t, width_m, n, gf, color, var) -> None:
        rng, m, st, b = self.rng, self.m, self.style, self.b
        up = np.array([0, 0, 1.0])
        pillar = min(0.35, width_m * 0.08)
        wall = Material("shop_pillar", (0.35, 0.35, 0.36), 0.8, "concrete")
        b.quad(wall, front, t * pillar, up * gf, ((0, 0), (0.3, 1.5)), color)
        b.quad(wall, front + t * (width_m - pillar), t * pillar, up * gf, ((0, 0), (0.3, 1.5)), color)
        inner = width_m - 2 * pillar
        door_h = gf - 0.9
        recess = front - n * 0.25
        shuttered = rng.random() < st.shops.shutter_prob
        if shuttered:
            b.quad(m.shutter, front + t * pillar, t * inner, up * door_h, ((0, 0), (inner / 2, door_h / 2)))
        else:
            b.quad(m.glass, recess + t * pillar, t * inner, up * door_h, ((0, 0), (inner, door_h)), (1, 1, 1), float(rng.random()))
            # light spilling from the shop onto the street
            spill = front + t * (width_m / 2) + n * 0.8 + up * 2.2
            self.lights.append(PointLight(tuple(map(float, spill)), (1.0, 0.85, 0.65), 120.0 * inner, 7.0))
            left, right = front + t * pillar - n * 0.25, front + t * (pillar + inner) - n * 0.25
            b.quad(wall, left, up * door_h, n * 0.25)  # jambs into the recess, facing the opening
            b.quad(wall, right, n * 0.25, up * door_h)
            b.quad(wall, recess + t * pillar + up * door_h, t * inner, n * 0.25)
        # band between door head and upper floor, with a fascia sign
        b.quad(wall, front + t * pillar + up * door_h, t * inner, up * (gf - door_h), ((0, 0), (inner / 2, 0.5)), color)
        if rng.random() < st.signs.horizontal_prob:
            sign = m.signs_h[int(rng.integers(len(m.signs_h)))]
            h = min(0.75, gf - door_h - 0.05)
            b.box(sign, front + t * (width_m / 2) + up * (door_h + 0.05) + n * 0.06, (inner * 0.96, 0.12, h),
                  np.arctan2(t[1], t[0]), faces={"front" if n @ np.cross([0, 0, 1], t) < 0 else "back": sign})
        if rng.random() < st.shops.awning_prob:
            col = srgb_to_linear(hex_to_srgb(st.shops.awning_colors[int(rng.integers(len(st.shops.awning_colors)))]))
            mat = m.awning_striped if rng.random() < 0.5 else m.awning
            out = float(rng.uniform(0.8, 1.3))
            drop = 0.45
            top = front + t * pillar + up * (door_h - 0.05)
            b.quad(mat, top + n * out - up * drop, t * inner, -n * out + up * drop, ((0, 0), (max(1, round(inner / 1.5)), 1)), col)
            b.quad(mat, top + n * out - up * drop, -n * 0 + up * (-0.25), t * inner, ((0, 0), (1, 1)), col)

    def _balconies(self, front, t, width_m, n, gf, fh, storeys, color) -> None:
        slab = Material("balcony", (0.55, 0.55, 0.55), 0.8, "concrete")
        up = np.array([0, 0, 1.0])
        yaw = float(np.arctan2(t[1], t[0]))
        for k in range(1, storeys):
            z = gf + (k - 1) * fh
            c = front + t * (width_m / 2) + n * 0.5 + up * z
            self.b.box(slab, c, (width_m - 0.3, 1.0, 0.15), yaw, color=color)
            self.b.box(slab, c + n * 0.47 + up * 0.15, (width_m - 0.3, 0.06, 0.95), yaw, color=color)

    def _vertical_sign(self, front, t, width_m, n, gf, height) -> None:
        rng, m = self.rng, self.m
        sign = m.signs_v[int(rng.integers(len(m.signs_v)))]
        out = float(rng.uniform(0.65, 1.0))
        z0 = gf + 0.4
        h = float(min(rng.uniform(2.5, 7.5), height - z0 - 0.3))
        if h < 1.5:
            return
        edge = 0.25 if rng.random() < 0.5 else width_m - 0.25
        c = front + t * edge + n * (out / 2 + 0.05) + np.array([0, 0, z0])
        yaw = float(np.arctan2(n[1], n[0]))
        frame = Material("sign_frame", (0.2, 0.2, 0.2), 0.6)
        self.b.box(frame, c, (out, 0.16, h), yaw, faces={"front": sign, "back": sign})

    def _vending(self, front, t, width_m, n) -> None:
        rng, m = self.rng, self.m
        count = int(rng.integers(1, 3))
        body = Material("vending_body", (0.75, 0.75, 0.75), 0.5)
        yaw = float(np.arctan2(t[1], t[0]))
        for k in range(count):
            along = 0.6 + k * 1.05
            if along + 0.5 > width_m:
                break
            c = front + t * along + n * 0.4
            face = m.vending[int(rng.integers(len(m.vending)))]
            front_key = "back" if np.dot(np.cross([0, 0, 1], t), n) > 0 else "front"
            self.b.box(body, c, (1.0, 0.75, 1.83), yaw, faces={front_key: face})
            self.lights.append(PointLight(tuple(map(float, c + n * 0.9 + np.array([0, 0, 1.3]))), (0.85, 0.93, 1.0), 90.0, 4.5))

    def _plant_pot(self, p) -> None:
        self.b.cylinder(self.m.kerb, p, p + np.array([0, 0, 0.45]), 0.22, 0.26, sides=8)
        self.b.box(self.m.plant, p + np.array([0, 0, 0.45]), (0.45, 0.45, 0.5), float(self.rng.uniform(0, 1.5)))

    def _rooftop(self, front, t, width_m, n, depth_m, height) -> None:
        rng = self.rng
        c = front + t * (width_m * rng.uniform(0.3, 0.7)) - n * (depth_m * rng.uniform(0.3, 0.7)) + np.array([0, 0, height])
        if rng.random() < 0.5:
            self.b.cylinder(self.m.metal, c, c + np.array([0, 0, 2.2]), 1.0, sides=10, color=(1.6, 1.6, 1.6))
        else:
            self.b.box(self.m.metal, c, (1.6, 1.0, 1.4), float(np.arctan2(t[1], t[0])), color=(1.8, 1.8, 1.8))

    # ---- poles, wires, lamps --------------------------------------------------------------
    def _utility_poles_and_wires(self) -> None:
        st, rng = self.style.furniture, self.rng
        runs = []
        for x, w in zip(self.side_x, self.side_w):
            for sgn in (1, -1):
                side = 1 if rng.random() < 0.5 else -1
                px = x + side * (w / 2 - 0.3)
                runs.append([(px, sgn * (self.hw + self.sw + 1.0)), (px, sgn * (self.yb - self.back_w / 2 - 0.5))])
        for sgn in (1, -1):
            runs.append([(self.x_min, sgn * (self.hw + 0.35)), (self.x_max, sgn * (self.hw + 0.35))])
        for (ax, ay), (cx, cy) in runs:
            a, c = np.array([ax, ay, 0.0]), np.array([cx, cy, 0.0])
            length = float(np.linalg.norm(c - a))
            along = (c - a) / length
            s, poles = float(rng.uniform(2, 6)), []
            while s < length:
                poles.append(a + along * s)
                s += _uniform(rng, st.pole_spacing_m)
            tops = [self._pole(p, along) for p in poles]
            n_wires = int(rng.integers(st.wires_per_span[0], st.wires_per_span[1] + 1))
            for i in range(len(poles) - 1):
                for k in range(n_wires):
                    off = np.array([-along[1], along[0], 0.0]) * ((k % 3) - 1) * 0.45
                    h0 = tops[i] - 0.3 - 0.45 * (k // 3) - 0.9 * (k >= 3)
                    self._wire(poles[i] + off + np.array([0, 0, h0]), poles[i + 1] + off + np.array([0, 0, h0]), _uniform(rng, st.wire_sag_m))
                # a service drop to a facade across the street
                if rng.random() < 0.6:
                    p = poles[i] + np.array([0, 0, tops[i] - 1.5])
                    side = np.array([-along[1], along[0], 0.0]) * (self.side_w[0] if abs(along[1]) > 0.5 else 2 * self.hw)
                    q = poles[i] + along * float(rng.uniform(3, 8)) + side * (1 if rng.random() < 0.5 else -1)
                    q[2] = float(rng.uniform(4.5, 6.5))
                    self._wire(p, q, 0.3)

    def _pole(self, p, along) -> float:
        """A concrete utility pole with cross-arms, maybe a transformer and a street lamp; returns the top height."""
        rng, st, m = self.rng, self.style.furniture, self.m
        h = st.pole_height_m + float(rng.uniform(-0.5, 0.8))
        self.b.cylinder(m.pole, p, p + np.array([0, 0, h]), 0.17, 0.12, sides=8)
        across = np.array([-along[1], along[0], 0.0])
        yaw = float(np.arctan2(across[1], across[0]))
        for dz in (0.35, 1.25):
            self.b.box(m.metal, p + np.array([0, 0, h - dz]), (1.5, 0.09, 0.09), yaw)
        if rng.random() < 0.35:
            c = p + across * 0.35 + np.array([0, 0, h - 3.2])
            self.b.cylinder(m.metal, c, c + np.array([0, 0, 1.0]), 0.28, sides=10, color=(1.5, 1.5, 1.6))
        if rng.random() < st.lamp_on_pole_prob:
            self._lamp_head(p + np.array([0, 0, 5.2]), across if rng.random() < 0.5 else -across, arm_m=0.9)
        self.poles.append((p, "utility"))
        return h

    def _lamp_head(self, base, direction, arm_m: float) -> None:
        d = direction / np.linalg.norm(direction)
        tip = base + d * arm_m + np.array([0, 0, 0.25])
        self.b.cylinder(self.m.metal, base, tip, 0.04, sides=5, cap=False)
        yaw = float(np.arctan2(d[1], d[0]))
        self.b.box(self.m.metal, tip - np.array([0, 0, 0.08]), (0.55, 0.22, 0.12), yaw)
        self.b.box(self.m.lamp, tip - np.array([0, 0, 0.1]), (0.45, 0.16, 0.02), yaw)
        self.lights.append(PointLight(tuple(map(float, tip - np.array([0, 0, 0.2]))), (1.0, 0.88, 0.7), 2500.0, 22.0))

    def _wire(self, p, q, sag_m: float, segments: int = 12) -> None:
        s = np.linspace(0, 1, segments + 1)[:, None]
        pts = p + (q - p) * s
        pts[:, 2] -= sag_m * 4 * s[:, 0] * (1 - s[:, 0])
        self.b.tube(self.m.wire, pts, 0.012, sides=3)

    def _main_lamps(self) -> None:
        fs = self.style.furniture
        spacing = fs.main_lamp_spacing_m
        self.lamp_x: dict[int, list[float]] = {1: [], -1: []}
        post = _lin(fs.post_color)
        for sgn in (1, -1):
            x = self.x_min + spacing / 2 * (1.5 if sgn > 0 else 1.0)
            while x < self.x_max:
                p = np.array([x, sgn * (self.hw + 0.6), KERB_M])
                if not any(abs(x - sx) < w / 2 + 1.5 for sx, w in zip(self.side_x, self.side_w)):
                    self.lamp_x[sgn].append(x)
                    if fs.lamp_kind == "lantern":
                        self._lantern(p, post)
                    else:
                        self.b.cylinder(self.m.metal, p, p + np.array([0, 0, 6.0]), 0.09, 0.06, sides=6)
                        self._lamp_head(p + np.array([0, 0, 6.0]), np.array([0, -sgn, 0.0]), arm_m=1.4)
                x += spacing

    def _lantern(self, p, post_color) -> None:
        """A classic cast-iron lamp post with a glowing lantern."""
        up = np.array([0, 0, 1.0])
        self.b.cylinder(fp.METAL_DARK, p, p + up * 0.6, 0.16, 0.1, sides=6, color=post_color)
        self.b.cylinder(fp.METAL_DARK, p + up * 0.6, p + up * 3.7, 0.07, 0.05, sides=6, color=post_color, cap=False)
        glass = Material("lantern", (1.0, 0.88, 0.7), 0.5, kind=EMISSIVE, emissive=2.0)
        self.b.box(glass, p + up * 3.72, (0.3, 0.3, 0.46), 0.0)
        self.b.cylinder(fp.METAL_DARK, p + up * 4.2, p + up * 4.5, 0.28, 0.03, sides=6, color=post_color)
        self.lights.append(PointLight(tuple(map(float, p + up * 3.95)), (1.0, 0.84, 0.6), 1500.0, 18.0))

    # ---- props along the main street -----------------------------------------------------
    def _free(self, x: float, sgn: int, clear_m: float, taken: list[tuple[int, float]],
              lamp_clear_m: float | None = None) -> bool:
        """Whether kerbside position x on side `sgn` is clear of side-street mouths, crossings,
        lamps and already placed props (within `clear_m`)."""
        for sx, w in zip(self.side_x, self.side_w):
            if abs(x - sx) < w / 2 + self.ssw + clear_m + 0.5:
                return False
            if self.cw <= 0 and abs(x - (sx + w / 2 + 2.5)) < 2.0 + clear_m:
                return False
        lamp_clear_m = clear_m + 0.4 if lamp_clear_m is None else lamp_clear_m
        if any(abs(x - lx) < lamp_clear_m for lx in self.lamp_x.get(sgn, [])):
            return False
        return not any(s == sgn and abs(x - q) < clear_m for s, q in taken)

    def _count(self, what: str, k: int = 1) -> None:
        self.props_count[what] = self.props_count.get(what, 0) + k

    def _trees(self) -> None:
        fs, rng = self.style.furniture, self.prng
        self.taken: list[tuple[int, float]] = []
        if fs.tree_spacing_m <= 0:
            return
        colors = [_lin(c) for c in fs.tree_crown_colors]
        for sgn in (1, -1):
            y = sgn * (self.cw / 2 + 0.9) if self.cw > 0 else sgn * (self.hw + min(1.4, self.sw * 0.3))
            x = self.x_min + float(rng.uniform(0, fs.tree_spacing_m))
            while x < self.x_max:
                # crowns keep clear of the lamps, which would light them from inside
                if self._free(x, sgn, 1.2, self.taken, lamp_clear_m=4.0 if self.cw <= 0 else 0.0):
                    h = _uniform(rng, fs.tree_height_m)
                    props.tree(self.b, (x, y, KERB_M if self.cw <= 0 else 0.0), h, _pick(rng, colors), rng)
                    self.taken.append((sgn, x))
                    self._count("tree")
                x += fs.tree_spacing_m

    def _kerb_items(self) -> None:
        fs, rng = self.style.furniture, self.prng
        kinds = [("bench", fs.bench_prob), ("bin", fs.bin_prob), ("hydrant", fs.hydrant_prob),
                 ("phone_box", fs.phone_box_prob), ("bike_rack", fs.bike_rack_prob)]
        if sum(p for _, p in kinds) <= 0 or self.sw < 1.2:
            return
        for sgn in (1, -1):
            x = self.x_min + float(rng.uniform(0, fs.item_spacing_m))
            while x < self.x_max:
                r, acc, kind = float(rng.random()), 0.0, None
                for k, p in kinds:
                    acc += p
                    if r < acc:
                        kind = k
                        break
                if kind and self._free(x, sgn, 1.3, self.taken):
                    self._kerb_item(kind, x, sgn)
                    self.taken.append((sgn, x))
                    self._count(kind)
                x += fs.item_spacing_m * float(rng.uniform(0.7, 1.3))

    def _kerb_item(self, kind: str, x: float, sgn: int) -> None:
        fs = self.style.furniture
        near = self.hw + min(0.55, self.sw * 0.2)
        far = self.hw + min(1.1, self.sw * 0.3)
        yaw = 0.0 if sgn < 0 else np.pi
        if kind == "bench":
            props.bench(self.b, (x, sgn * (far + 0.3), KERB_M), yaw + np.pi, _lin(fs.bench_color))
        elif kind == "bin":
            props.bin_(self.b, (x, sgn * near, KERB_M), _lin(fs.bin_color))
        elif kind == "hydrant":
            props.hydrant(self.b, (x, sgn * near, KERB_M), _lin(fs.hydrant_color))
        elif kind == "phone_box":
            props.phone_box(self.b, (x, sgn * (far + 0.2), KERB_M), yaw)
        else:
            props.bike_rack(self.b, (x, sgn * (far + 0.2), KERB_M), yaw, _lin(fs.post_color))

    def _canal_props(self) -> None:
        tr, rng = self.style.traffic, self.prng
        if self.cw <= 0 or tr.boats_per_100m <= 0:
            return
        L = self.x_max - self.x_min
        colors = [_lin(c) for c in ("#1f3b2c", "#3a2418", "#1d2a44", "#5a1a14", "#202020")]
        for _ in range(int(round(tr.boats_per_100m * L / 100))):
            x = float(rng.uniform(self.x_min, self.x_max))
            if any(abs(x - sx) < w / 2 + self.ssw + 5 for sx, w in zip(self.side_x, self.side_w)):
                continue
            sgn = 1 if rng.random() < 0.5 else -1
            y = sgn * (self.cw / 2 - 1.5)
            props.boat(self.b, (x, y, -self.style.network.canal_water_depth_m + 0.15), 0.0, _pick(rng, colors),
                       float(rng.uniform(6, 10)))
            self._count("boat")

    def _traffic(self) -> None:
        tr, rng = self.style.traffic, self.prng
        cars = [_lin(c) for c in tr.car_colors]
        cab = _lin(tr.cab_color)
        L = self.x_max - self.x_min

        def car_color():
            if _chance(rng, tr.cab_share):
                return cab, True
            return _pick(rng, cars), False

        # parked cars along the kerbs (or along the quays of a canal)
        if tr.parked_car_prob > 0:
            for sgn in (1, -1):
                y = sgn * (self.hw - 1.15)
                x = self.x_min + float(rng.uniform(0, 3))
                while x < self.x_max:
                    clear = all(abs(x - sx) > w / 2 + self.ssw + 4.0 for sx, w in zip(self.side_x, self.side_w))
                    if clear and self.cw <= 0:
                        clear = all(abs(x - (sx + w / 2 + 2.5)) > 5.0 for sx, w in zip(self.side_x, self.side_w))
                    if clear and rng.random() < tr.parked_car_prob:
                        col, is_cab = car_color()
                        props.car(self.b, (x, y, 0.0), 0.0 if sgn < 0 else np.pi, col, is_cab)
                        self._count("parked_car")
                    x += 6.2
        # vehicles in the driving lanes, on a grid of 9 m slots
        lane = max(1.6, self.hw - 3.7) if self.cw <= 0 else self.hw - 1.9
        slots = [(sgn, x) for sgn in (1, -1) for x in np.arange(self.x_min + 5, self.x_max - 5, 9.0)]
        order = rng.permutation(len(slots))
        used = 0

        def take(k: int):
            nonlocal used
            out = [slots[int(i)] for i in order[used:used + k]]
            used += k
            return out

        for sgn, x in take(int(round(tr.buses_per_100m * L / 100))):
            props.double_decker(self.b, (x, sgn * lane, 0.0), 0.0 if sgn < 0 else np.pi, _lin(tr.bus_color))
            self._count("bus")
        n_cars = int(round(tr.lane_cars_per_100m * L / 100))
        for sgn, x in take(min(n_cars, len(slots) - used)):
            col, is_cab = car_color()
            props.car(self.b, (x + float(rng.uniform(-2, 2)), sgn * lane, 0.0), 0.0 if sgn < 0 else np.pi, col, is_cab)
            self._count("cab" if is_cab else "car")
        if tr.trams_per_100m > 0 and self.cw <= 0:
            for _ in range(int(round(tr.trams_per_100m * L / 100))):
                sgn = 1 if rng.random() < 0.5 else -1
                x = float(rng.uniform(self.x_min + 10, self.x_max - 10))
                props.double_decker(self.b, (x, sgn * 1.7, 0.0), 0.0 if sgn < 0 else np.pi, _lin(tr.tram_color),
                                     length_m=12.0, width_m=2.3, height_m=4.7)
                self._count("tram")
        # parked bicycles in small groups: against the canal railings or the facades
        if tr.bicycles_per_100m > 0:
            colors = [_lin(c) for c in ("#1a1a1a", "#2b3f66", "#6b1f1f", "#3d5a3a", "#8a8a8a")]
            n = int(round(tr.bicycles_per_100m * L / 100))
            placed = 0
            while placed < n:
                sgn = 1 if rng.random() < 0.5 else -1
                x = float(rng.uniform(self.x_min, self.x_max))
                if self.cw > 0:
                    y, z = sgn * (self.cw / 2 + 0.55), 0.0
                else:
                    y, z = sgn * (self.hw + self.sw - 0.45), KERB_M
                group = int(rng.integers(2, 6))
                for k in range(group):
                    xx = x + k * 0.65
                    if self._free(xx, sgn, 0.5, self.taken if self.cw <= 0 else []):
                        props.bicycle(self.b, (xx, y, z), float(rng.normal(0, 0.15)), _pick(rng, colors))
                        self._count("bicycle")
                placed += group

def generate_street(style: Style, seed: int, extent_m: float = 200.0) -> Scene:
    """A procedural neighbourhood in `style`, the same for the same seed."""
    return StreetGenerator(style, np.random.default_rng(seed), extent_m).generate()
