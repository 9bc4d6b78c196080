"""OSM extracts -> Scene: buildings and roofs, courtyards, parts, streets and walk network,
PBF/XML equivalence, and hostile XML."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.scene import FACADE, FOLIAGE, ROAD
from citywalk.sources import buildings as bld
from citywalk.sources import osm

from builders import ORIGIN, RECT, SHAPES, _city, _Osm


@pytest.fixture(scope="module")
def city_xml(tmp_path_factory):
    o = _city()
    path = tmp_path_factory.mktemp("osm") / "city.osm"
    path.write_text(o.xml())
    return path


@pytest.fixture(scope="module")
def scene(city_xml):
    return osm.load_osm(city_xml, style="paris", backend="xml")


def _verts(scene, kind=None, name_part=None):
    ms = [m for m in scene.meshes if (kind is None or m.material.kind == kind)
          and (name_part is None or name_part in m.material.name)]
    return np.concatenate([m.positions for m in ms]) if ms else np.zeros((0, 3))


def _in_box(p, x0, x1, y0, y1, eps=0.05):
    m = (p[:, 0] > x0 - eps) & (p[:, 0] < x1 + eps) & (p[:, 1] > y0 - eps) & (p[:, 1] < y1 + eps)
    return p[m]


def _covered(mesh, pt) -> bool:
    """Is the 2D point under any triangle of the mesh?"""
    tri = mesh.positions[mesh.indices][:, :, :2].astype(np.float64)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]

    def cross(u, v, p):
        return (v[:, 0] - u[:, 0]) * (p[1] - u[:, 1]) - (v[:, 1] - u[:, 1]) * (p[0] - u[:, 0])

    d1, d2, d3 = cross(a, b, pt), cross(b, c, pt), cross(c, a, pt)
    inside = ((d1 >= 0) & (d2 >= 0) & (d3 >= 0)) | ((d1 <= 0) & (d2 <= 0) & (d3 <= 0))
    return bool(inside.any())


# ---------------------------------------------------------------- tags and heights


def test_parse_lengths_and_levels():
    assert bld.parse_length_m("12") == 12.0
    assert bld.parse_length_m("12 m") == 12.0
    assert bld.parse_length_m("12,5") == 12.5
    assert abs(bld.parse_length_m("40'") - 12.192) < 1e-9
    assert abs(bld.parse_length_m("40'6\"") - (40 * 0.3048 + 6 * 0.0254)) < 1e-9
    assert abs(bld.parse_length_m("10 ft") - 3.048) < 1e-9
    assert bld.parse_length_m("tall") is None and bld.parse_length_m("-3") is None
    assert bld.parse_number("3;4") == 3.0
    assert bld.parse_bearing_deg("SW") == 225.0 and bld.parse_bearing_deg("90") == 90.0


def test_heights_from_height_levels_and_min_height(scene):
    walls = _verts(scene, kind=FACADE)
    b1 = _in_box(walls, 0, 20, 0, 10)
    assert abs(b1[:, 2].max() - 12.0) < 0.01 and abs(b1[:, 2].min()) < 0.01
    b2 = _in_box(walls, 40, 50, 0, 10)
    assert abs(b2[:, 2].max() - 4 * bld.LEVEL_HEIGHT_M) < 0.01
    b3 = _in_box(walls, 60, 70, 0, 10)
    assert abs(b3[:, 2].min() - 3.0) < 0.01 and abs(b3[:, 2].max() - 9.0) < 0.01
    b4 = _in_box(walls, -40, -30, 0, 10)
    assert abs(b4[:, 2].max() - bld.DEFAULT_LEVELS * bld.LEVEL_HEIGHT_M) < 0.01
    b5 = _in_box(walls, -60, -50, 0, 10)
    assert abs(b5[:, 2].max() - 12.192) < 0.01
    # The lifted part gets an underside facing down.
    roofs = [m for m in scene.meshes if m.material.name.startswith("osm_roof")][0]
    under = roofs.normals[:, 2] < -0.99
    assert under.any() and np.allclose(roofs.positions[under][:, 2], 3.0, atol=0.01)


def test_facade_uvs_count_bays_and_floors(scene):
    mesh = [m for m in scene.meshes if m.material.kind == FACADE]
    pos = np.concatenate([m.positions for m in mesh])
    uv = np.concatenate([m.uvs for m in mesh])
    # South wall of building 1001: y == 0, x in [0, 20]: 20 m / 2.8 m bays -> 7 bays, 12 m / 3 m -> 4 floors.
    sel = (np.abs(pos[:, 1]) < 0.05) & (pos[:, 0] > -0.05) & (pos[:, 0] < 20.05) & (pos[:, 2] > -0.01)
    assert abs(uv[sel, 0].max() - round(20 / osm.bay_width_for("paris"))) < 1e-3
    assert abs(uv[sel, 1].max() - 4.0) < 1e-3
    np.testing.assert_allclose(uv[sel, 1], pos[sel, 2] / 3.0, atol=1e-4)


def test_wall_normals_and_winding_face_out():
    for holes in ([], [np.array([[5, 3], [15, 3], [15, 7], [5, 7]], float)]):
        s = bld.BuildingShape(outer_m=RECT[::-1].copy(), holes_m=tuple(holes), eave_height_m=6.0)
        walls, roof = bld.extrude_building(s, 3.0)
        tri = walls.positions[walls.indices].astype(np.float64)
        geo_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        stored_n = walls.normals[walls.indices[:, 0]]
        assert (np.sum(geo_n * stored_n, axis=1) > 0).all()  # winding agrees with the normal
        centre = tri.mean(axis=1)[:, :2]
        radial = centre - (10.0, 5.0)
        in_hole = (np.abs(radial[:, 0]) < 5.01) & (np.abs(radial[:, 1]) < 2.01)
        outward = np.sum(radial * stored_n[:, :2], axis=1)
        assert (outward[~in_hole] > 0).all() and (outward[in_hole] < 0).all()  # courtyard walls face the hole
        assert len(holes) == 0 or in_hole.sum() == 8


def test_courtyard_has_walls_but_no_roof(scene):
    roof = [m for m in scene.meshes if m.material.name.startswith("osm_roof")][0]
    assert _covered(roof, (5.0, 45.0))
    assert not _covered(roof, (15.0, 55.0))  # inside the hole
    walls = _verts(scene, kind=FACADE)
    west_inner = walls[(np.abs(walls[:, 0] - 10.0) < 0.05) & (walls[:, 1] > 49.9) & (walls[:, 1] < 60.1)]
    assert len(west_inner) >= 4 and abs(west_inner[:, 2].max() - 10.0) < 0.01


def test_building_part_replaces_outline(scene):
    walls = _verts(scene, kind=FACADE)
    area = _in_box(walls, 0, 20, 100, 120)
    assert abs(area[:, 2].max() - 20.0) < 0.01  # the part's height
    east_outline_wall = area[np.abs(area[:, 0] - 20.0) < 0.05]
    assert len(east_outline_wall) == 0
    assert any("replaced by their building:part" in n for n in scene.stats["notes"])


# ---------------------------------------------------------------- roofs


def _roof(shape, **extra):
    tags = {"height": "12", "roof:height": "4", "roof:shape": shape, **extra}
    s = bld.building_shape_from_tags(tags, RECT)
    walls, roof = bld.extrude_building(s, 3.0)
    return s, walls, roof


@pytest.mark.parametrize("shape", SHAPES)
def test_roof_top_and_eave_heights(shape):
    s, walls, roof = _roof(shape)
    z = roof.positions[:, 2]
    assert abs(z.max() - 12.0) < 0.01
    expected_eave = 12.0 if shape == "flat" else 8.0
    assert abs(z.min() - expected_eave) < 0.01
    wall_top = 12.0 if shape in ("flat", "gabled", "skillion") else 8.0  # gable ends / high skillion side
    assert abs(walls.positions[:, 2].max() - wall_top) < 0.01
    # Every roof triangle faces up and the roof covers the footprint exactly once (area 200 m2).
    tri = roof.positions[roof.indices].astype(np.float64)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (n[:, 2] > -1e-6).all()
    if shape != "dome":
        assert abs(0.5 * n[:, 2].sum() - 200.0) < 0.01


def _top_points(roof):
    z = roof.positions[:, 2]
    return np.unique(roof.positions[np.abs(z - z.max()) < 1e-3][:, :2].round(2), axis=0)


def test_roof_shapes_differ_as_expected():
    flat = _roof("flat")[2]
    assert np.ptp(flat.positions[:, 2]) < 1e-4
    gabled = _top_points(_roof("gabled")[2])  # ridge along the long side, y = 5
    assert np.allclose(gabled[:, 1], 5.0, atol=0.01) and np.ptp(gabled[:, 0]) > 19.9
    hipped = _top_points(_roof("hipped")[2])  # shorter ridge: 20 - 10 m
    assert np.allclose(hipped[:, 1], 5.0, atol=0.01) and abs(np.ptp(hipped[:, 0]) - 10.0) < 0.01
    pyramid = _top_points(_roof("pyramidal")[2])
    assert len(pyramid) == 1 and np.allclose(pyramid[0], (10.0, 5.0), atol=0.01)
    skillion = _top_points(_roof("skillion", **{"roof:direction": "N"})[2])  # faces north: high side south
    assert np.allclose(skillion[:, 1], 0.0, atol=0.01) and np.ptp(skillion[:, 0]) > 19.9
    mansard = _top_points(_roof("mansard")[2])
    assert np.ptp(mansard[:, 0]) > 5 and np.ptp(mansard[:, 1]) > 2  # a flat plateau, not a line
    dome = _roof("dome")[2]
    assert len(np.unique(dome.positions[:, 2].round(2))) > 5
    assert np.allclose(_top_points(dome), (10.0, 5.0), atol=0.01)
    # Gable walls reach the ridge; hipped walls stop at the eave.
    assert abs(_roof("gabled")[1].positions[:, 2].max() - 12.0) < 0.01
    assert abs(_roof("hipped")[1].positions[:, 2].max() - 8.0) < 0.01


def test_unknown_roof_shape_is_flat_with_note():
    notes = []
    s = bld.building_shape_from_tags({"height": "10", "roof:shape": "onion"}, RECT, notes=notes, label="way/1")
    assert s.roof_shape == "flat" and s.top_height_m == 10.0
    assert notes and "onion" in notes[0] and "way/1" in notes[0]


def test_scene_roofs_reach_height(scene):
    roofs = _verts(scene, name_part="osm_roof")
    for i, shape in enumerate(SHAPES):
        r = _in_box(roofs, 100 + 30 * i, 120 + 30 * i, 0, 10)
        assert abs(r[:, 2].max() - 12.0) < 0.01, shape
        assert abs(r[:, 2].min() - (12.0 if shape == "flat" else 8.0)) < 0.01, shape


# ---------------------------------------------------------------- streets and network


def test_offset_polyline_mitres_corners():
    pts = np.array([[0, 0], [10, 0], [10, 10]], float)
    off = osm.offset_polyline(pts, 1.0)  # left of travel: inside the corner
    np.testing.assert_allclose(off, [[0, 1], [9, 1], [9, 10]], atol=1e-9)
    off = osm.offset_polyline(pts, -1.0)
    np.testing.assert_allclose(off, [[0, -1], [11, -1], [11, 10]], atol=1e-9)


def test_street_meshes_and_walk_network(scene):
    main = [s for s in scene.streets if s.name == "Main"]
    assert len(main) == 1 and main[0].road_width_m == 6.0 and main[0].sidewalk_width_m == 2.0
    road = [m for m in scene.meshes if m.material.kind == ROAD][0]
    assert np.all(road.positions[:, 2] == 0.0)
    tri = road.positions[road.indices].astype(np.float64)
    assert (np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 0).all()  # faces up
    assert abs(road.positions[:, 1].max() - (-27.0)) < 0.02 and abs(road.positions[:, 1].min() - (-33.0)) < 0.02
    kerb = [m for m in scene.meshes if m.material.name == "osm_sidewalk"][0]
    vertical = np.abs(kerb.normals[:, 2]) < 0.1
    assert vertical.any()
    north = vertical & (kerb.positions[:, 1] > -30)  # kerbs face the carriageway
    south = vertical & (kerb.positions[:, 1] < -30)
    assert (kerb.normals[north, 1] < -0.99).all() and (kerb.normals[south, 1] > 0.99).all()
    net = scene.network
    kinds = np.array(net.edge_kinds)
    side = net.edges[kinds == "sidewalk"]
    ys = net.nodes[np.unique(side.ravel()), 1]
    street_side = ys[ys > -40]  # exclude the footway's far end at y = -60
    # Offset to the sidewalk centres (3 + 1 m from the centre line), none on the centre line itself...
    assert np.any(np.abs(street_side + 26.0) < 0.02) and np.any(np.abs(street_side + 34.0) < 0.02)
    main_edges = [i for i, s in enumerate(net.edge_streets) if s == "Main"]
    main_nodes = net.nodes[np.unique(net.edges[main_edges].ravel())]
    assert np.all(np.abs(np.abs(main_nodes[:, 1] + 30.0) - 4.0) < 0.02)
    assert np.allclose(main_nodes[:, 2], osm.SIDEWALK_HEIGHT_M)
    # ...and the footway joins both sidewalks through crossings at the shared node.
    assert (kinds == "crossing").sum() >= 3
    adj = net.neighbours()
    seen, todo = {0}, [0]
    while todo:
        for j in adj[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    assert len(seen) == len(net.nodes)  # one connected network


def test_sidewalks_stop_at_crossing_roads(tmp_path):
    o = _Osm()
    c = o.node(0, 0)
    w, e, s, n = o.node(-50, 0), o.node(50, 0), o.node(0, -50), o.node(0, 50)
    o.way_refs(1, [w, c, e], {"highway": "secondary", "sidewalk": "both", "width": "8"})
    o.way_refs(2, [s, c, n], {"highway": "residential", "sidewalk": "both"})
    o.way(3, [(60, -50), (60, 50)], {"highway": "primary", "tunnel": "yes"})
    path = tmp_path / "cross.osm"
    path.write_text(o.xml())
    sc = osm.load_osm(path, backend="xml")
    assert len(sc.streets) == 2  # the tunnel is not drawn
    walk = [m for m in sc.meshes if m.material.name == "osm_sidewalk"][0].positions
    top = walk[np.abs(walk[:, 2] - osm.SIDEWALK_HEIGHT_M) < 1e-4]
    assert len(top) and not np.any((np.abs(top[:, 0]) < 2.99) & (np.abs(top[:, 1]) < 3.99 + 2.0))
    assert not np.any((np.abs(top[:, 1]) < 3.99) & (np.abs(top[:, 0]) < 2.99 + 2.0))
    # Sidewalk corners reach the kerb of the other road: x = +-(3 + 2) on way 1's sidewalks.
    assert np.any(np.abs(np.abs(top[:, 0]) - 5.0) < 0.02)
    kinds = np.array(sc.network.edge_kinds)
    assert (kinds == "crossing").sum() >= 4


def test_canopy_roof_is_a_slab():
    s = bld.building_shape_from_tags({"building": "roof", "height": "5"}, RECT)
    assert abs(s.min_height_m - 4.0) < 1e-9 and s.top_height_m == 5.0


def test_areas_trees_style_and_bounds(scene):
    names = {m.material.name for m in scene.meshes}
    assert {"osm_grass", "osm_water", "osm_tree_trunk", "osm_tree_crown", "osm_sidewalk", "osm_paving"} <= names
    crown = [m for m in scene.meshes if m.material.kind == FOLIAGE][0]
    assert abs(crown.positions[:, 2].max() - 12.0) < 0.4  # the tagged 12 m tree (leaf cards stick out a little)
    assert scene.stats["trees"] == 2
    assert scene.style == "paris"
    facades = [m for m in scene.meshes if m.material.kind == FACADE]
    assert facades and all("paris" in m.material.name for m in facades)
    assert len(scene.meshes) <= 16  # grouped by material, not per building
    (x0, y0, z0), (x1, y1, z1) = scene.bounds_m
    assert x0 < -100 and x1 > 300 and abs(z1 - 20.0) < 0.01
    assert scene.origin_latlon == pytest.approx(ORIGIN, abs=1e-9)
    assert scene.copyright and "OpenStreetMap" in scene.copyright[0]


# ---------------------------------------------------------------- readers, writers, PBF


def _scene_signature(scene):
    return [(m.material.name, m.positions.round(3).tobytes(), m.indices.tobytes()) for m in scene.meshes]


def test_pbf_and_osmium_xml_give_the_same_scene(city_xml, scene, tmp_path):
    pytest.importorskip("osmium")
    data = osm.read_osm(city_xml, backend="xml")
    pbf = tmp_path / "city.osm.pbf"
    osm.write_osm(pbf, data)
    from_pbf = osm.load_osm(pbf, style="paris")
    from_osmium_xml = osm.load_osm(city_xml, style="paris", backend="osmium")
    assert _scene_signature(from_pbf) == _scene_signature(scene)
    assert _scene_signature(from_osmium_xml) == _scene_signature(scene)
    np.testing.assert_array_equal(from_pbf.network.edges, scene.network.edges)
    assert from_pbf.origin_latlon == pytest.approx(scene.origin_latlon, abs=1e-9)


def test_xml_writer_round_trip(city_xml, tmp_path):
    data = osm.read_osm(city_xml, backend="xml")
    out = tmp_path / "again.osm"
    osm.write_osm(out, data)
    again = osm.read_osm(out, backend="xml")
    np.testing.assert_array_equal(again.node_ids, data.node_ids)
    np.testing.assert_allclose(again.node_lonlat, data.node_lonlat, atol=1e-7)
    assert again.node_tags == data.node_tags and again.relations == data.relations
    assert {k: (v[0].tolist(), v[1]) for k, v in again.ways.items()} == {
        k: (v[0].tolist(), v[1]) for k, v in data.ways.items()
    }


def test_same_seed_same_scene(city_xml, scene):
    assert _scene_signature(osm.load_osm(city_xml, style="paris", backend="xml")) == _scene_signature(scene)


# ---------------------------------------------------------------- hostile and bad input

BOMB = """<!DOCTYPE osm [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>"""


def _hostile(tmp_path, prologue, pad=False, body='<node id="1" lat="0" lon="0"><tag k="name" v="&d;"/></node>'):
    padding = "<!--" + "x" * 70_000 + "-->" if pad else ""  # hides the DTD from the quick pre-scan
    path = tmp_path / "bad.osm"
    path.write_text(f'<?xml version="1.0"?>{padding}\n{prologue}\n<osm version="0.6">{body}</osm>\n')
    return path


@pytest.mark.parametrize("backend", ["xml", "osmium", "auto"])
@pytest.mark.parametrize("pad", [False, True])
def test_billion_laughs_rejected(tmp_path, backend, pad):
    if backend == "osmium":
        pytest.importorskip("osmium")
    path = _hostile(tmp_path, BOMB, pad=pad)
    with pytest.raises(SceneError, match=r"(?i)entit|DTD") as err:
        osm.load_osm(path, backend=backend)
    assert "bad.osm" in str(err.value)


@pytest.mark.parametrize("backend", ["xml", "osmium"])
def test_external_entity_rejected(tmp_path, backend):
    if backend == "osmium":
        pytest.importorskip("osmium")
    xxe = '<!DOCTYPE osm [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    path = _hostile(tmp_path, xxe, pad=True, body='<node id="1" lat="0" lon="0"><tag k="n" v="&x;"/></node>')
    with pytest.raises(SceneError, match=r"(?i)entit|DTD"):
        osm.load_osm(path, backend=backend)


@pytest.mark.parametrize("backend", ["xml", "osmium"])
def test_truncated_xml_names_file_and_line(tmp_path, backend):
    if backend == "osmium":
        pytest.importorskip("osmium")
    path = tmp_path / "cut.osm"
    path.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6">\n <node id="1" lat="0" lon="0"/>\n <node id="2" lat="0.001"'
    )
    with pytest.raises(SceneError, match=r"cut\.osm.*line 4"):
        osm.load_osm(path, backend=backend)


def test_limits_and_bad_names(city_xml, tmp_path):
    with pytest.raises(SceneError, match="max_buildings"):
        osm.load_osm(city_xml, max_buildings=3, backend="xml")
    with pytest.raises(SceneError, match="more than 5 nodes"):
        osm.load_osm(city_xml, backend="xml", limits=osm.OsmLimits(max_nodes=5))
    with pytest.raises(SceneError, match="max_xml_bytes"):
        osm.load_osm(city_xml, backend="xml", limits=osm.OsmLimits(max_xml_bytes=1000))
    with pytest.raises(SceneError, match="over the"):
        osm.load_osm(city_xml, backend="xml", limits=osm.OsmLimits(max_file_bytes=100))
    with pytest.raises(SceneError, match=r"unknown OpenStreetMap file type.*\.osm\.pbf"):
        osm.load_osm(tmp_path / "city.geojson")
    with pytest.raises(SceneError, match="no such"):
        osm.load_osm(tmp_path / "missing.osm")
    bad = tmp_path / "bad_attr.osm"
    bad.write_text('<osm><node id="x" lat="0" lon="0"/></osm>')
    with pytest.raises(SceneError, match="line 1"):
        osm.load_osm(bad, backend="xml")


def test_missing_extras_name_the_fix(city_xml, tmp_path, monkeypatch):
    from citywalk.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "osmium", None)  # import osmium -> ImportError
    with pytest.raises(MissingExtra, match=r"citywalk\[osm\]"):
        osm.read_osm(city_xml, backend="osmium")
    data = osm.read_osm(city_xml)  # auto reads XML with the stdlib reader
    assert len(data.ways) > 10
    monkeypatch.setitem(sys.modules, "mapbox_earcut", None)
    with pytest.raises(MissingExtra, match="mapbox_earcut"):
        bld.triangulate(RECT)


def test_roads_without_sidewalks_walk_at_the_edge(tmp_path):
    o = _Osm()
    o.way(1, [(0, 0), (100, 0)], {"highway": "residential", "width": "5"})
    o.way(2, [(0, 20), (100, 20)], {"highway": "motorway"})
    path = tmp_path / "edge.osm"
    path.write_text(o.xml())
    sc = osm.load_osm(path, backend="xml")
    assert set(sc.network.edge_kinds) <= {"street_edge", "crossing"}
    ys = sorted(set(np.round(sc.network.nodes[:, 1], 2).tolist()))
    assert ys == [-(2.5 - osm.STREET_EDGE_INSET_M), 2.5 - osm.STREET_EDGE_INSET_M]  # nothing on the motorway
    assert sc.style == "" and [s.sidewalk_width_m for s in sc.streets] == [0.0, 0.0]


def test_gzipped_xml_reads_the_same(city_xml, scene, tmp_path):
    import gzip

    gz = tmp_path / "city.osm.gz"
    gz.write_bytes(gzip.compress(city_xml.read_bytes()))
    assert _scene_signature(osm.load_osm(gz, style="paris", backend="xml")) == _scene_signature(scene)


def test_flat_batch_matches_one_by_one():
    rng = np.random.default_rng(5)
    shapes = []
    for i in range(30):
        x, y = rng.uniform(0, 300, 2)
        w, d = rng.uniform(5, 30, 2)
        tags = {"height": f"{rng.uniform(5, 30):.1f}", "building:levels": str(int(rng.integers(2, 8)))}
        if i % 5 == 0:
            tags["min_height"] = "2"
        shapes.append(bld.building_shape_from_tags(tags, np.array([[x, y], [x + w, y], [x + w, y + d], [x, y + d]])))
    shapes.append(bld.BuildingShape(outer_m=RECT * 3, holes_m=(RECT + 10,), eave_height_m=9.0))
    walls, roofs = bld.extrude_flat_buildings(shapes, 2.5)
    one = [bld.extrude_building(s, 2.5) for s in shapes]
    for batch, single in (
        (walls, bld.MeshParts.concat([w for w, _ in one])),
        (roofs, bld.MeshParts.concat([r for _, r in one])),
    ):
        np.testing.assert_array_equal(batch.positions, single.positions)
        np.testing.assert_array_equal(batch.normals, single.normals)
        np.testing.assert_allclose(batch.uvs, single.uvs, atol=1e-6)
        key = lambda m: sorted(t.tobytes() for t in m.positions[m.indices])  # noqa: E731
        assert key(batch) == key(single)
    with pytest.raises(ValueError, match="flat"):
        bld.extrude_flat_buildings([_roof("gabled")[0]])


def test_every_triangle_winds_with_its_normals(scene):
    for m in scene.meshes:
        if m.material.kind == FOLIAGE:  # two-sided leaf cards, normals bent out from the crown
            continue
        tri = m.positions[m.indices].astype(np.float64)
        geo_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        area2 = np.linalg.norm(geo_n, axis=1)
        stored = m.normals[m.indices].astype(np.float64).sum(axis=1)
        ok = np.sum(geo_n * stored, axis=1) > 0
        assert (ok | (area2 < 1e-6)).all(), m.material.name
        np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-4, err_msg=m.material.name)
