"""The street kit: facades, shopfronts, signs, awnings, props and trees made from specs.

`Kit` turns plan specs (`plan.BuildingSpec`, `plan.ShopfrontSpec`, ...) into geometry in one
`MeshBuilder`, and collects the lights they cast. It draws no random numbers: the plan made
every choice. Used by the procedural street and by OSM dressing alike; future kits (cars,
street furniture, crowds) belong beside it and take specs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scene import EMISSIVE, FACADE, ROAD, SHOPFRONT, Material, Mesh, PointLight
from ..geometry import MeshBuilder
from . import facade as fp
from . import props
from .plan import KERB_M, BoardSpec, BuildingSpec, ShopfrontSpec, VerticalSignSpec, lin
from .plan_props import PropSpec
from .style import Style

N_SIGNS = 8  # sign textures per orientation
UP = np.array([0, 0, 1.0])
SIGN_FRAME = Material("sign_frame", (0.2, 0.2, 0.2), 0.6)
SHOP_PILLAR = Material("shop_pillar", (0.35, 0.35, 0.36), 0.8, "concrete")
BALCONY = Material("balcony", (0.55, 0.55, 0.55), 0.8, "concrete")
VENDING_BODY = Material("vending_body", (0.75, 0.75, 0.75), 0.5)


@dataclass(frozen=True)
class Mats:
    """The street's shared materials (one per surface kind; facades keyed by wall texture)."""

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


