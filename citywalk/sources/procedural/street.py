"""The procedural street generator: (Style, rng, extent) → Scene.

Layout: a main street along X (y = 0) with raised sidewalks, side streets along Y crossing it
(kerb-less, white edge lines), back streets parallel to the main street closing the blocks.
Blocks are lined edge to edge with buildings facing every street around them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scene import EMISSIVE, FACADE, PLAIN, ROAD, SHOPFRONT, Material, PointLight, Scene, Street
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
        walls={t: Material(f"wall_{t}", (1.0, 1.0, 1.0), 0.85, t, kind=FACADE) for t in style.facade.wall_textures},
        signs_v=[Material(f"sign_v{i}", (1, 1, 1), 0.4, f"sign_v{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)],
        signs_h=[Material(f"sign_h{i}", (1, 1, 1), 0.4, f"sign_h{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)],
        vending=[Material(f"vending{i}", (1, 1, 1), 0.3, f"vending{i}", kind=EMISSIVE, emissive=1.5) for i in range(3)],
    )


def _uniform(rng: np.random.Generator, r) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


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

    # ---- layout ---------------------------------------------------------------------------
    def generate(self) -> Scene:
        st, rng = self.style.network, self.rng
        self.hw = st.main_road_width_m / 2
        self.sw = st.main_sidewalk_width_m
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
        self.yb = self.hw + self.sw + depth + self.back_w / 2  # back street centre lines at ±yb
        # walk line of a back street, on its block side: side-street walk lines end on it
        self.back_walk_y = self.yb - self.back_w / 2 + self._walk_inset(self.back_w)
        self.x_min, self.x_max = xs[0] - 12.0, xs[-1] + 12.0

        self._ground()
        self._main_street()
        for x, w in zip(xs, self.side_w):
            self._side_street(x, w)
        for sgn in (1, -1):
            self._back_street(sgn)
        self._blocks()
        self._utility_poles_and_wires()
        self._main_lamps()

        b0 = (self.x_min - 20, -self.yb - 20, 0.0)
        b1 = (self.x_max + 20, self.yb + 20, max([bd["height_m"] for bd in self.buildings] + [10.0]))
        scene = Scene(
            meshes=self.b.build(),
            textures=make_textures(self.style.signs.sign_colors, rng, self.n_signs),
            lights=self.lights,
            streets=self.streets,
            network=self.net.build(),
            bounds_m=(b0, b1),
            style=self.style.name,
            stats={"buildings": self.buildings, "side_street_x_m": xs, "back_street_y_m": self.yb},
        )
        return scene

    # ---- ground and streets -----------------------------------------------------------------
    def _ground(self) -> None:
        x0, x1, y = self.x_min - 60, self.x_max + 60, self.yb + 60
        self.b.quad(self.m.road, (x0, -y, -0.02), (x1 - x0, 0, 0), (0, 2 * y, 0), ((0, 0), ((x1 - x0) / 4, 2 * y / 4)))

    def _main_street(self) -> None:
        m, hw, sw = self.m, self.hw, self.sw
        x0, x1 = self.x_min, self.x_max
        L = x1 - x0
        self.b.quad(m.road, (x0, -hw, 0), (L, 0, 0), (0, 2 * hw, 0), ((0, 0), (L / 4, 2 * hw / 4)))
        self.streets.append(Street("main", "main", np.array([[x0, 0.0], [x1, 0.0]]), 2 * hw, sw))
        # raised sidewalks, interrupted where side streets cross
        cuts = sorted((x - w / 2, x + w / 2) for x, w in zip(self.side_x, self.side_w))
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
        # centre dashes and edge lines
        dash, gap = self.style.markings.main_center_dash_m
        x = x0
        while x < x1:
            if not any(a - 1 < x < c + 1 for a, c in cuts):
                self._paint((x, -0.075), (min(dash, x1 - x), 0.15))
            x += dash + gap
        # zebra crossings across the main street beside each side street, and their walk edges
        if self.style.markings.crossings:
            for xc, w in zip(self.side_x, self.side_w):
                cx = xc + w / 2 + 2.5
                for k in range(int(2 * hw / 0.9)):
                    y = -hw + 0.25 + k * 0.9
                    self._paint((cx - 2.0, y), (4.0, 0.45))
                self.net.line((cx, -(hw + sw / 2)), (cx, hw + sw / 2), "crossing", "main")

    @staticmethod
    def _walk_inset(road_width_m: float) -> float:
        """How far from the edge of a kerb-less street the walk line runs: a third of the width
        (never closer than WALK_INSET_M), which keeps the camera off the walls."""
        return max(min(WALK_INSET_M, road_width_m / 2 - 0.4), road_width_m / 3)

    def _paint(self, xy, size, z: float = 0.005) -> None:
        """A white road marking rectangle with corner `xy` and `size` (dx, dy) in metres."""
        self.b.quad(self.m.paint, (xy[0], xy[1], z), (size[0], 0, 0), (0, size[1], 0))

    def _side_street(self, x: float, w: float) -> None:
        m, hw, sw, yb = self.m, self.hw, self.sw, self.yb
        y0, y1 = -yb, yb
        self.b.quad(m.road, (x - w / 2, y0, 0), (w, 0, 0), (0, y1 - y0, 0), ((0, 0), (w / 4, (y1 - y0) / 4)))
        self.streets.append(Street(f"side{len(self.streets)}", "side", np.array([[x, y0], [x, y1]]), w, 0.0))
        off = self.style.network.edge_line_offset_m
        inset = self._walk_inset(w)
        for sgn in (1, -1):
            ya, yc = sgn * (hw + sw), sgn * (yb - self.back_w / 2)
            lo, hi = min(ya, yc), max(ya, yc)
            if self.style.markings.side_edge_lines:
                for ex in (x - w / 2 + off, x + w / 2 - off - 0.12):
                    self._paint((ex, lo), (0.12, hi - lo))
            if self.style.markings.stop_marks:
                # stop bar across the approach lane just before the main street
                yy = ya + sgn * 1.2 - (0.45 if sgn > 0 else 0)
                self._paint((x - w / 2 + off, yy), (w / 2 - off, 0.45))
            for ex in (x - w / 2 + inset, x + w / 2 - inset):
                self.net.line((ex, sgn * (hw + sw / 2)), (ex, sgn * self.back_walk_y), "street_edge", f"side@{x:.1f}")

    def _back_street(self, sgn: int) -> None:
        m, w = self.m, self.back_w
        yc = sgn * self.yb
        x0, x1 = self.x_min, self.x_max
        self.b.quad(m.road, (x0, yc - w / 2, 0.0), (x1 - x0, 0, 0), (0, w, 0), ((0, 0), ((x1 - x0) / 4, w / 4)))
        self.streets.append(Street(f"back{'N' if sgn > 0 else 'S'}", "side", np.array([[x0, yc], [x1, yc]]), w, 0.0))
        self.net.line((x0, sgn * self.back_walk_y), (x1, sgn * self.back_walk_y), "street_edge", f"back{sgn}")

    # ---- buildings ------------------------------------------------------------------------
    def _blocks(self) -> None:
        hw, sw, yb, bw = self.hw, self.sw, self.yb, self.back_w
        xs, ws = self.side_x, self.side_w
        edges = [self.x_min - 40] + [x for x in xs] + [self.x_max + 40]
        widths = [0.0] + ws + [0.0]
        dep = self.style.buildings.depth_m
        for i in range(len(edges) - 1):
            bx0 = edges[i] + widths[i] / 2
            bx1 = edges[i + 1] - widths[i + 1] / 2
            for sgn in (1, -1):
                y_main = sgn * (hw + sw)
                y_back = sgn * (yb - bw / 2)
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
                yf = sgn * (yb + bw / 2)
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
        widths, s = [], 0.0
        while s < length - 0.5:
            w = _uniform(self.rng, self.style.buildings.width_m)
            if length - (s + w) < self.style.buildings.width_m[0] * 0.6:
                w = length - s
            widths.append(w)
            s += w
        s = 0.0
        for w in widths:
            self._building(a + t * s, t, w, normal, depth_m, street_kind)
            s += w

    def _building(self, p0, t, width_m, n, depth_m, street_kind) -> None:
        """One building: a box with a shopfront ground floor and windowed upper facade."""
        rng, st, m = self.rng, self.style, self.m
        if np.dot(np.cross(t, n), [0, 0, 1]) > 0:  # keep `t` so that u × v faces outward
            p0, t = p0 + t * width_m, -t
        bonus = st.buildings.storeys_main_street_bonus if street_kind == "main" else 0
        storeys = _storeys(rng, st, bonus)
        gf = st.buildings.ground_floor_height_m
        fh = _uniform(rng, st.buildings.floor_height_m)
        height = gf + (storeys - 1) * fh
        setback = _uniform(rng, st.buildings.setback_m)
        var = float(rng.random())
        color = srgb_to_linear(hex_to_srgb(st.facade.wall_colors[int(rng.integers(len(st.facade.wall_colors)))]))
        wall = m.walls[st.facade.wall_textures[int(rng.integers(len(st.facade.wall_textures)))]]
        bay = _uniform(rng, st.facade.bay_width_m)
        bays = max(1, round(width_m / bay))
        style_id = st.facade.window_styles[int(rng.integers(len(st.facade.window_styles)))]
        var = (style_id + var) / 4.0  # integer part of 4*var = window style, fraction = randomness
        front = p0 - n * setback
        up = np.array([0, 0, 1.0])
        b = self.b
        shop = rng.random() < st.shops.shop_prob
        z_upper = gf if shop else 0.0
        v0 = 0.0 if shop else -gf / fh
        # upper facade (windows drawn by the FACADE shader, one per UV cell)
        b.quad(wall, front + up * z_upper, t * width_m, up * (height - z_upper), ((0, v0), (bays, (height - gf) / fh)), color, var)
        # side walls and roof
        back = front - n * depth_m
        nb = max(1, round(depth_m / bay))
        b.quad(wall, back, n * depth_m, up * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var)
        b.quad(wall, front + t * width_m, -n * depth_m, up * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var)
        b.quad(m.roof, front + up * height, t * width_m, -n * depth_m, ((0, 0), (width_m / 2, depth_m / 2)))
        if shop:
            self._shopfront(front, t, width_m, n, gf, color, var)
        else:
            b.quad(wall, front, t * width_m, up * gf, ((0, -gf / fh), (bays, 0)), color, var)
        if rng.random() < st.facade.balcony_prob and storeys >= 3:
            self._balconies(front, t, width_m, n, gf, fh, storeys, color)
        if rng.random() < st.signs.vertical_prob and storeys >= 2:
            self._vertical_sign(front, t, width_m, n, gf, height)
        if street_kind == "side" and shop and rng.random() < st.furniture.vending_prob:
            self._vending(front, t, width_m, n)
        if rng.random() < st.furniture.plant_pot_prob:
            self._plant_pot(front + t * float(rng.uniform(0.4, width_m - 0.4)) + n * 0.35)
        if rng.random() < st.buildings.rooftop_clutter_prob:
            self._rooftop(front, t, width_m, n, depth_m, height)
        self.buildings.append({
            "storeys": storeys, "height_m": height, "width_m": width_m, "depth_m": depth_m,
            "street": street_kind, "shop": shop, "floor_height_m": fh,
        })

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
        spacing = self.style.furniture.main_lamp_spacing_m
        for sgn in (1, -1):
            x = self.x_min + spacing / 2 * (1.5 if sgn > 0 else 1.0)
            while x < self.x_max:
                p = np.array([x, sgn * (self.hw + 0.6), KERB_M])
                if not any(abs(x - sx) < w / 2 + 1.5 for sx, w in zip(self.side_x, self.side_w)):
                    self.b.cylinder(self.m.metal, p, p + np.array([0, 0, 6.0]), 0.09, 0.06, sides=6)
                    self._lamp_head(p + np.array([0, 0, 6.0]), np.array([0, -sgn, 0.0]), arm_m=1.4)
                x += spacing


def generate_street(style: Style, seed: int, extent_m: float = 200.0) -> Scene:
    """A procedural neighbourhood in `style`, the same for the same seed."""
    return StreetGenerator(style, np.random.default_rng(seed), extent_m).generate()
