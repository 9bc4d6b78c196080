"""Small worlds the tests build: an OSM city, KMZ models, a 3D Tiles set, a splat street.

Shared by the test modules (and conftest fixtures) instead of test modules importing each other.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile

import numpy as np

from citywalk.sources.geo import WGS84_A_M, WGS84_E2, EnuFrame, enu_rotation, geodetic_to_ecef

LAT, LON, H = 48.8584, 2.2945, 35.0  # the 3D Tiles set's anchor

# ---------------------------------------------------------------------------- OSM
ORIGIN = (35.68, 139.76)  # OSM and KMZ worlds
FRAME = EnuFrame(*ORIGIN)
RECT = np.array([[0, 0], [20, 0], [20, 10], [0, 10]], float)
SHAPES = ["flat", "gabled", "hipped", "pyramidal", "skillion", "mansard", "dome"]


class _Osm:
    """Tiny OSM document builder in local metres (converted to lat/lon around ORIGIN)."""

    def __init__(self):
        self.nodes, self.ways, self.rels = [], [], []
        self.next_id = 1

    def node(self, x, y, tags=None) -> int:
        lat, lon, _ = FRAME.to_geodetic(np.array([x, y, 0.0]))
        nid = self.next_id
        self.next_id += 1
        self.nodes.append((nid, float(lat), float(lon), tags or {}))
        return nid

    def way(self, wid, pts, tags, closed=False) -> int:
        refs = [self.node(x, y) for x, y in pts]
        if closed:
            refs.append(refs[0])
        self.ways.append((wid, refs, tags))
        return wid

    def way_refs(self, wid, refs, tags):
        self.ways.append((wid, refs, tags))

    def relation(self, rid, members, tags):
        self.rels.append((rid, members, tags))

    def xml(self, prologue: str = "") -> str:
        t = lambda tags: "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())  # noqa: E731
        out = ['<?xml version="1.0" encoding="UTF-8"?>', prologue, '<osm version="0.6">',
               f'<bounds minlat="{ORIGIN[0] - 0.01}" minlon="{ORIGIN[1] - 0.01}" '
               f'maxlat="{ORIGIN[0] + 0.01}" maxlon="{ORIGIN[1] + 0.01}"/>']
        for nid, lat, lon, tags in self.nodes:
            out.append(f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}">{t(tags)}</node>')
        for wid, refs, tags in self.ways:
            out.append(f'<way id="{wid}">' + "".join(f'<nd ref="{r}"/>' for r in refs) + t(tags) + "</way>")
        for rid, members, tags in self.rels:
            mem = "".join(f'<member type="way" ref="{r}" role="{role}"/>' for r, role in members)
            out.append(f'<relation id="{rid}">{mem}{t(tags)}</relation>')
        out.append("</osm>")
        return "\n".join(out)


def _rect(x0, y0, w, d):
    return [(x0, y0), (x0 + w, y0), (x0 + w, y0 + d), (x0, y0 + d)]


def _city() -> _Osm:
    o = _Osm()
    o.way(1001, _rect(0, 0, 20, 10), {"building": "yes", "height": "12"}, closed=True)
    o.way(1002, _rect(40, 0, 10, 10), {"building": "yes", "building:levels": "4"}, closed=True)
    o.way(1003, _rect(60, 0, 10, 10), {"building:part": "yes", "min_height": "3 m", "height": "9"}, closed=True)
    o.way(1004, _rect(-40, 0, 10, 10), {"building": "house"}, closed=True)  # defaults: 2 levels
    o.way(1005, _rect(-60, 0, 10, 10), {"building": "yes", "height": "40'"}, closed=True)
    for i, shape in enumerate(SHAPES):
        o.way(1100 + i, _rect(100 + 30 * i, 0, 20, 10),
              {"building": "yes", "height": "12", "roof:height": "4", "roof:shape": shape}, closed=True)
    # Courtyard block: multipolygon with a hole.
    o.way(1200, _rect(0, 40, 30, 30), {}, closed=True)
    o.way(1201, _rect(10, 50, 10, 10), {}, closed=True)
    o.relation(2001, [(1200, "outer"), (1201, "inner")], {"type": "multipolygon", "building": "yes", "height": "10"})
    # Outline replaced by its part.
    o.way(1300, _rect(0, 100, 20, 20), {"building": "yes", "height": "8"}, closed=True)
    o.way(1301, _rect(0, 100, 10, 20), {"building:part": "yes", "height": "20"}, closed=True)
    # Street with sidewalks, a footway meeting it at a shared node, park, water, trees.
    a, b, c = o.node(-50, -30), o.node(50, -30), o.node(150, -30)
    o.way_refs(1400, [a, b, c], {"highway": "residential", "sidewalk": "both", "name": "Main"})
    d = o.node(50, -60)
    o.way_refs(1401, [d, b], {"highway": "footway"})
    o.way(1402, _rect(-100, 40, 30, 30), {"leisure": "park"}, closed=True)
    o.way(1403, _rect(-100, 100, 30, 30), {"natural": "water"}, closed=True)
    o.node(-90, 50, {"natural": "tree"})
    o.node(-80, 60, {"natural": "tree", "height": "12"})
    return o



def _osm_street_with_fronts():
    """A residential street with sidewalks and a row of buildings along each side of it."""
    o = _Osm()
    a, b = o.node(-80, 0), o.node(80, 0)
    o.way_refs(5000, [a, b], {"highway": "residential", "sidewalk": "both", "name": "Shop St"})
    x, wid = -70.0, 6000
    while x < 66:
        w = 8.0 + (wid % 3) * 2
        for y0, d in ((6.5, 12.0), (-6.5 - 12.0, 12.0)):
            o.way(wid, _rect(x, y0, w, d), {"building": "yes", "building:levels": str(3 + wid % 5)}, closed=True)
            wid += 1
        x += w
    return o



# ---------------------------------------------------------------------------- KMZ

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&lol9;</name></Document></kml>"""