def materials(style: Style, n_signs: int = N_SIGNS) -> Mats:
    glow = style.signs.glow
    return Mats(
        road=Material("road", (1.0, 1.0, 1.0), 0.85, "asphalt", kind=ROAD),
        sidewalk=Material("sidewalk", (0.55, 0.55, 0.54), 0.9, "sidewalk"),
        kerb=Material("kerb", (0.45, 0.45, 0.45), 0.9, "concrete"),
        paint=Material("paint", (0.80, 0.80, 0.78), 0.7),
        roof=Material("roof", (0.28, 0.28, 0.29), 0.9, "concrete"),
        pole=Material("pole", (0.42, 0.42, 0.40), 0.8, "concrete"),
        metal=Material("metal", (0.30, 0.31, 0.33), 0.5, "metal"),
        wire=Material("wire", (0.02, 0.02, 0.02), 0.6),
        glass=Material("shopfront", (0.25, 0.27, 0.30), 0.1, "glass", kind=SHOPFRONT, emissive=0.35),
        shutter=Material("shutter", (0.48, 0.49, 0.50), 0.7, "shutter"),
        awning=Material("awning", (1.0, 1.0, 1.0), 0.8, "awning"),
        awning_striped=Material("awning_striped", (1.0, 1.0, 1.0), 0.8, "awning_striped"),
        lamp=Material("lamp", (1.0, 0.9, 0.75), 0.5, kind=EMISSIVE, emissive=12.0),
        plant=Material("plant", (0.08, 0.22, 0.06), 0.9),
        walls={
            t: Material(f"wall_{t}", (1.0, 1.0, 1.0), 0.85, t, kind=FACADE)
            for t in ("tile", "tile_small", "concrete", "panel", "brick", "stone", "stucco")
        },
        signs_v=[
            Material(f"sign_v{i}", (1, 1, 1), 0.4, f"sign_v{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)
        ],
        signs_h=[
            Material(f"sign_h{i}", (1, 1, 1), 0.4, f"sign_h{i}", kind=EMISSIVE, emissive=glow) for i in range(n_signs)
        ],
        vending=[Material(f"vending{i}", (1, 1, 1), 0.3, f"vending{i}", kind=EMISSIVE, emissive=1.5) for i in range(3)],
    )




class Kit:
    """Emits street parts into one MeshBuilder (`b`) and collects their `lights`."""

    def __init__(self, style: Style, n_signs: int = N_SIGNS):
        self.style = style
        self.n_signs = n_signs
        self.b = MeshBuilder()
        self.m = materials(style, n_signs)
        self.lights: list[PointLight] = []

    def meshes(self) -> list[Mesh]:
        return self.b.build()

    # ---- buildings ----------------------------------------------------------------------
    def building(self, spec: BuildingSpec) -> None:
        """One building: its walls and roof, ground floor (shop or door), facade parts, roof top."""
        lot, body, ground = spec.lot, spec.body, spec.ground
        p0, t, n = np.array(lot.origin_m), np.array(lot.along), np.array(lot.normal)
        front = p0 - n * (body.setback_m + ground.garden_m)
        f = fp.Frame(front, t, n, lot.width_m)
        self._walls(spec, front, t, n)
        if ground.shop is not None:
            self.shopfront(front, t, lot.width_m, n, body.ground_floor_m, body.wall_color, body.variation, ground.shop)
        elif not ground.windows:
            wall, gf, fh = self.m.walls[body.wall_texture], body.ground_floor_m, body.floor_height_m
            self.b.quad(wall, front, t * lot.width_m, UP * gf, ((0, -gf / fh), (body.bays, 0)), body.wall_color,
                        body.variation)
        self._ground_floor(spec, p0, f)
        self._facade_parts(spec, front, t, n, f)
        self._roof(spec, front, t, n, f)

    def _walls(self, spec: BuildingSpec, front, t, n) -> None:
        lot, body, ground = spec.lot, spec.body, spec.ground
        b, wall, color, var = self.b, self.m.walls[body.wall_texture], body.wall_color, body.variation
        width_m, depth_m, gf, fh, height = (
            lot.width_m,
            lot.depth_m,
            body.ground_floor_m,
            body.floor_height_m,
            body.height_m,
        )
        shop = ground.shop is not None
        z_upper = gf if shop else 0.0
        v0 = 0.0 if shop else -gf / fh
        if ground.windows:  # residential ground floor with windows: a separate row of cells
            b.quad(wall, front, t * width_m, UP * gf, ((0, 0), (body.bays, 1)), color, var)
            b.quad(
                wall,
                front + UP * gf,
                t * width_m,
                UP * (height - gf),
                ((0, 1), (body.bays, 1 + (height - gf) / fh)),
                color,
                var,
            )
        else:
            # upper facade (windows drawn by the FACADE shader, one per UV cell)
            b.quad(
                wall,
                front + UP * z_upper,
                t * width_m,
                UP * (height - z_upper),
                ((0, v0), (body.bays, (height - gf) / fh)),
                color,
                var,
            )
        # side walls and roof
        back = front - n * depth_m
        nb = max(1, round(depth_m / body.bay_width_m))
        b.quad(wall, back, n * depth_m, UP * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var)
        b.quad(
            wall, front + t * width_m, -n * depth_m, UP * height, ((0, -gf / fh), (nb, (height - gf) / fh)), color, var
        )
        if spec.roof.kind != "gable":
            b.quad(self.m.roof, front + UP * height, t * width_m, -n * depth_m, ((0, 0), (width_m / 2, depth_m / 2)))

    def _ground_floor(self, spec: BuildingSpec, p0, f: fp.Frame) -> None:
        """Front door, stoop, front garden paving and its railing."""
        lot, body, g = spec.lot, spec.body, spec.ground
        b, rail = self.b, lin(self.style.facade.railing_color)
        t, n, width_m = f.t, f.n, lot.width_m
        if g.windows:
            fp.door(b, f, g.door_at_m, 1.5 if g.stoop else 0.0, g.door_color)
            if g.stoop:
                fp.stoop(b, f, g.door_at_m, min(g.garden_m, 3.0), 1.5, tuple(np.asarray(body.wall_color) * 0.9), rail)
        if g.garden_m > 0:
            deep = body.setback_m + g.garden_m
            b.box(self.m.sidewalk, p0 - n * deep / 2 + t * (width_m / 2), (width_m, deep, KERB_M),
                  float(np.arctan2(t[1], t[0])), uv_per_m=0.5)
            if g.front_railing:
                edge = fp.Frame(p0 + n * 0.0 - n * 0.1, t, n, width_m)
                gap = (g.door_at_m - 0.7, g.door_at_m + 0.7) if g.windows else (width_m, width_m)
                fp.railing(b, edge, 0.05, gap[0], 0.0, KERB_M, rail, height_m=1.05, spacing_m=0.2)
                fp.railing(b, edge, gap[1], width_m - 0.05, 0.0, KERB_M, rail, height_m=1.05, spacing_m=0.2)

    def _facade_parts(self, spec: BuildingSpec, front, t, n, f: fp.Frame) -> None:
        """Bay window, fire escape, balconies, cornices, signs, vending machines, plant pot."""
        lot, body, x = spec.lot, spec.body, spec.extras
        b, fs, color = self.b, self.style.facade, body.wall_color
        gf, fh, storeys, width_m = body.ground_floor_m, body.floor_height_m, body.storeys, lot.width_m
        if x.bay_window_at_m is not None:
            fp.bay_window(b, f, x.bay_window_at_m, min(self.style.buildings.bay_window_floors, storeys), gf, fh,
                          self.m.walls[body.wall_texture], color, body.variation)
        if x.fire_escape:
            fp.fire_escape(b, f, gf, fh, storeys, lin(fs.railing_color))
        if x.balconies:
            self.balconies(front, t, width_m, n, gf, fh, storeys, color)
        if x.continuous_balconies:
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.continuous_balconies(b, f, fs.continuous_balcony_floors, gf, fh, storeys, trim, lin(fs.railing_color))
        if x.cornice:
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.cornice(b, f, body.height_m, trim)
            fp.cornice(b, f, gf, trim, depth_m=0.15, height_m=0.22)
        if x.vertical_sign is not None:
            self.vertical_sign(front, t, n, gf, x.vertical_sign)
        self.projecting_signs(f, x.boards)
        self.vending(front, t, n, x.vending)
        if x.plant_pot is not None:
            self.plant_pot(front + t * x.plant_pot[0] + n * 0.35, x.plant_pot[1])

    def _roof(self, spec: BuildingSpec, front, t, n, f: fp.Frame) -> None:
        lot, body, r = spec.lot, spec.body, spec.roof
        b, bs, color, height = self.b, self.style.buildings, body.wall_color, body.height_m
        roof_col = lin(self.style.facade.roof_color)
        if r.kind == "mansard":
            fp.mansard(b, f, lot.depth_m, height, bs.mansard_height_m, body.bays, roof_col,
                       self.m.walls[body.wall_texture], color, body.variation)
        elif r.kind == "gable":
            fp.gable(b, f, lot.depth_m, height, bs.gable_height_ratio, color, roof_col, r.gable_shape)
        elif r.kind == "parapet":
            fp.parapet(b, f, lot.depth_m, height, tuple(np.asarray(color) * 0.95))
        if r.chimneys:
            fp.chimneys(b, f, lot.depth_m, r.top_m, tuple(np.asarray(color) * 0.9), r.chimneys)
        if r.water_tank is not None:
            ua, ud, radius, tank_h = r.water_tank
            c = f.p(lot.width_m * ua, -lot.depth_m * ud, r.top_m - (0.9 if r.kind == "parapet" else 0))
            fp.water_tank(b, c, radius, tank_h)
        if r.clutter is not None:
            self.rooftop(front, t, n, lot.width_m, lot.depth_m, height, r.clutter)

    # ---- shopfronts and signs -----------------------------------------------------------
    def shopfront(self, front, t, width_m: float, n, gf_m: float, color, variation: float,
                  spec: ShopfrontSpec) -> None:
        """Pillars, glass (lit, spilling light) or a shutter, a fascia band, sign and awning, on
        a wall from `front` along `t` (t × up faces out along `n`)."""
        m, b = self.m, self.b
        pillar = min(0.35, width_m * 0.08)
        b.quad(SHOP_PILLAR, front, t * pillar, UP * gf_m, ((0, 0), (0.3, 1.5)), color)
        b.quad(SHOP_PILLAR, front + t * (width_m - pillar), t * pillar, UP * gf_m, ((0, 0), (0.3, 1.5)), color)
        inner = width_m - 2 * pillar
        door_h = gf_m - 0.9
        recess = front - n * 0.25
        if spec.shuttered:
            b.quad(m.shutter, front + t * pillar, t * inner, UP * door_h, ((0, 0), (inner / 2, door_h / 2)))
        else:
            b.quad(m.glass, recess + t * pillar, t * inner, UP * door_h, ((0, 0), (inner, door_h)), (1, 1, 1),
                   spec.glass_variation)
            # light spilling from the shop onto the street
            spill = front + t * (width_m / 2) + n * 0.8 + UP * 2.2
            self.lights.append(PointLight(tuple(map(float, spill)), (1.0, 0.85, 0.65), 120.0 * inner, 7.0))
            left, right = front + t * pillar - n * 0.25, front + t * (pillar + inner) - n * 0.25
            b.quad(SHOP_PILLAR, left, UP * door_h, n * 0.25)  # jambs into the recess, facing the opening
            b.quad(SHOP_PILLAR, right, n * 0.25, UP * door_h)
            b.quad(SHOP_PILLAR, recess + t * pillar + UP * door_h, t * inner, n * 0.25)
        # band between door head and upper floor, with a fascia sign
        b.quad(
            SHOP_PILLAR,
            front + t * pillar + UP * door_h,
            t * inner,
            UP * (gf_m - door_h),
            ((0, 0), (inner / 2, 0.5)),
            color,
        )
        if spec.fascia_sign is not None:
            sign = m.signs_h[spec.fascia_sign]
            h = min(0.75, gf_m - door_h - 0.05)
            b.box(sign, front + t * (width_m / 2) + UP * (door_h + 0.05) + n * 0.06, (inner * 0.96, 0.12, h),
                  np.arctan2(t[1], t[0]), faces={"front" if n @ np.cross([0, 0, 1], t) < 0 else "back": sign})
        if spec.awning is not None:
            self.awning(front + t * pillar + UP * (door_h - 0.05), t, n, inner, spec)

    def awning(self, top, t, n, inner_m: float, spec: ShopfrontSpec) -> None:
        """A sloping canvas awning hanging from `top` over a shop window `inner_m` wide."""
        a = spec.awning
        mat = self.m.awning_striped if a.striped else self.m.awning
        drop = 0.45
        self.b.quad(mat, top + n * a.out_m - UP * drop, t * inner_m, -n * a.out_m + UP * drop,
                    ((0, 0), (max(1, round(inner_m / 1.5)), 1)), a.color)
        self.b.quad(mat, top + n * a.out_m - UP * drop, -n * 0 + UP * (-0.25), t * inner_m, ((0, 0), (1, 1)), a.color)

    def vertical_sign(self, front, t, n, gf_m: float, spec: VerticalSignSpec) -> None:
        """A tall lit sign standing out from the wall above the ground floor."""
        c = front + t * spec.edge_m + n * (spec.out_m / 2 + 0.05) + np.array([0, 0, gf_m + 0.4])
        yaw = float(np.arctan2(n[1], n[0]))
        sign = self.m.signs_v[spec.sign]
        self.b.box(SIGN_FRAME, c, (spec.out_m, 0.16, spec.height_m), yaw, faces={"front": sign, "back": sign})

    def projecting_signs(self, f: fp.Frame, boards: tuple[BoardSpec, ...]) -> None:
        """Big lit boards on arms reaching out over the pavement, faces turned along the street."""
        for bd in boards:
            sign = (self.m.signs_v if bd.tall else self.m.signs_h)[bd.sign]
            c = f.p(bd.along_m, bd.out_m / 2 + 0.1, bd.z_m)
            yaw = float(np.arctan2(f.n[1], f.n[0]))
            self.b.box(SIGN_FRAME, c, (bd.out_m, 0.22, bd.height_m), yaw, faces={"front": sign, "back": sign})
            self.b.tube(self.m.metal, np.array([f.p(bd.along_m, 0.0, bd.z_m + bd.height_m + 0.6),
                                                f.p(bd.along_m, bd.out_m, bd.z_m + bd.height_m)]), 0.03, sides=3)

    # ---- small parts ---------------------------------------------------------------------
    def balconies(self, front, t, width_m, n, gf, fh, storeys, color) -> None:
        yaw = float(np.arctan2(t[1], t[0]))
        for k in range(1, storeys):
            z = gf + (k - 1) * fh
            c = front + t * (width_m / 2) + n * 0.5 + UP * z
            self.b.box(BALCONY, c, (width_m - 0.3, 1.0, 0.15), yaw, color=color)
            self.b.box(BALCONY, c + n * 0.47 + UP * 0.15, (width_m - 0.3, 0.06, 0.95), yaw, color=color)

    def vending(self, front, t, n, faces: tuple[int, ...]) -> None:
        """Lit vending machines against the wall, one per face texture index."""
        yaw = float(np.arctan2(t[1], t[0]))
        for k, face_i in enumerate(faces):
            c = front + t * (0.6 + k * 1.05) + n * 0.4
            face = self.m.vending[face_i]
            front_key = "back" if np.dot(np.cross([0, 0, 1], t), n) > 0 else "front"
            self.b.box(VENDING_BODY, c, (1.0, 0.75, 1.83), yaw, faces={front_key: face})
            self.lights.append(
                PointLight(tuple(map(float, c + n * 0.9 + np.array([0, 0, 1.3]))), (0.85, 0.93, 1.0), 90.0, 4.5)
            )

    def plant_pot(self, p, yaw_rad: float) -> None:
        self.b.cylinder(self.m.kerb, p, p + np.array([0, 0, 0.45]), 0.22, 0.26, sides=8)
        self.b.box(self.m.plant, p + np.array([0, 0, 0.45]), (0.45, 0.45, 0.5), yaw_rad)

    def rooftop(self, front, t, n, width_m, depth_m, height, clutter: tuple[float, float, bool]) -> None:
        """A roof-top tank (cylinder) or plant box at fractions (along, depth) of the roof."""
        ua, ud, cylinder = clutter
        c = front + t * (width_m * ua) - n * (depth_m * ud) + np.array([0, 0, height])
        if cylinder:
            self.b.cylinder(self.m.metal, c, c + np.array([0, 0, 2.2]), 1.0, sides=10, color=(1.6, 1.6, 1.6))
        else:
            self.b.box(self.m.metal, c, (1.6, 1.0, 1.4), float(np.arctan2(t[1], t[0])), color=(1.8, 1.8, 1.8))

    def prop(self, spec: PropSpec) -> None:
        """One street prop (tree, kerbside furniture, vehicle, bicycle, boat) from its spec."""
        b, p, yaw, col = self.b, spec.position_m, spec.yaw_rad, spec.color
        kind = spec.kind
        if kind == "tree":
            height, crown_frac, tint = spec.tree
            props.tree(b, p, height, col, crown_frac, tint)
        elif kind == "bench":
            props.bench(b, p, yaw, col)
        elif kind == "bin":
            props.bin_(b, p, col)
        elif kind == "hydrant":
            props.hydrant(b, p, col)
        elif kind == "phone_box":
            props.phone_box(b, p, yaw)
        elif kind == "bike_rack":
            props.bike_rack(b, p, yaw, col)
        elif kind == "car":
            props.car(b, p, yaw, col, spec.cab)
        elif kind == "bus":
            props.double_decker(b, p, yaw, col)
        elif kind == "tram":
            props.double_decker(b, p, yaw, col, length_m=12.0, width_m=2.3, height_m=4.7)
        elif kind == "bicycle":
            props.bicycle(b, p, yaw, col)
        elif kind == "boat":
            props.boat(b, p, yaw, col, spec.length_m)
        else:
            raise ValueError(f"unknown prop kind {kind!r}")
