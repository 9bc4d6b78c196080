"""KMZ → Scene: COLLADA models placed by KML location/heading/scale in ENU metres, with
COLLADA units and up axis respected; hostile archives and XML are refused."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.sources.geo import WGS84_A_M, WGS84_E2

pytest.importorskip("collada")
from PIL import Image  # noqa: E402

from citywalk.sources.kmz import load_kmz  # noqa: E402

ORIGIN = (35.6800, 139.7600)

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


def _extent(meshes):
    pos = np.concatenate([m.positions for m in meshes])
    return pos.min(axis=0), pos.max(axis=0)


def test_kmz_models_placed_and_oriented_in_metres(tmp_path):
    scene = load_kmz(_good_kmz(tmp_path))
    assert scene.origin_latlon == pytest.approx(ORIGIN)
    assert len(scene.meshes) == 2 and scene.triangle_count == 24
    a, b = scene.meshes
    lo, hi = _extent([a])
    np.testing.assert_allclose(lo, [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(hi, [2, 10, 3], atol=0.01)
    # heading 90: the model's north (10 m long) axis now points east; its x axis points south.
    lo, hi = _extent([b])
    np.testing.assert_allclose(lo, [100, -2, 0], atol=0.5)
    np.testing.assert_allclose(hi, [110, 0, 3], atol=0.5)
    assert hi[0] - lo[0] == pytest.approx(10.0, abs=0.01) and hi[1] - lo[1] == pytest.approx(2.0, abs=0.01)
    assert a.material.albedo == pytest.approx((0.2, 0.4, 0.6))
    texture = scene.textures[b.material.texture]
    assert texture.shape == (4, 4, 4) and tuple(texture[0, 0, :3]) == (230, 10, 10)
    assert scene.copyright == ["Model A (c) Alice", "Model B (c) Bob"]
    # the top face of each box (triangles with all corners at z = 3) has normals pointing up,
    # and the winding agrees with the normals (outward faces stay outward after placement)
    for mesh in scene.meshes:
        tri = mesh.positions[mesh.indices]
        top = np.all(tri[:, :, 2] > 2.99, axis=1)
        assert top.sum() == 2
        assert np.allclose(mesh.normals[mesh.indices[top]], [0, 0, 1], atol=1e-4)
        winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        assert np.all(np.einsum("ij,ij->i", winding, mesh.normals[mesh.indices[:, 0]]) > 0)


def test_kmz_given_origin_and_scale(tmp_path):
    lon_b = _lon_east_of(ORIGIN[0], ORIGIN[1], 100.0)
    path = _write_kmz(
        tmp_path / "scaled.kmz",
        {
            "doc.kml": _kml(_placemark("a.dae", ORIGIN[0], ORIGIN[1], 0.0, scale=2.0)),
            "a.dae": _dae((0, 0, 0), (2, 10, 3), "Z_UP", 1.0, None, ""),
        },
    )
    scene = load_kmz(path, origin_latlon=(ORIGIN[0], lon_b))
    lo, hi = _extent(scene.meshes)
    np.testing.assert_allclose(lo, [-100, 0, 0], atol=0.5)
    np.testing.assert_allclose(hi - lo, [4, 20, 6], atol=0.01)


def test_kmz_zip_slip_entry_refused(tmp_path):
    path = _write_kmz(
        tmp_path / "slip.kmz",
        {"doc.kml": _kml(_placemark("a.dae", *ORIGIN, 0.0)), "../../evil.dae": b"<COLLADA/>"},
    )
    with pytest.raises(SceneError, match=r"\.\./\.\./evil\.dae"):
        load_kmz(path)


def test_kmz_href_climbing_out_refused(tmp_path):
    path = _write_kmz(tmp_path / "href.kmz", {"doc.kml": _kml(_placemark("../../evil.dae", *ORIGIN, 0.0))})
    with pytest.raises(SceneError, match="outside the archive"):
        load_kmz(path)


def test_kmz_billion_laughs_refused(tmp_path):
    path = _write_kmz(tmp_path / "lol.kmz", {"doc.kml": BILLION_LAUGHS})
    with pytest.raises(SceneError, match="DOCTYPE"):
        load_kmz(path)
    dae_bomb = BILLION_LAUGHS.replace(b"<kml", b"<COLLADA").replace(b"</kml>", b"</COLLADA>")
    path = _write_kmz(
        tmp_path / "lol_dae.kmz", {"doc.kml": _kml(_placemark("a.dae", *ORIGIN, 0.0)), "a.dae": dae_bomb}
    )
    with pytest.raises(SceneError, match="DOCTYPE"):
        load_kmz(path)


def test_kmz_bad_inputs_named(tmp_path):
    path = _write_kmz(tmp_path / "missing.kmz", {"doc.kml": _kml(_placemark("nope.dae", *ORIGIN, 0.0))})
    with pytest.raises(SceneError, match="nope.dae"):
        load_kmz(path)
    path = _write_kmz(tmp_path / "empty.kmz", {"doc.kml": _kml()})
    with pytest.raises(SceneError, match="no <Model>"):
        load_kmz(path)
    path = _write_kmz(tmp_path / "badlat.kmz", {"doc.kml": _kml(_placemark("a.dae", 123.0, 0.0, 0.0))})
    with pytest.raises(SceneError, match="latitude"):
        load_kmz(path)
    (tmp_path / "notzip.kmz").write_bytes(b"hello")
    with pytest.raises(SceneError, match="zip"):
        load_kmz(tmp_path / "notzip.kmz")