def _lon_east_of(lat_deg: float, lon_deg: float, east_m: float) -> float:
    """Longitude `east_m` metres east along the parallel (WGS84 prime-vertical radius)."""
    lat = math.radians(lat_deg)
    n = WGS84_A_M / math.sqrt(1 - WGS84_E2 * math.sin(lat) ** 2)
    return lon_deg + math.degrees(east_m / (n * math.cos(lat)))


def _box_triangles(lo, hi):
    """12 triangles (corner indices into 8 corners) of an axis-aligned box, outward-facing."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]
    return corners, np.array(faces)


def _dae(lo, hi, up_axis: str, unit_m: float, texture: str | None, copyright: str) -> bytes:
    """A tiny COLLADA 1.4.1 document: one box, one material (colour or texture)."""
    corners, faces = _box_triangles(lo, hi)
    uvs = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    p = " ".join(f"{v} {k}" for tri in faces for k, v in enumerate(tri))
    if texture:
        image_lib = f'<library_images><image id="img"><init_from>{texture}</init_from></image></library_images>'
        params = (
            '<newparam sid="surf"><surface type="2D"><init_from>img</init_from></surface></newparam>'
            '<newparam sid="samp"><sampler2D><source>surf</source></sampler2D></newparam>'
        )
        diffuse = '<texture texture="samp" texcoord="UV"/>'
    else:
        image_lib, params, diffuse = "", "", "<color>0.2 0.4 0.6 1</color>"
    return f"""<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
 <asset><contributor><copyright>{copyright}</copyright></contributor>
  <unit name="u" meter="{unit_m}"/><up_axis>{up_axis}</up_axis></asset>
 {image_lib}
 <library_effects><effect id="fx"><profile_COMMON>{params}<technique sid="t"><lambert>
  <diffuse>{diffuse}</diffuse></lambert></technique></profile_COMMON></effect></library_effects>
 <library_materials><material id="mat"><instance_effect url="#fx"/></material></library_materials>
 <library_geometries><geometry id="box"><mesh>
  <source id="pos"><float_array id="pos-a" count="24">{" ".join(map(str, corners.ravel()))}</float_array>
   <technique_common><accessor source="#pos-a" count="8" stride="3">
    <param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>
   </accessor></technique_common></source>
  <source id="uv"><float_array id="uv-a" count="6">{" ".join(map(str, uvs.ravel()))}</float_array>
   <technique_common><accessor source="#uv-a" count="3" stride="2">
    <param name="S" type="float"/><param name="T" type="float"/></accessor></technique_common></source>
  <vertices id="verts"><input semantic="POSITION" source="#pos"/></vertices>
  <triangles material="m" count="12">
   <input semantic="VERTEX" source="#verts" offset="0"/>
   <input semantic="TEXCOORD" source="#uv" offset="1" set="0"/>
   <p>{p}</p></triangles>
 </mesh></geometry></library_geometries>
 <library_visual_scenes><visual_scene id="vs"><node id="n">
  <instance_geometry url="#box"><bind_material><technique_common>
   <instance_material symbol="m" target="#mat"><bind_vertex_input semantic="UV" input_semantic="TEXCOORD" input_set="0"/></instance_material>
  </technique_common></bind_material></instance_geometry>
 </node></visual_scene></library_visual_scenes>
 <scene><instance_visual_scene url="#vs"/></scene>
