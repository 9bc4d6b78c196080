"""Street props as small procedural meshes: trees, kerbside furniture, vehicles, bicycles, boats.

Each function adds a few boxes/cylinders to a MeshBuilder at a base point (3,) m on the ground,
heading `yaw_rad` (0 = along +X). Triangle counts stay in the tens to low hundreds per prop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scene import EMISSIVE, FOLIAGE, Material
from ..geometry import MeshBuilder

UP = np.array([0.0, 0.0, 1.0])

TRUNK = Material("tree_trunk", (0.20, 0.16, 0.12), 0.9)
CROWN = Material("tree_crown", (1.0, 1.0, 1.0), 0.9, kind=FOLIAGE)
CAR_BODY = Material("car_body", (1.0, 1.0, 1.0), 0.35)
CAR_GLASS = Material("car_glass", (0.06, 0.07, 0.08), 0.15)
TYRE = Material("tyre", (0.03, 0.03, 0.03), 0.8)
VEHICLE_SIDE = Material("vehicle_side", (1.0, 1.0, 1.0), 0.4, "vehicle_side")
FURNITURE = Material("furniture", (1.0, 1.0, 1.0), 0.6)
PHONE_BOX = Material("phone_box", (1.0, 1.0, 1.0), 0.5, "phone_box")
PHONE_LIGHT = Material("phone_box_light", (1.0, 0.95, 0.85), 0.5, kind=EMISSIVE, emissive=3.0)
BOAT = Material("boat", (1.0, 1.0, 1.0), 0.5)


def _dirs(yaw_rad: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([np.cos(yaw_rad), np.sin(yaw_rad), 0.0])
    return t, np.array([-t[1], t[0], 0.0])


LEAVES = Material("tree_leaves", (1.0, 1.0, 1.0), 0.85, "leaves", kind=FOLIAGE)
LEAF_TEXTURE_SEED = 20_260_3  # the leaf texture is the same for every street
LEAF_CARDS = 3  # crossed cards per leaf cluster
DEFAULT_BRANCHES = ((0.0, 0.8, 0.9), (1.6, 0.7, 0.85), (3.2, 0.8, 0.9), (4.7, 0.7, 0.85))


def leaf_texture(size_px: int = 256) -> np.ndarray:
    """An RGBA (S, S, 4) uint8 leaf cluster: a few hundred small rotated leaves on twigs, dense
    in the middle and ragged at the edge; alpha 255 on leaves, 0 between them (cut out at 0.5 by
    the FOLIAGE shader). Near-white so the tree's tint sets the colour; transparent texels keep
    the leaf colour so mipmaps do not darken the edges."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(LEAF_TEXTURE_SEED)
    rgb = Image.new("RGB", (size_px, size_px), (190, 205, 170))
    alpha = Image.new("L", (size_px, size_px), 0)
    dc, da = ImageDraw.Draw(rgb), ImageDraw.Draw(alpha)
    c = size_px / 2
    for ang in rng.uniform(0, 2 * np.pi, 7):  # twigs from the middle
        end = (c + np.cos(ang) * c * 0.8, c + np.sin(ang) * c * 0.8)
        dc.line([(c, c), end], fill=(95, 80, 60), width=max(1, size_px // 110))
        da.line([(c, c), end], fill=255, width=max(1, size_px // 110))
    n = 520
    r = np.abs(rng.normal(0.0, 0.27, n)).clip(0, 0.47) * size_px
    th = rng.uniform(0, 2 * np.pi, n)
    order = np.argsort(-r)  # outer leaves first: the inner ones lie on top, brighter
    for k in order:
        x, y = c + r[k] * np.cos(th[k]), c + r[k] * np.sin(th[k])
        length = size_px * rng.uniform(0.035, 0.06)
        width = length * rng.uniform(0.35, 0.5)
        a = rng.uniform(0, np.pi)
        t = np.linspace(0, 2 * np.pi, 9)[:-1]
        px, py = length * np.cos(t), width * np.sin(t)
        pts = [(x + u * np.cos(a) - v * np.sin(a), y + u * np.sin(a) + v * np.cos(a)) for u, v in zip(px, py)]
        light = 0.62 + 0.38 * (1 - r[k] / (0.47 * size_px)) * rng.uniform(0.6, 1.0) + rng.uniform(-0.08, 0.08)
        hue = rng.uniform(-0.08, 0.08)
        col = tuple(int(np.clip(255 * light * m, 0, 255)) for m in (0.86 + hue, 0.96, 0.74 - hue))
        dc.polygon(pts, fill=col)
        da.polygon(pts, fill=255)
    return np.concatenate([np.asarray(rgb), np.asarray(alpha)[..., None]], 2)


def tree(b: MeshBuilder, p, height_m: float, color, crown_frac: float, tint_scale: float,
         branches: tuple[tuple[float, float, float], ...] = (), trunk: Material = TRUNK,
         leaves: Material = LEAVES) -> None:
    """A street tree: a tapered trunk forking at 40% of the height into `branches` (azimuth rad,
    elevation rad, length as a fraction of the crown radius), each ending in a cluster of crossed
    alpha-tested leaf cards, and one cluster crowning the top (~100 triangles). Crown radius
    `crown_frac` × height, leaf colour `color` × `tint_scale`; the one tree maker of procedural
    streets and mapped (OSM) trees alike. `leaves` must sample the "leaves" texture."""
    p = np.asarray(p, np.float64)
    branches = branches or DEFAULT_BRANCHES
    crown_r = height_m * crown_frac
    z_fork = height_m * 0.4
    trunk_r = 0.06 + 0.014 * height_m
    b.cylinder(trunk, p, p + UP * (z_fork + 0.4), trunk_r * 1.25, trunk_r * 0.8, sides=7, cap=False)
    tint = np.asarray(color) * tint_scale
    centre = p + UP * (z_fork + (height_m - z_fork) * 0.52)
    clusters = [(p + UP * (height_m - crown_r * 0.55), crown_r * 1.25, 0.0)]
    for k, (az, elev, frac) in enumerate(branches):
        d = np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az), np.sin(elev)])
        start = p + UP * (z_fork + 0.12 * (k % 3))
        reach = crown_r * frac / max(np.cos(elev), 0.35)
        end = start + d * reach
        b.cylinder(trunk, start, end, trunk_r * 0.55, 0.03, sides=5, cap=False)
        clusters.append((end, crown_r * 1.05, az))
        clusters.append((start + d * reach * 0.55 + UP * 0.3, crown_r * 0.85, az + 1.0))
    _leaf_cards(b, clusters, centre, tint, leaves)


def _leaf_cards(b: MeshBuilder, clusters, centre: np.ndarray, tint, mat: Material = LEAVES) -> None:
    """Per cluster (centre (3,), card size m, azimuth rad): LEAF_CARDS square cards crossed at
    equal angles about a tilted axis, with normals bent outward from the crown's `centre` so the
    crown shades as a volume, lit side bright and the inside dark."""
    pos, nrm, uvs, idx = [], [], [], []
    quad_uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    for c, size, az in clusters:
        out = c - centre
        out = out / max(np.linalg.norm(out), 1e-6)
        for j in range(LEAF_CARDS):
            a = az + j * np.pi / LEAF_CARDS
            u = np.array([np.cos(a), np.sin(a), 0.0]) * size
            tilt = 0.35 if j == 0 else 1.0  # one card lies nearly flat: the crown from above
            v = (UP * tilt + np.array([-np.sin(a), np.cos(a), 0.0]) * (1 - tilt) * 0.9) * size
            corners = c - u / 2 - v / 2 + np.array([[0, 0, 0], u, u + v, v])
            base = len(pos) * 4
            pos.append(corners)
            face = np.cross(u, v)
            face = face / max(np.linalg.norm(face), 1e-9)
            face = face if face @ out >= 0 else -face
            bent = face * 0.35 + out + UP * 0.35
            nrm.append(np.repeat((bent / np.linalg.norm(bent))[None], 4, 0))
            uvs.append(quad_uv)
            idx += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    b.add(mat, np.concatenate(pos), np.concatenate(nrm), np.concatenate(uvs), idx, tint)


def bench(b: MeshBuilder, p, yaw_rad: float, color) -> None:
    """A 1.8 m bench facing the +across side of `yaw_rad`."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    b.box(FURNITURE, p + UP * 0.42, (1.8, 0.45, 0.06), yaw_rad, color)
    b.box(FURNITURE, p - s * 0.22 + UP * 0.5, (1.8, 0.06, 0.42), yaw_rad, color)
    for k in (-0.75, 0.75):
        b.box(FURNITURE, p + t * k, (0.06, 0.45, 0.42), yaw_rad, (0.05, 0.05, 0.05))


def bin_(b: MeshBuilder, p, color) -> None:
    """A litter bin: a 0.9 m cylinder with a lid."""
    p = np.asarray(p, np.float64)
    b.cylinder(FURNITURE, p, p + UP * 0.85, 0.25, 0.27, sides=8, color=color)
    b.cylinder(FURNITURE, p + UP * 0.85, p + UP * 0.95, 0.29, 0.2, sides=8, color=np.asarray(color) * 0.6)


def hydrant(b: MeshBuilder, p, color) -> None:
    """A fire hydrant: barrel, bonnet and side nozzles."""
    p = np.asarray(p, np.float64)
    b.cylinder(FURNITURE, p, p + UP * 0.55, 0.13, 0.12, sides=8, color=color)
    b.cylinder(FURNITURE, p + UP * 0.55, p + UP * 0.72, 0.12, 0.04, sides=8, color=color)
    b.box(FURNITURE, p + UP * 0.36, (0.42, 0.1, 0.1), 0.0, color)


def phone_box(b: MeshBuilder, p, yaw_rad: float, lights: list | None = None) -> None:
    """A red telephone box: textured glazed sides, a domed roof band and a lit crown."""
    p = np.asarray(p, np.float64)
    red = (0.52, 0.01, 0.02)
    faces = {k: PHONE_BOX for k in ("front", "back", "left", "right")}
    b.box(PHONE_BOX, p, (0.95, 0.95, 2.35), yaw_rad, faces=faces)
    b.box(FURNITURE, p + UP * 2.35, (1.05, 1.05, 0.18), yaw_rad, red)
    b.box(PHONE_LIGHT, p + UP * 2.2, (0.97, 0.97, 0.12), yaw_rad)
    b.box(FURNITURE, p + UP * 2.53, (0.8, 0.8, 0.12), yaw_rad, red)


def bike_rack(b: MeshBuilder, p, yaw_rad: float, color) -> None:
    """Two steel hoops (Sheffield stands) across the kerb line."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    ang = np.linspace(0, np.pi, 6)
    for k in (-0.45, 0.45):
        pts = p + t * k + s[None, :] * (0.35 * np.cos(ang))[:, None] + UP[None, :] * (0.5 + 0.3 * np.sin(ang))[:, None]
        pts = np.concatenate([[pts[0] - UP * 0.5], pts, [pts[-1] - UP * 0.5]])
        b.tube(FURNITURE, pts, 0.03, sides=4, color=color)


@dataclass(frozen=True)
class CarBody:
    """A car body type: overall size (m), wheels, belt line and greenhouse (glass cabin) as
    distances from the ends; the lower body's side profile bevels the bumpers and the bonnet."""

    length_m: float
    width_m: float
    height_m: float
    wheel_r_m: float
    wheelbase_m: float
    belt_m: float  # top of the lower body (where the glass starts)
    glass_rear_m: tuple[float, float]  # greenhouse rear edge from the back: (at the belt, at the roof)
    glass_front_m: tuple[float, float]  # greenhouse front edge from the front: (at the belt, at the roof)
    bonnet_drop_m: float = 0.12  # how much lower the bonnet's nose is than the belt


CAR_BODIES = {
    "sedan": CarBody(4.6, 1.8, 1.45, 0.32, 2.75, 0.9, (0.95, 1.45), (1.35, 2.05)),
    "hatchback": CarBody(4.05, 1.75, 1.5, 0.31, 2.55, 0.92, (0.25, 0.45), (1.05, 1.75)),
    "van": CarBody(4.9, 1.9, 1.98, 0.34, 3.0, 1.05, (0.08, 0.12), (0.75, 1.15), 0.2),
    "kei": CarBody(3.4, 1.48, 1.68, 0.27, 2.45, 0.9, (0.1, 0.18), (0.55, 0.95), 0.1),
}
HEADLIGHT = Material("car_headlight", (1.0, 0.96, 0.88), 0.2, kind=EMISSIVE, emissive=2.5)
TAILLIGHT = Material("car_taillight", (0.9, 0.06, 0.04), 0.3, kind=EMISSIVE, emissive=1.5)
CAB_SIGN = Material("cab_sign", (1.0, 0.93, 0.7), 0.4, kind=EMISSIVE, emissive=1.5)
TRIM_DARK = Material("car_trim", (0.04, 0.04, 0.045), 0.6)
HUB = Material("wheel_hub", (0.22, 0.22, 0.23), 0.35)


def _extrude(b: MeshBuilder, mat: Material, profile, half_w_m, p, t, s, color) -> None:
    """A convex side profile [(x along, z up), ...] (counter-clockwise seen from +s) extruded
    across ±half width; `half_w_m` is one width or (at the lowest z, at the highest z) for a
    body that narrows upward. Flat-shaded: two side polygons and a band of quads."""
    prof = np.asarray(profile, np.float64)
    lo, hi = (half_w_m, half_w_m) if np.isscalar(half_w_m) else half_w_m
    z0, z1 = prof[:, 1].min(), prof[:, 1].max()
    hw = lo + (hi - lo) * (prof[:, 1] - z0) / max(z1 - z0, 1e-9)
    k = len(prof)

    def pt(i, side):
        return p + t * prof[i, 0] + s * (side * hw[i]) + UP * prof[i, 1]

    for side in (1, -1):
        _face(b, mat, [pt(i, side) for i in range(k)], s * side, color)
    for i in range(k):
        j = (i + 1) % k
        edge = prof[j] - prof[i]
        out = t * edge[1] - UP * edge[0]  # the profile runs CCW: outward is the edge turned clockwise
        _face(b, mat, [pt(i, 1), pt(i, -1), pt(j, -1), pt(j, 1)], out, color)


def _face(b: MeshBuilder, mat: Material, pts, normal, color) -> None:
    """A flat convex face (K, 3) with its normal, wound so that its front faces along `normal`
    (the shader turns the normal of a back-facing triangle round)."""
    pts = np.asarray(pts, np.float64)
    normal = np.asarray(normal, np.float64)
    normal = normal / max(np.linalg.norm(normal), 1e-9)
    k = len(pts)
    if np.cross(pts[1] - pts[0], pts[-1] - pts[0]) @ normal < 0:
        pts = pts[::-1]
    uv = np.zeros((k, 2))
    b.add(mat, pts, [normal] * k, uv, [(0, i, i + 1) for i in range(1, k - 1)], color)


_CAR_TEMPLATES: dict[tuple[str, bool], list] = {}


def car(b: MeshBuilder, p, yaw_rad: float, color, cab: bool = False, body: str = "sedan") -> None:
    """A car of `body` type (CAR_BODIES): bevelled lower body in `color`, a tinted-glass
    greenhouse under a body-coloured roof with pillars, bumpers, four wheels with hubs, lit
    head and tail lights; a cab gets a lit roof sign (~300 triangles). Each body is built once
    and placed by rotating and moving its vertices (one MeshBuilder call per material)."""
    key = (body or "sedan", bool(cab))
    if key[0] not in CAR_BODIES:
        raise ValueError(f"car body {body!r} is unknown; known: {', '.join(CAR_BODIES)}")
    if key not in _CAR_TEMPLATES:
        tmp = MeshBuilder()
        _car_geometry(tmp, np.zeros(3), 0.0, (1.0, 1.0, 1.0), key[1], CAR_BODIES[key[0]])
        _CAR_TEMPLATES[key] = tmp.build()
    c, si = np.cos(yaw_rad), np.sin(yaw_rad)
    rot = np.array([[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]], np.float32)
    p = np.asarray(p, np.float32)
    for mesh in _CAR_TEMPLATES[key]:
        tint = np.ones((len(mesh.positions), 3), np.float32) if mesh.colors is None else mesh.colors
        tint = tint * np.asarray(color, np.float32) if mesh.material == CAR_BODY else tint
        b.add(mesh.material, mesh.positions @ rot.T + p, mesh.normals @ rot.T, mesh.uvs, mesh.indices, tint)


def _car_geometry(b: MeshBuilder, p, yaw_rad: float, color, cab: bool, cb: CarBody) -> None:
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    half_l, hw, zb, ground = cb.length_m / 2, cb.width_m / 2, cb.belt_m, 0.2
    nose = zb - cb.bonnet_drop_m
    lower = [(-half_l, ground + 0.08), (-half_l + 0.12, ground), (half_l - 0.12, ground), (half_l, ground + 0.08),
             (half_l, nose - 0.1), (half_l - 0.15, nose), (-half_l + 0.1, zb), (-half_l, zb - 0.08)]
    _extrude(b, CAR_BODY, lower, hw - 0.07, p, t, s, color)
    (rb, rt), (fb, ft) = cb.glass_rear_m, cb.glass_front_m
    roof_z = cb.height_m - 0.05
    glass = [(-half_l + rb, zb), (half_l - fb, zb), (half_l - ft, roof_z), (-half_l + rt, roof_z)]
    _extrude(b, CAR_GLASS, glass, (hw - 0.05, hw - 0.17), p, t, s, (1, 1, 1))
    roof = [(-half_l + rt - 0.03, roof_z - 0.02), (half_l - ft + 0.03, roof_z - 0.02),
            (half_l - ft + 0.01, cb.height_m), (-half_l + rt - 0.01, cb.height_m)]
    _extrude(b, CAR_BODY, roof, hw - 0.15, p, t, s, color)
    mid_x = (-half_l + rt + half_l - ft) / 2 - 0.1
    for side in (1, -1):  # A, B and C pillars along the glass edges
        for (xa, za, wa), (xb, zb_, wb) in (((half_l - fb, zb, hw - 0.04), (half_l - ft, roof_z, hw - 0.16)),
                                            ((-half_l + rb, zb, hw - 0.04), (-half_l + rt, roof_z, hw - 0.16)),
                                            ((mid_x, zb, hw - 0.04), (mid_x, roof_z, hw - 0.16))):
            pts = np.array([p + t * xa + s * (side * wa) + UP * za, p + t * xb + s * (side * wb) + UP * zb_])
            b.tube(CAR_BODY, pts, 0.045, sides=4, color=color)
    for end in (1, -1):  # bumpers, lamps, grille
        b.box(TRIM_DARK, p + t * end * (half_l - 0.02) + UP * (ground + 0.02), (0.12, cb.width_m + 0.02, 0.22),
              yaw_rad)
        for side in (1, -1):
            c = p + t * end * (half_l + 0.005) + s * side * (hw - 0.28) + UP * (nose - 0.2 if end > 0 else zb - 0.22)
            b.box(HEADLIGHT if end > 0 else TAILLIGHT, c, (0.03, 0.32, 0.12 if end > 0 else 0.16), yaw_rad)
    b.box(TRIM_DARK, p + t * (half_l + 0.003) + UP * (nose - 0.28), (0.02, hw * 0.9, 0.16), yaw_rad)
    for a in (-cb.wheelbase_m / 2, cb.wheelbase_m / 2):
        for side in (1, -1):
            q = p + t * a + s * side * (hw - 0.12) + UP * cb.wheel_r_m
            b.cylinder(TYRE, q - s * side * 0.1, q + s * side * 0.12, cb.wheel_r_m, sides=8)
            rim = [q + s * side * 0.125 + (t * np.cos(u) + UP * np.sin(u)) * cb.wheel_r_m * 0.55
                   for u in np.linspace(0, 2 * np.pi, 7)[:-1]]
            _face(b, HUB, rim, s * side, (1, 1, 1))
            ang = np.linspace(0, np.pi, 7)  # the dark wheel arch on the body side above the tyre
            arch = [q + s * side * 0.051 + (t * np.cos(u) + UP * np.sin(u)) * (cb.wheel_r_m + 0.07) for u in ang]
            _face(b, TRIM_DARK, arch, s * side, (1, 1, 1))
    if cab:
        b.box(CAB_SIGN, p + t * (mid_x * 0.5) + UP * (cb.height_m + 0.11), (0.55, 0.22, 0.22), yaw_rad)


def double_decker(b: MeshBuilder, p, yaw_rad: float, color, length_m: float = 10.5, width_m: float = 2.5,
                  height_m: float = 4.4) -> None:
    """A double-deck bus or tram: a long box whose long sides carry two window bands."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    b.box(CAR_BODY, p + UP * 0.35, (length_m, width_m, height_m - 0.35), yaw_rad, color,
          faces={"front": VEHICLE_SIDE, "back": VEHICLE_SIDE})
    for sign in (-1, 1):  # end windows
        b.quad(CAR_GLASS, p + t * sign * (length_m / 2 + 0.01) - s * sign * (width_m / 2 - 0.2) + UP * 1.2,
               s * sign * (width_m - 0.4), UP * (height_m - 1.6))
    for a in (-length_m / 2 + 1.6, length_m / 2 - 2.2):
        for c in (-width_m / 2 + 0.3, width_m / 2 - 0.3):
            q = p + t * a + s * c + UP * 0.45
            b.cylinder(TYRE, q - s * 0.15, q + s * 0.15, 0.45, sides=8)


def bicycle(b: MeshBuilder, p, yaw_rad: float, color) -> None:
    """A parked bicycle: two thin wheel discs, a frame polyline and handlebars."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    r = 0.34
    for a in (-0.52, 0.52):
        q = p + t * a + UP * r
        b.cylinder(TYRE, q - s * 0.02, q + s * 0.02, r, sides=10)
    frame = [p - t * 0.52 + UP * r, p - t * 0.1 + UP * 0.9, p + t * 0.35 + UP * 0.9, p + t * 0.52 + UP * r]
    b.tube(FURNITURE, np.array(frame), 0.025, sides=3, color=color)
    b.tube(FURNITURE, np.array([p - t * 0.05 + UP * r, p - t * 0.1 + UP * 0.95]), 0.025, sides=3, color=color)
    h = p + t * 0.4 + UP * 1.05
    b.tube(FURNITURE, np.array([h - s * 0.28, h + s * 0.28]), 0.02, sides=3, color=(0.05, 0.05, 0.05))


def boat(b: MeshBuilder, p, yaw_rad: float, color, length_m: float) -> None:
    """A moored canal boat: a low hull with a cabin."""
    p = np.asarray(p, np.float64)
    b.box(BOAT, p - UP * 0.3, (length_m, 2.2, 0.75), yaw_rad, color)
    b.box(BOAT, p + UP * 0.45, (length_m * 0.55, 1.8, 0.9), yaw_rad, (0.55, 0.5, 0.42),
          faces={"front": CAR_GLASS, "back": CAR_GLASS})



SIGNAL_RED = Material("signal_red", (1.0, 0.12, 0.06), 0.3, kind=EMISSIVE, emissive=4.0)
SIGNAL_GREEN = Material("signal_green", (0.15, 1.0, 0.55), 0.3, kind=EMISSIVE, emissive=4.0)
SIGNAL_OFF = Material("signal_off", (0.06, 0.06, 0.05), 0.3)
SOIL = Material("planter_soil", (0.09, 0.07, 0.05), 0.95)
SHRUB = Material("shrub", (0.09, 0.2, 0.06), 0.85, "leaves", kind=FOLIAGE)
SHRUB_WHITE = Material("shrub_tinted", (1.0, 1.0, 1.0), 0.85, "leaves", kind=FOLIAGE)  # colour per vertex


def bollard(b: MeshBuilder, p, color) -> None:
    """A cast-iron bollard: a 0.9 m post with a collar and a domed cap."""
    p = np.asarray(p, np.float64)
    b.cylinder(FURNITURE, p, p + UP * 0.8, 0.11, 0.09, sides=8, color=color, cap=False)
    b.cylinder(FURNITURE, p + UP * 0.62, p + UP * 0.68, 0.115, sides=8, color=color, cap=False)
    b.cylinder(FURNITURE, p + UP * 0.8, p + UP * 0.92, 0.1, 0.03, sides=8, color=color)


def traffic_light(b: MeshBuilder, p, yaw_rad: float, color) -> None:
    """A signal post at a crossing: a 3.4 m pole, a three-lamp head facing each way along the
    road (red lit toward `yaw_rad`, green the other way) and a pedestrian head across."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    b.cylinder(FURNITURE, p, p + UP * 3.4, 0.07, 0.06, sides=8, color=color)
    head = p + UP * 2.45
    b.box(FURNITURE, head, (0.3, 0.34, 0.95), yaw_rad, color)
    for end, lit in ((-1, SIGNAL_RED), (1, SIGNAL_GREEN)):  # lamps on the two faces along the road
        for k, z in enumerate((0.78, 0.48, 0.18)):
            on = (k == 0 and lit is SIGNAL_RED) or (k == 2 and lit is SIGNAL_GREEN)
            lamp = [head + t * end * 0.152 + UP * z + (s * np.cos(u) + UP * np.sin(u)) * 0.1
                    for u in np.linspace(0, 2 * np.pi, 9)[:-1]]
            _face(b, lit if on else SIGNAL_OFF, lamp, t * end, (1, 1, 1))
    ped = p + s * 0.2 + UP * 2.0  # walker signal toward the crossing
    b.box(FURNITURE, ped - UP * 0.0, (0.28, 0.22, 0.45), yaw_rad, color)
    _face(b, SIGNAL_RED, [ped + s * 0.111 + t * a + UP * z for a, z in ((-0.09, 0.25), (0.09, 0.25), (0.09, 0.4),
                                                                       (-0.09, 0.4))], s, (1, 1, 1))


def planter(b: MeshBuilder, p, color) -> None:
    """A square concrete planter with a leafy shrub of crossed leaf cards."""
    p = np.asarray(p, np.float64)
    b.box(FURNITURE, p, (0.9, 0.9, 0.6), 0.0, color)
    b.quad(SOIL, p + np.array([-0.4, -0.4, 0.601]), (0.8, 0, 0), (0, 0.8, 0))
    centre = p + UP * 1.0
    _leaf_cards(b, [(centre, 1.1, 0.3), (centre + UP * 0.2, 0.9, 1.2)], p + UP * 0.5, (1.0, 1.0, 1.0),
                mat=SHRUB)


def a_frame(b: MeshBuilder, p, yaw_rad: float, face_mat: Material, bg_uv=(0.0, 0.0),
            letter_uv=None, letter_aspect: float = 3.0) -> None:
    """A pavement A-board: two sign faces leaning together (0.9 m tall), the sign toward the
    street both ways along the pavement (`yaw_rad` is the way it faces). Each face is the sign's
    plain background (`bg_uv`, one texel of `face_mat`'s atlas) with its lettering (`letter_uv`
    rect, width/height `letter_aspect`) across the upper half at its own proportions."""
    t, s = _dirs(yaw_rad)
    p = np.asarray(p, np.float64)
    w, h, spread = 0.55, 0.9, 0.22
    for side in (1, -1):
        foot = p + t * side * spread - s * w / 2
        top = p + t * side * 0.03 + UP * h - s * w / 2
        up = top - foot
        nrm = np.cross(s, up) * side
        corners = [foot, foot + s * w, top + s * w, top]
        tris = [(0, 1, 2), (0, 2, 3)] if np.cross(s, up) @ nrm > 0 else [(0, 2, 1), (0, 3, 2)]
        n_unit = nrm / np.linalg.norm(nrm)
        b.add(face_mat, corners, [n_unit] * 4, [bg_uv] * 4, tris)
        if letter_uv is None:
            continue
        (u0, v0), (u1, v1) = letter_uv
        lw = w - 0.08
        lh = min(0.34, lw / max(letter_aspect, 0.5))
        up_u = up / np.linalg.norm(up)
        o = foot + up_u * (0.55 * np.linalg.norm(up) - lh / 2) + s * 0.04 + n_unit * 0.004
        if n_unit @ np.cross(s, up) > 0:  # reads left to right seen from in front of the face
            quad, uvs = [o, o + s * lw, o + s * lw + up_u * lh, o + up_u * lh], [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        else:
            quad, uvs = [o + s * lw, o, o + up_u * lh, o + s * lw + up_u * lh], [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        facing = np.cross(quad[1] - quad[0], quad[3] - quad[0]) @ n_unit > 0
        b.add(face_mat, quad, [n_unit] * 4, uvs, [(0, 1, 2), (0, 2, 3)] if facing else [(0, 2, 1), (0, 3, 2)])
