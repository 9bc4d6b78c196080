"""3D Tiles → Scene: a two-level tileset placed with a real ECEF transform; LOD selection
follows camera distance; b3dm RTC_CENTER, transform chains and copyright are honoured;
hostile tilesets and malformed b3dm are refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from citywalk.errors import SceneError

from builders import _box_volume, _enu_to_ecef_columns, _glb_box, _write_tileset

trimesh = pytest.importorskip("trimesh")

from citywalk.sources.tiles import (  # noqa: E402
    load_tiles,
    parse_b3dm,
    read_tileset,
    select_tiles,
    write_b3dm,
)

LAT, LON, H = 48.8584, 2.2945, 35.0
FAR = [((0.0, 0.0, 20_000.0), 60.0, 720)]
NEAR = [((0.0, 0.0, 60.0), 60.0, 720)]


def _extent(mesh):
    return mesh.positions.min(axis=0), mesh.positions.max(axis=0)


def test_lod_selection_follows_camera_distance(tmp_path):
    tileset = read_tileset(_write_tileset(tmp_path))
    assert tileset.georeferenced and tileset.tile_count == 3
    assert tileset.origin_latlon == pytest.approx((LAT, LON), abs=1e-7)
    assert [t.id for t in select_tiles(tileset, FAR)] == ["root"]
    assert [t.id for t in select_tiles(tileset, NEAR)] == ["root/0", "root/1"]
    # Union over a path that starts far and ends near: REPLACE root is covered by its children.
    assert [t.id for t in select_tiles(tileset, FAR + NEAR)] == ["root/0", "root/1"]
    # No cameras: the coarsest level.
    assert [t.id for t in select_tiles(tileset, None)] == ["root"]
    # A stricter error budget refines from further away (SSE ∝ 1 / distance).
    mid = [((0.0, 0.0, 3_000.0), 60.0, 720)]
    assert [t.id for t in select_tiles(tileset, mid, max_sse_px=16)] == ["root/0", "root/1"]
    assert [t.id for t in select_tiles(tileset, mid, max_sse_px=40)] == ["root"]


def test_far_camera_loads_coarse_b3dm_with_rtc_center(tmp_path):
    scene = load_tiles(_write_tileset(tmp_path), cameras=FAR)
    assert scene.stats["tiles_selected"] == ["root"]
    assert len(scene.meshes) == 1
    lo, hi = _extent(scene.meshes[0])
    # slab centre at tile-local (5, 0, 1) → world (5, 0, H + 1): ellipsoid height 0 at the origin
    np.testing.assert_allclose((lo + hi) / 2, [5.0, 0.0, H + 1.0], atol=0.01)
    np.testing.assert_allclose(hi - lo, [200.0, 200.0, 2.0], atol=0.01)
    assert scene.copyright == ["Tileset (c) City"]


def test_near_camera_loads_children_placed_in_enu(tmp_path):
    scene = load_tiles(_write_tileset(tmp_path), cameras=NEAR)
    assert scene.stats["tiles_selected"] == ["root/0", "root/1"]
    (lo0, hi0), (lo1, hi1) = (_extent(m) for m in scene.meshes)
    np.testing.assert_allclose((lo0 + hi0) / 2, [-50.0, 0.0, H + 5.0], atol=0.01)
    np.testing.assert_allclose(hi0 - lo0, [10.0, 10.0, 10.0], atol=0.01)
    # second child: its own transform moves it 50 m east of the root frame
    np.testing.assert_allclose((lo1 + hi1) / 2, [50.0, 0.0, H + 5.0], atol=0.01)
    np.testing.assert_allclose(hi1 - lo1, [4.0, 4.0, 4.0], atol=0.01)
    assert scene.copyright == ["Tileset (c) City", "Tiles (c) Example Maps"]
    assert scene.origin_latlon == pytest.approx((LAT, LON), abs=1e-7)
    assert scene.bounds_m[0][0] == pytest.approx(-55.0, abs=0.01)


def test_external_tileset_is_a_subtree(tmp_path):
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "box.glb").write_bytes(_glb_box((2, 2, 2), (0, 0, 1)))
    (tmp_path / "ext" / "tileset.json").write_text(json.dumps({
        "asset": {"version": "1.0", "copyright": "External (c) Someone"},
        "geometricError": 10,
        "root": {"boundingVolume": _box_volume(0, 0, 1, 1, 1, 1), "geometricError": 0, "refine": "ADD",
                 "content": {"uri": "box.glb"}},
    }))
    (tmp_path / "tileset.json").write_text(json.dumps({
        "asset": {"version": "1.0"},
        "geometricError": 10,
        "root": {"transform": _enu_to_ecef_columns(LAT, LON, H), "boundingVolume": _box_volume(0, 0, 1, 1, 1, 1),
                 "geometricError": 10, "refine": "REPLACE", "content": {"uri": "ext/tileset.json"}},
    }))
    scene = load_tiles(tmp_path / "tileset.json", cameras=NEAR, origin_latlon=(LAT, LON))
    assert scene.stats["tiles_selected"] == ["root/ext"]
    lo, hi = _extent(scene.meshes[0])
    np.testing.assert_allclose((lo + hi) / 2, [0.0, 0.0, H + 1.0], atol=0.01)
    assert scene.copyright == ["External (c) Someone"]


def test_region_and_sphere_volumes(tmp_path):
    lat, lon = np.radians(LAT), np.radians(LON)
    d = 1e-5  # about 64 m of latitude
    (tmp_path / "box.glb").write_bytes(_glb_box((2, 2, 2), (0, 0, 1)))
    (tmp_path / "tileset.json").write_text(json.dumps({
        "asset": {"version": "1.0"},
        "geometricError": 100,
        "root": {"boundingVolume": {"region": [lon - d, lat - d, lon + d, lat + d, 0, 100]},
                 "geometricError": 100, "refine": "ADD",
                 "children": [{"transform": _enu_to_ecef_columns(LAT, LON, H),
                               "boundingVolume": {"sphere": [0, 0, 1, 2]}, "geometricError": 0,
                               "content": {"uri": "box.glb"}}]},
    }))
    tileset = read_tileset(tmp_path / "tileset.json")
    assert tileset.georeferenced
    assert tileset.origin_latlon == pytest.approx((LAT, LON), abs=1e-7)
    bounds = tileset.root.bounds
    assert bounds.distance_m(np.array([0.0, 0.0, 50.0])) == 0.0
    assert bounds.distance_m(np.array([0.0, 0.0, 150.0])) == pytest.approx(50.0, abs=0.5)
    sphere = tileset.root.children[0].bounds
    assert sphere.distance_m(np.array([0.0, 0.0, H + 13.0])) == pytest.approx(10.0, abs=1e-3)
    scene = load_tiles(tmp_path / "tileset.json", cameras=None)
    lo, hi = _extent(scene.meshes[0])
    np.testing.assert_allclose((lo + hi) / 2, [0.0, 0.0, H + 1.0], atol=0.01)


def test_child_pointing_outside_folder_refused(tmp_path):
    folder = tmp_path / "set"
    (tmp_path / "outside.glb").write_bytes(_glb_box((1, 1, 1), (0, 0, 0)))
    with pytest.raises(SceneError, match="outside"):
        read_tileset(_write_tileset(folder, child_uri="../outside.glb"))
    with pytest.raises(SceneError, match="outside"):
        read_tileset(_write_tileset(folder, child_uri="/etc/passwd"))


def test_b3dm_round_trip_and_bad_lengths(tmp_path):
    glb = _glb_box((1, 1, 1), (0, 0, 0))
    blob = write_b3dm(glb, {"BATCH_LENGTH": 0, "RTC_CENTER": [1.0, 2.0, 3.0]}, {"name": ["a"]})
    assert len(blob) % 8 == 0
    out_glb, table, rtc = parse_b3dm(blob, "t.b3dm")
    assert out_glb == glb
    assert table["BATCH_LENGTH"] == 0 and rtc.tolist() == [1.0, 2.0, 3.0]

    bad_total = bytearray(blob)
    struct.pack_into("<I", bad_total, 8, len(blob) + 8)
    with pytest.raises(SceneError, match="byteLength"):
        parse_b3dm(bytes(bad_total), "t.b3dm")
    bad_table = bytearray(blob)
    ft_len = struct.unpack_from("<I", blob, 12)[0]
    struct.pack_into("<I", bad_table, 12, ft_len + 8)
    with pytest.raises(SceneError, match="do not add up"):
        parse_b3dm(bytes(bad_table), "t.b3dm")
    with pytest.raises(SceneError, match="magic"):
        parse_b3dm(b"i3dm" + blob[4:], "t.b3dm")
    with pytest.raises(SceneError, match="shorter"):
        parse_b3dm(blob[:20], "t.b3dm")
    # through the loader, naming the file
    path = _write_tileset(tmp_path)
    (tmp_path / "root.b3dm").write_bytes(bytes(bad_table))
    with pytest.raises(SceneError, match="root.b3dm"):
        load_tiles(path, cameras=FAR)


def test_bad_tilesets_named(tmp_path):
    path = tmp_path / "tileset.json"
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "root": {}}))
    with pytest.raises(SceneError, match="asset.version"):
        read_tileset(path)
    path.write_text(json.dumps({"asset": {"version": "1.0"}, "geometricError": 1, "root": {
        "boundingVolume": _box_volume(0, 0, 0, 1, 1, 1), "geometricError": 1, "refine": "SOMETIMES"}}))
    with pytest.raises(SceneError, match="refine"):
        read_tileset(path)
    path.write_text("{not json")
    with pytest.raises(SceneError, match="malformed"):
        read_tileset(path)
    with pytest.raises(SceneError, match="max_tiles"):
        read_tileset(_write_tileset(tmp_path / "big"), max_tiles=2)
