"""The procedural street: (Style, rng, extent) → Scene, as plan then realise.

`plan.plan_street` and `plan.plan_blocks` choose the layout (streets, lots, `BuildingSpec`s);
`StreetGenerator` realises it: roads, sidewalks and markings here, buildings through the
public `kit.Kit`, then poles, lamps, trees, kerb furniture and traffic.

Layout: a main street along X (y = 0) with raised sidewalks, side streets along Y crossing it
(kerb-less, white edge lines), back streets parallel to the main street closing the blocks.
Blocks are lined edge to edge with buildings facing every street around them.
"""

from __future__ import annotations

import numpy as np

from ...scene import EMISSIVE, Material, PointLight, Scene, Street
from . import facade as fp
from . import props
from .kit import N_SIGNS, Kit
from .network import NetworkBuilder
from .plan import KERB_M, BuildingSpec, plan_blocks, plan_street, walk_inset
from .plan import lin as _lin
from .plan import uniform as _uniform
from .plan_props import PropSpec, lamp_positions, plan_props
from .signs import SignBank
from .style import Style
from .textures import make_textures


class StreetGenerator:
    """Realises one street neighbourhood from its plan. Deterministic for a style and rng seed."""

    def __init__(self, style: Style, rng: np.random.Generator, extent_m: float = 200.0):
        self.style, self.rng, self.extent_m = style, rng, float(np.clip(extent_m, 80.0, 600.0))
        self.n_signs = N_SIGNS
        self.kit = Kit(style, self.n_signs)
        self.b, self.m, self.lights = self.kit.b, self.kit.m, self.kit.lights
        self.plan = plan_street(style, rng, self.extent_m)
        p = self.plan
        self.hw, self.sw, self.ssw, self.cw = p.main_half_width_m, p.main_sidewalk_m, p.side_sidewalk_m, p.canal_width_m
        self.side_x, self.side_w, self.back_w, self.yb = (
            list(p.side_x_m),
            list(p.side_width_m),
            p.back_width_m,
            p.back_y_m,
        )
        self.back_walk_y, self.x_min, self.x_max = p.back_walk_y_m, p.x_min_m, p.x_max_m
        # props draw from their own stream so adding them leaves the buildings as they were
        self.prng = rng.spawn(1)[0]
        # shop names from a stream of their own, spawned after the props' one
        self.kit.signs = SignBank(style, rng.spawn(1)[0], self.n_signs)
        self.specs: list[BuildingSpec] = []
        self.buildings: list[dict] = []
        self.streets: list[Street] = []
        self.net = NetworkBuilder()
        self.poles: list[tuple[np.ndarray, str]] = []
        self.props_count: dict[str, int] = {}
        self.lamp_x = lamp_positions(style, self.plan)
        self.prop_specs: list[PropSpec] = []

    # ---- layout ---------------------------------------------------------------------------
    def generate(self) -> Scene:
        self._ground()
        self._main_street()
        for x, w in zip(self.side_x, self.side_w):
            self._side_street(x, w)
        for sgn in (1, -1):
            self._back_street(sgn)
        self.specs = plan_blocks(self.style, self.rng, self.plan, self.n_signs)
        for spec in self.specs:
            self.kit.building(spec)
        self.buildings = [spec.stats() for spec in self.specs]
        if self.style.furniture.utility_poles:
            self._utility_poles_and_wires()
        self._main_lamps()
        self._side_lamps()
        self.prop_specs = plan_props(self.style, self.prng, self.plan, self.lamp_x)
        for prop in self.prop_specs:
            self.kit.prop(prop)
            self.props_count[prop.label] = self.props_count.get(prop.label, 0) + 1

        b0 = (self.x_min - 20, -self.yb - 20, 0.0)
        textures = make_textures(self.rng) | self.kit.signs.textures
        textures["leaves"] = props.leaf_texture()
        b1 = (self.x_max + 20, self.yb + 20, max([bd["roof_top_m"] for bd in self.buildings] + [10.0]))
        return Scene(
            meshes=self.b.build(),
            textures=textures,
            lights=self.lights,
            streets=self.streets,
            network=self.net.build(),
            bounds_m=(b0, b1),
            style=self.style.name,
            side_street_x_m=tuple(self.side_x),
            stats={"buildings": self.buildings, "back_street_y_m": self.yb,
                   "canal_width_m": self.cw, "props": self.props_count, "signs": self.kit.sign_log},
        )

    # ---- ground and streets -----------------------------------------------------------------
    def _ground(self) -> None:
        x0, x1, y = self.x_min - 60, self.x_max + 60, self.yb + 60
        if self.cw <= 0:
            self.b.quad(
                self.m.road, (x0, -y, -0.02), (x1 - x0, 0, 0), (0, 2 * y, 0), ((0, 0), ((x1 - x0) / 4, 2 * y / 4))
            )
            return
        c = self.cw / 2
        for ya, yc in ((-y, -c), (c, y)):
            self.b.quad(
                self.m.road, (x0, ya, -0.02), (x1 - x0, 0, 0), (0, yc - ya, 0), ((0, 0), ((x1 - x0) / 4, (yc - ya) / 4))
            )

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
            self.b.quad(
                quay, (x0 if sgn > 0 else x1, y, -dep - 0.1), (sgn * L, 0, 0), (0, 0, dep + 0.1), ((0, 0), (L / 2, 1))
            )
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

    def _paint(self, xy, size, z: float = 0.005) -> None:
        """A white road marking rectangle with corner `xy` and `size` (dx, dy) in metres."""
        self.b.quad(self.m.paint, (xy[0], xy[1], z), (size[0], 0, 0), (0, size[1], 0))

    def _side_street(self, x: float, w: float) -> None:
        m, hw, sw, yb, ssw = self.m, self.hw, self.sw, self.yb, self.ssw
        y0, y1 = -yb, yb
        self.b.quad(m.road, (x - w / 2, y0, 0), (w, 0, 0), (0, y1 - y0, 0), ((0, 0), (w / 4, (y1 - y0) / 4)))
        self.streets.append(Street(f"side{len(self.streets)}", "side", np.array([[x, y0], [x, y1]]), w, ssw))
        off = self.style.network.edge_line_offset_m
        inset = walk_inset(w)
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
                    self._wire(
                        poles[i] + off + np.array([0, 0, h0]),
                        poles[i + 1] + off + np.array([0, 0, h0]),
                        _uniform(rng, st.wire_sag_m),
                    )
                # a service drop to a facade across the street
                if rng.random() < 0.6:
                    p = poles[i] + np.array([0, 0, tops[i] - 1.5])
                    side = np.array([-along[1], along[0], 0.0]) * (
                        self.side_w[0] if abs(along[1]) > 0.5 else 2 * self.hw
                    )
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
        """Lamp posts (lanterns or arm lamps) along both main-street kerbs at `lamp_x`."""
        fs = self.style.furniture
        post = _lin(fs.post_color)
        for sgn in (1, -1):
            for x in self.lamp_x[sgn]:
                p = np.array([x, sgn * (self.hw + 0.6), KERB_M])
                if fs.lamp_kind == "lantern":
                    self._lantern(p, post)
                else:
                    self.b.cylinder(self.m.metal, p, p + np.array([0, 0, 6.0]), 0.09, 0.06, sides=6)
                    self._lamp_head(p + np.array([0, 0, 6.0]), np.array([0, -sgn, 0.0]), arm_m=1.4)

    def _side_lamps(self) -> None:
        """Lamps along each side street every `side_lamp_spacing_m`, alternating kerbs, their arms
        (or lanterns) over the carriageway: side streets are not black at night. No random draws,
        so the rest of the street stays as it was."""
        fs = self.style.furniture
        if fs.side_lamp_spacing_m <= 0:
            return
        post = _lin(fs.post_color)
        y0 = (self.cw / 2 if self.cw > 0 else self.hw) + self.sw + 8.0
        for xc, w in zip(self.side_x, self.side_w):
            k = 0
            for sgn_y in (1, -1):
                y = y0
                while y < self.yb - 3.0:
                    side = 1 if k % 2 == 0 else -1
                    p = np.array([xc + side * (w / 2 + min(0.45, 0.3 * self.ssw + 0.15)), sgn_y * y,
                                  KERB_M if self.ssw > 0 else 0.0])
                    if fs.lamp_kind == "lantern":
                        self._lantern(p, post)
                    else:
                        self.b.cylinder(self.m.metal, p, p + np.array([0, 0, 5.5]), 0.08, 0.05, sides=6)
                        self._lamp_head(p + np.array([0, 0, 5.5]), np.array([-side, 0, 0.0]), arm_m=1.0)
                    self.poles.append((p, "lamp"))
                    y += fs.side_lamp_spacing_m
                    k += 1

    def _lantern(self, p, post_color) -> None:
        """A classic cast-iron lamp post with a glowing lantern."""
        up = np.array([0, 0, 1.0])
        self.b.cylinder(fp.METAL_DARK, p, p + up * 0.6, 0.16, 0.1, sides=6, color=post_color)
        self.b.cylinder(fp.METAL_DARK, p + up * 0.6, p + up * 3.7, 0.07, 0.05, sides=6, color=post_color, cap=False)
        glass = Material("lantern", (1.0, 0.88, 0.7), 0.5, kind=EMISSIVE, emissive=2.0)
        self.b.box(glass, p + up * 3.72, (0.3, 0.3, 0.46), 0.0)
        self.b.cylinder(fp.METAL_DARK, p + up * 4.2, p + up * 4.5, 0.28, 0.03, sides=6, color=post_color)
        self.lights.append(PointLight(tuple(map(float, p + up * 3.95)), (1.0, 0.84, 0.6), 1500.0, 18.0))

def generate_street(style: Style, seed: int, extent_m: float = 200.0) -> Scene:
    """A procedural neighbourhood in `style`, the same for the same seed."""
    return StreetGenerator(style, np.random.default_rng(seed), extent_m).generate()