</COLLADA>""".encode()


def _placemark(href: str, lat: float, lon: float, heading: float, scale: float = 1.0) -> str:
    return f"""<Placemark><name>{href}</name><Model>
  <altitudeMode>relativeToGround</altitudeMode>
  <Location><longitude>{lon!r}</longitude><latitude>{lat!r}</latitude><altitude>0</altitude></Location>
  <Orientation><heading>{heading}</heading><tilt>0</tilt><roll>0</roll></Orientation>
  <Scale><x>{scale}</x><y>{scale}</y><z>{scale}</z></Scale>
  <Link><href>{href}</href></Link></Model></Placemark>"""


def _kml(*placemarks: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        + "".join(placemarks)
        + "</Document></kml>"
    ).encode()


def _png(rgb) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), rgb, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _write_kmz(path, entries: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def _good_kmz(tmp_path):
    """Model A (Z_UP, metres, coloured) at the origin; model B (Y_UP, centimetres, textured)
    100 m east with heading 90. Both are a 2 × 10 × 3 m box (x, y north, z up) in model space."""
    lon_b = _lon_east_of(ORIGIN[0], ORIGIN[1], 100.0)
    entries = {
        "doc.kml": _kml(
            _placemark("models/a.dae", ORIGIN[0], ORIGIN[1], 0.0),
            _placemark("models/b.dae", ORIGIN[0], lon_b, 90.0),
        ),
        "models/a.dae": _dae((0, 0, 0), (2, 10, 3), "Z_UP", 1.0, None, "Model A (c) Alice"),
        # Y_UP in cm: x 0..200, y (up) 0..300, z (towards viewer = south) -1000..0
        "models/b.dae": _dae((0, 0, -1000), (200, 300, 0), "Y_UP", 0.01, "tex/red.png", "Model B (c) Bob"),
        "models/tex/red.png": _png((230, 10, 10)),
    }
    return _write_kmz(tmp_path / "city.kmz", entries)



# ---------------------------------------------------------------------------- 3D Tiles
def _enu_to_ecef_columns(lat, lon, h) -> list[float]:
    """A tile transform (column-major 16 numbers) from local ENU at (lat, lon, h) to ECEF."""
    m = np.eye(4)
    m[:3, :3] = enu_rotation(lat, lon).T
    m[:3, 3] = geodetic_to_ecef(lat, lon, h)
    return m.T.ravel().tolist()


def _glb_box(extents_zup, center_zup, copyright: str | None = None) -> bytes:
    """A GLB box (glTF Y-up) that lands at `center_zup` with `extents_zup` in a Z-up tile frame."""
    import trimesh

    ex, ey, ez = extents_zup
    cx, cy, cz = center_zup
    box = trimesh.creation.box(extents=(ex, ez, ey))
    box.apply_translation((cx, cz, -cy))
    glb = trimesh.Scene(box).export(file_type="glb")
    if copyright is None:
        return glb
    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20 : 20 + json_len])
    doc["asset"]["copyright"] = copyright
    raw = json.dumps(doc).encode()
    raw += b" " * ((4 - len(raw) % 4) % 4)
    rest = glb[20 + json_len :]
    return (
        struct.pack("<4sII", b"glTF", 2, 20 + len(raw) + len(rest))
        + struct.pack("<II", len(raw), 0x4E4F534A)
        + raw
        + rest
    )


def _box_volume(cx, cy, cz, hx, hy, hz):
    return {"box": [cx, cy, cz, hx, 0, 0, 0, hy, 0, 0, 0, hz]}


def _write_tileset(folder, child_uri="children/c0.glb"):
    """Root: coarse b3dm slab (RTC_CENTER (5, 0, 1)), REPLACE; two children with finer glb
    boxes, the second one behind its own translation transform."""
    from citywalk.sources.tiles import write_b3dm

    (folder / "children").mkdir(parents=True, exist_ok=True)
    slab = _glb_box((200, 200, 2), (0, 0, 0))
    (folder / "root.b3dm").write_bytes(write_b3dm(slab, {"BATCH_LENGTH": 0, "RTC_CENTER": [5.0, 0.0, 1.0]}))
    (folder / "children" / "c0.glb").write_bytes(_glb_box((10, 10, 10), (-50, 0, 5)))
    (folder / "children" / "c1.glb").write_bytes(_glb_box((4, 4, 4), (0, 0, 5), "Tiles (c) Example Maps"))
    translate = np.eye(4)
    translate[:3, 3] = (50.0, 0.0, 0.0)
    tileset = {
        "asset": {"version": "1.1", "copyright": "Tileset (c) City"},
        "geometricError": 500,
        "root": {
            "transform": _enu_to_ecef_columns(LAT, LON, H),
            "boundingVolume": _box_volume(0, 0, 10, 100, 100, 10),
            "geometricError": 100,
            "refine": "REPLACE",
            "content": {"uri": "root.b3dm"},
            "children": [
                {"boundingVolume": _box_volume(-50, 0, 10, 50, 100, 10), "geometricError": 0,
                 "content": {"uri": child_uri}},
                {"transform": translate.T.ravel().tolist(),
                 "boundingVolume": _box_volume(0, 0, 10, 50, 100, 10), "geometricError": 0,
                 "content": {"uri": "children/c1.glb"}},
            ],
        },
    }
    path = folder / "tileset.json"
    path.write_text(json.dumps(tileset))
    return path



# ---------------------------------------------------------------------------- splats
def _synthetic_splat_street(path, rng):
    """A ground layer of flat splats and two walls of coloured splats, Y-up like many captures."""
    from citywalk.scene.gaussians import GaussianCloud
    from citywalk.sources.splats import write_ply

    n_ground, n_wall = 3000, 2000
    g = np.column_stack([rng.uniform(-20, 20, n_ground), rng.uniform(-4, 4, n_ground), np.zeros(n_ground)])
    w = np.column_stack([rng.uniform(-20, 20, n_wall), np.repeat([-4.0, 4.0], n_wall // 2), rng.uniform(0, 8, n_wall)])
    means_zup = np.vstack([g, w])
    means = means_zup[:, [0, 2, 1]] * [1, 1, -1]  # to Y-up
    n = len(means)
    scales = np.where(np.arange(n)[:, None] < n_ground, [0.4, 0.02, 0.4], [0.35, 0.35, 0.05]).astype(np.float32)
    rot = np.tile([1.0, 0, 0, 0], (n, 1))
    sh = np.zeros((n, 1, 3), np.float32)
    sh[:n_ground, 0] = -0.9
    sh[n_ground:, 0] = rng.uniform(-1.5, 1.5, (n_wall, 3))
    cloud = GaussianCloud(means.astype(np.float32), scales, rot.astype(np.float32), np.full(n, 0.9, np.float32), sh, 0)
    write_ply(path, cloud)


def make_cloud(n: int, degree: int, rng: np.random.Generator):
    """n random Gaussians of SH degree `degree` (positions ±20 m, log-uniform scales)."""
    from citywalk.scene.gaussians import GaussianCloud

    k = (degree + 1) ** 2
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return GaussianCloud(
        means=rng.uniform(-20, 20, (n, 3)), scales=np.exp(rng.uniform(-5, 0, (n, 3))),
        rotations=q, opacities=rng.uniform(0.05, 0.95, n),
        sh=rng.uniform(-0.9, 0.9, (n, k, 3)), sh_degree=degree)


def distinct_sh_cloud(degree: int):
    """Two Gaussians whose every SH value is distinct and encodes (splat, coeff, channel)."""
    from citywalk.scene.gaussians import GaussianCloud

    k = (degree + 1) ** 2
    sh = np.zeros((2, k, 3))
    for i in range(2):
        for j in range(k):
            for c in range(3):
                sh[i, j, c] = 0.001 * (100 * i + 3 * j + c) - 0.05
    return GaussianCloud(np.arange(6.0).reshape(2, 3), np.full((2, 3), 0.1),
                         np.tile([1.0, 0, 0, 0], (2, 1)), np.array([0.5, 0.25]), sh, degree)


def write_video(path, frames: np.ndarray, fps: int = 12, metadata: dict | None = None):
    """Encode (N, H, W, 3) uint8 frames to an H.264 MP4 with optional container tags."""
    import av

    with av.open(str(path), "w") as c:
        for k, v in (metadata or {}).items():
            c.metadata[k] = v
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


K = np.array([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])  # a 48x32 test camera's intrinsics


def look_at(eye, target):
    """OpenCV world→camera (R, t) looking from eye at target, world Z up."""
    f = np.asarray(target, float) - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, [0, 0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    R = np.stack([r, d, f])
    return R, -R @ eye


def gl_context_or_skip(need_compute: bool = False):
    """A standalone EGL context parked on a live 1x1 framebuffer (moderngl re-binds its last-used
    framebuffer when making another, so a released target is never named); the calling test is
    skipped where there is no OpenGL, or no compute shaders when need_compute."""
    import moderngl
    import pytest

    try:
        context = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # no EGL/GL on this machine
        pytest.skip(f"no OpenGL context: {exc}")
    if need_compute:
        from citywalk.render.splat_sort_gl import compute_supported

        if not compute_supported(context):
            pytest.skip("no OpenGL 4.3 compute shaders")
    context.parking = context.simple_framebuffer((1, 1))
    context.parking.use()
    return context
