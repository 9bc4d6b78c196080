"""The street kit: facades, shopfronts, signs, awnings, props and trees made from specs.

`Kit` turns plan specs (`plan.BuildingSpec`, `plan.ShopfrontSpec`, ...) into geometry in one
`MeshBuilder`, and collects the lights they cast. It draws no random numbers: the plan made
every choice. Used by the procedural street and by OSM dressing alike; future kits (cars,
street furniture, crowds) belong beside it and take specs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import SceneError
from ...scene import EMISSIVE, FACADE, ROAD, SHOPFRONT, THIN, Material, Mesh, PointLight
from ..geometry import MeshBuilder
from . import facade as fp
from . import props
from .plan import KERB_M, BoardSpec, BuildingSpec, ShopfrontSpec, VerticalSignSpec, lin
from .plan_props import PropSpec
from .signs import SignBank, SignFace
from .style import Style

N_SIGNS = 16  # shop names per orientation (horizontal, vertical) on one street
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
    vending: list


def materials(style: Style) -> Mats:
    return Mats(
        road=Material("road", (1.0, 1.0, 1.0), 0.85, "asphalt", kind=ROAD),
        sidewalk=Material("sidewalk", (0.55, 0.55, 0.54), 0.9, "sidewalk"),
        kerb=Material("kerb", (0.45, 0.45, 0.45), 0.9, "concrete"),
        paint=Material("paint", (0.80, 0.80, 0.78), 0.7),
        roof=Material("roof", (0.28, 0.28, 0.29), 0.9, "concrete"),
        pole=Material("pole", (0.42, 0.42, 0.40), 0.8, "concrete"),
        metal=Material("metal", (0.30, 0.31, 0.33), 0.5, "metal"),
        wire=Material("wire", (0.02, 0.02, 0.02), 0.6, kind=THIN),
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
        vending=[Material(f"vending{i}", (1, 1, 1), 0.3, f"vending{i}", kind=EMISSIVE, emissive=1.5) for i in range(3)],
    )




class Kit:
    """Emits street parts into one MeshBuilder (`b`) and collects their `lights`."""

    def __init__(self, style: Style, n_signs: int = N_SIGNS, signs: SignBank | None = None):
        self.style = style
        self.n_signs = n_signs
        self.b = MeshBuilder()
        self.m = materials(style)
        self.lights: list[PointLight] = []
        self.signs = signs  # the street's shop names; set before the first sign is emitted
        self.sign_log: list[dict] = []  # every sign face emitted: its text, centre and normal
        self._sign_mats: dict[str, Material] = {}
        self._board_mats: dict[str, Material] = {}  # unlit A-board faces, one per sign atlas layer

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
        if x.balconies:  # kept clear of a vertical sign at either end of the front
            trim = 0.5 if x.vertical_sign is not None and width_m > 3.0 else 0.0
            self.balconies(front + t * trim, t, width_m - 2 * trim, n, gf, fh, storeys, color)
        if x.continuous_balconies:
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.continuous_balconies(b, f, fs.continuous_balcony_floors, gf, fh, storeys, trim, lin(fs.railing_color))
        if x.cornice:
            trim = tuple(min(1.0, c * 1.08) for c in color)
            fp.cornice(b, f, body.height_m, trim)
            fp.cornice(b, f, gf, trim, depth_m=0.15, height_m=0.22)
        self._wall_parts(spec, f)
        if x.vertical_sign is not None:
            self.vertical_sign(front, t, n, gf, x.vertical_sign)
        self.projecting_signs(f, x.boards)
        self.vending(front, t, n, x.vending)
        if x.plant_pot is not None:
            self.plant_pot(front + t * x.plant_pot[0] + n * 0.35, x.plant_pot[1])

    def _wall_parts(self, spec: BuildingSpec, f: fp.Frame) -> None:
        """Sills and window heads, air-conditioner boxes and the downpipe of the facade."""
        body, x, fs = spec.body, spec.extras, self.style.facade
        window_style = int(body.variation * 4)
        if x.sills:
            trim = lin(fs.trim_color) if fs.trim_color else tuple(min(1.0, c * 1.15) for c in body.wall_color)
            fp.window_trim(self.b, f, window_style, body.bays, body.ground_floor_m, body.floor_height_m,
                           body.storeys, trim)
        if x.ac_units:
            fp.ac_units(self.b, f, x.ac_units, body.bays, body.ground_floor_m, body.floor_height_m, window_style)
        if x.pipe_at_m is not None:
            fp.drain_pipe(self.b, f, x.pipe_at_m, body.height_m, lin(fs.pipe_color))
        if x.a_frame is not None:
            along, sign = x.a_frame
            face = self._face(False, sign)
            mat = self._board_mats.setdefault(face.texture, Material(f"a_board_{face.texture}", (0.9, 0.9, 0.9),
                                                                     0.6, face.texture))
            props.a_frame(self.b, f.p(along, 0.9, 0.0) + UP * self._pavement_m(spec), f.yaw, mat,
                          face.bg_uv, face.uv, face.aspect)

    def _pavement_m(self, spec: BuildingSpec) -> float:
        """Height of the walking surface in front of the building: the kerb on the main street."""
        return KERB_M if spec.lot.street_kind == "main" or self.style.network.side_sidewalk_width_m > 0 else 0.0

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
            h = min(0.75, gf_m - door_h - 0.05)
            base = front + t * (width_m / 2) + UP * (door_h + 0.05) + n * 0.06
            b.box(SIGN_FRAME, base, (inner * 0.96, 0.12, h), np.arctan2(t[1], t[0]))
            self.sign_face(self._face(False, spec.fascia_sign), base + n * 0.06 + UP * (h / 2), n, inner * 0.96, h,
                           "fascia")
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
        self.b.box(SIGN_FRAME, c, (spec.out_m, 0.16, spec.height_m), yaw)
        side = np.cross(UP, n)
        for sgn in (1, -1):
            self.sign_face(self._face(True, spec.sign), c + side * (sgn * 0.08) + UP * (spec.height_m / 2),
                           side * sgn, spec.out_m, spec.height_m, "vertical")

    def projecting_signs(self, f: fp.Frame, boards: tuple[BoardSpec, ...]) -> None:
        """Big lit boards on arms reaching out over the pavement, faces turned along the street."""
        side = np.cross(UP, f.n)
        for bd in boards:
            c = f.p(bd.along_m, bd.out_m / 2 + 0.1, bd.z_m)
            yaw = float(np.arctan2(f.n[1], f.n[0]))
            self.b.box(SIGN_FRAME, c, (bd.out_m, 0.22, bd.height_m), yaw)
            for sgn in (1, -1):
                self.sign_face(self._face(bd.tall, bd.sign), c + side * (sgn * 0.11) + UP * (bd.height_m / 2),
                               side * sgn, bd.out_m, bd.height_m, "board")
            self.b.tube(self.m.metal, np.array([f.p(bd.along_m, 0.0, bd.z_m + bd.height_m + 0.6),
                                                f.p(bd.along_m, bd.out_m, bd.z_m + bd.height_m)]), 0.03, sides=3)

    def _face(self, vertical: bool, index: int) -> SignFace:
        if self.signs is None:
            raise SceneError("Kit.signs is not set: give the kit a SignBank before emitting signs")
        faces = self.signs.v if vertical else self.signs.h
        return faces[index % len(faces)]

    def sign_face(self, face: SignFace, centre, normal, width_m: float, height_m: float, kind: str) -> None:
        """A lit sign face `width_m` x `height_m` centred at `centre` facing `normal`: a plain
        background inside a thin rim of the frame, and the lettering on it at its own proportions."""
        mat = self._sign_mats.get(face.texture)
        if mat is None:
            mat = Material(face.texture, (1, 1, 1), 0.4, face.texture, kind=EMISSIVE, emissive=self.signs.glow)
            self._sign_mats[face.texture] = mat
        n = np.asarray(normal, float)
        u = np.cross(UP, n)  # reads left to right seen from in front
        rim = min(0.05, 0.06 * min(width_m, height_m))
        w, h = width_m - 2 * rim, height_m - 2 * rim
        c = np.asarray(centre, float)
        damp = 1.0 - face.glow_scale
        self.b.quad(mat, c + n * 0.004 - u * (w / 2) - UP * (h / 2), u * w, UP * h, (face.bg_uv, face.bg_uv),
                    variation=damp)
        fill = 0.94
        tw, th = (h * fill * face.aspect, h * fill) if w / h > face.aspect else (w * fill, w * fill / face.aspect)
        if face.cells and th < h * 0.8:  # a tall vertical sign: spread the glyphs down it
            k = len(face.cells)
            g = min(w * 0.86, h * fill / k)
            step = min(h * fill / k, g * 1.4)
            top = c + n * 0.008 + UP * (step * k / 2)
            for i, cell in enumerate(face.cells):
                o = top - UP * (step * i + (step + g) / 2) - u * (g / 2)
                self.b.quad(mat, o, u * g, UP * g, cell, variation=damp)
            tw, th = g, step * k
        else:
            self.b.quad(mat, c + n * 0.008 - u * (tw / 2) - UP * (th / 2), u * tw, UP * th, face.uv, variation=damp)
        self.sign_log.append({"kind": kind, "text": face.text, "vertical": face.vertical,
                              "centre_m": tuple(map(float, c + n * 0.008)), "normal": tuple(map(float, n)),
                              "width_m": float(width_m), "height_m": float(height_m),
                              "text_size_m": (float(tw), float(th))})

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
        top = p + np.array([0, 0, 0.75])  # a leafy plant of crossed leaf cards
        props._leaf_cards(self.b, [(top, 0.75, yaw_rad), (top + UP * 0.15, 0.55, yaw_rad + 0.8)], top - UP * 0.3,
                          self.m.plant.albedo, mat=props.SHRUB_WHITE)

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
            props.tree(b, p, height, col, crown_frac, tint, spec.branches)
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
            props.car(b, p, yaw, col, spec.cab, spec.body)
        elif kind == "bus":
            props.double_decker(b, p, yaw, col)
        elif kind == "tram":
            props.double_decker(b, p, yaw, col, length_m=12.0, width_m=2.3, height_m=4.7)
        elif kind == "bollard":
            props.bollard(b, p, col)
        elif kind == "traffic_light":
            props.traffic_light(b, p, yaw, col)
        elif kind == "planter":
            props.planter(b, p, col)
        elif kind == "bicycle":
            props.bicycle(b, p, yaw, col)
        elif kind == "boat":
            props.boat(b, p, yaw, col, spec.length_m)
        else:
            raise ValueError(f"unknown prop kind {kind!r}")
